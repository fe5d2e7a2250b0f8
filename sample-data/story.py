"""Who works on the two fictional repositories and what they work on: the people, the pull
requests (branch, title), and per-repository settings. Used by ``generate.py``."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from workflows import NOW, Repo


def node_id(kind: int, *ids: int) -> str:
    """A GitHub-style (msgpack + base64url) node id payload."""
    raw = bytes([0x90 + len(ids) + 1, kind])
    for value in ids:
        if value < 2**32:
            raw += b"\xce" + value.to_bytes(4, "big")
        else:
            raw += b"\xcf" + value.to_bytes(8, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# -- people and repositories -----------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    name: str
    login: str
    uid: int
    kind: str = "User"

    @property
    def email(self) -> str:
        if self.kind == "Bot":
            return f"{self.uid}+{self.login}@users.noreply.github.com"
        return f"{self.name.lower().replace(' ', '.')}@acme.example"

    def api(self) -> dict[str, Any]:
        prefix = "BOT" if self.kind == "Bot" else "U"
        return {
            "login": self.login,
            "id": self.uid,
            "node_id": f"{prefix}_{node_id(0, self.uid)}",
            "type": self.kind,
            "site_admin": False,
        }


DEPENDABOT = Person("dependabot[bot]", "dependabot[bot]", 49699333, "Bot")
GITHUB_COMMITTER = {"name": "GitHub", "email": "noreply@github.com"}
ORG_ID = 98_123_456

STOREFRONT_DEVS = (
    Person("Maya Chen", "maya-chen", 51_022_381),
    Person("Jonas Weber", "jweber-acme", 38_114_902),
    Person("Priya Raman", "praman", 77_203_144),
    Person("Tom Okafor", "tomokafor", 60_917_245),
    Person("Lucia Fernandez", "lucia-fdz", 89_330_517),
)
PAYMENTS_DEVS = (
    Person("Sven Lindqvist", "svenlq", 44_801_236),
    Person("Aisha Bello", "aisha-bello", 71_560_093),
    Person("Kenji Watanabe", "kwatanabe", 58_442_710),
    Person("Rosa Delgado", "rdelgado-acme", 93_118_402),
)

STOREFRONT_PRS = (
    ("feat/cart-totals", "Show cart totals with tax and shipping"),
    ("fix/checkout-rounding", "Fix rounding of discounted line items at checkout"),
    ("feat/wishlist-sharing", "Share wishlists by link"),
    ("fix/session-timeout", "Extend session timeout during checkout"),
    ("feat/product-search-facets", "Add brand and price facets to product search"),
    ("refactor/order-service", "Split OrderService into pricing and fulfilment"),
    ("feat/gift-cards", "Gift card redemption"),
    ("fix/tax-calculation-eu", "Use destination country VAT rates for EU orders"),
    ("feat/recently-viewed", "Recently viewed products carousel"),
    ("fix/image-lazy-load", "Lazy-load product images below the fold"),
    ("feat/promo-codes", "Promo codes with usage limits"),
    ("perf/catalog-query", "Prefetch variants in the catalog listing query"),
    ("fix/csrf-on-login", "Fix CSRF failure on the login modal"),
    ("feat/address-autocomplete", "Address autocomplete in the shipping form"),
    ("test/flaky-cart-e2e", "Stabilise the cart e2e spec"),
    ("feat/guest-checkout", "Guest checkout"),
    ("fix/currency-format", "Format prices with the shopper's locale"),
    ("feat/order-history-export", "Export order history as CSV"),
    ("chore/upgrade-vite-5", "Upgrade the frontend build to Vite 5"),
    ("fix/mobile-nav", "Fix the mobile navigation drawer on iOS"),
    ("feat/inventory-badges", "Low-stock badges on product cards"),
    ("fix/n-plus-one-orders", "Remove N+1 queries on the orders page"),
    ("feat/returns-portal", "Self-service returns portal"),
    ("fix/email-templates", "Fix broken links in order emails"),
    ("feat/stripe-webhooks", "Handle Stripe refund webhooks"),
    ("chore/ruff-0-7", "Bump ruff and fix new lints"),
    ("fix/search-pagination", "Keep filters when paging search results"),
    ("feat/loyalty-points", "Loyalty points on completed orders"),
    ("feat/saved-addresses", "Saved addresses in the account page"),
    ("fix/stock-race", "Lock stock rows when reserving inventory"),
    ("feat/product-reviews", "Product reviews with moderation"),
    ("docs/api-readme", "Document the storefront API"),
    ("feat/bundle-discounts", "Bundle discounts in the cart"),
    ("fix/oauth-redirect", "Fix the OAuth redirect after social login"),
)
STOREFRONT_BOTS = (
    ("dependabot/pip/django-5.1.3", "Bump django from 5.1.2 to 5.1.3"),
    ("dependabot/npm_and_yarn/frontend/vite-5.4.10", "Bump vite from 5.4.9 to 5.4.10 in /frontend"),
    ("dependabot/pip/pytest-8.3.3", "Bump pytest from 8.3.2 to 8.3.3"),
    ("dependabot/github_actions/codecov/codecov-action-4.6.0", "Bump codecov/codecov-action"),
)
PAYMENTS_PRS = (
    ("feat/refund-api", "Partial refunds endpoint"),
    ("fix/idempotency-race", "Fix a race on idempotency keys under retries"),
    ("feat/kafka-outbox", "Transactional outbox for payment events"),
    ("fix/decimal-scale", "Keep scale when summing settlement amounts"),
    ("feat/3ds-challenge", "3-D Secure challenge flow"),
    ("refactor/ledger-repo", "Move ledger queries behind a repository"),
    ("feat/webhook-signing", "Sign outgoing webhooks"),
    ("fix/retry-backoff", "Jitter the PSP retry backoff"),
    ("feat/payout-batches", "Batch payouts per merchant"),
    ("fix/timezone-cutoff", "Use merchant timezone for the settlement cutoff"),
    ("perf/ledger-index", "Add a covering index for ledger lookups"),
    ("feat/currency-conversion", "FX conversion with locked rates"),
    ("fix/chart-probes", "Tune readiness probes in the Helm chart"),
    ("feat/dispute-events", "Consume dispute events from the PSP"),
    ("chore/go-1-23", "Build with Go 1.23"),
    ("fix/kafka-rebalance", "Commit offsets before a consumer rebalance"),
    ("feat/merchant-limits", "Per-merchant daily limits"),
    ("fix/pg-pool-exhaustion", "Bound the Postgres pool per pod"),
    ("feat/audit-log", "Append-only audit log"),
    ("test/e2e-refunds", "E2E coverage for refunds"),
    ("fix/metrics-labels", "Drop high-cardinality metric labels"),
    ("feat/apple-pay", "Apple Pay tokens"),
    ("fix/graceful-shutdown", "Drain in-flight requests on SIGTERM"),
    ("feat/reconciliation-job", "Daily reconciliation against PSP reports"),
    ("chore/golangci-1-61", "Bump golangci-lint to v1.61"),
    ("fix/duplicate-captures", "Reject duplicate captures"),
    ("feat/saga-timeouts", "Timeouts for payment sagas"),
    ("fix/helm-values", "Split Helm values per environment"),
    ("feat/sepa-mandates", "SEPA direct debit mandates"),
    ("fix/ledger-rounding", "Banker's rounding in ledger postings"),
)
PAYMENTS_BOTS = (
    ("dependabot/go_modules/github.com/segmentio/kafka-go-0.4.47", "Bump kafka-go to 0.4.47"),
    ("dependabot/go_modules/github.com/jackc/pgx/v5-5.7.1", "Bump github.com/jackc/pgx/v5"),
    ("dependabot/docker/golang-1.23.3-alpine", "Bump golang from 1.23.2-alpine to 1.23.3-alpine"),
    ("dependabot/github_actions/docker/login-action-3.3.0", "Bump docker/login-action"),
)
FOLLOW_UPS = (
    "Address review comments",
    "Fix failing test",
    "Add tests",
    "Fix lint",
    "Handle the empty case",
    "Apply suggestions from code review",
    "Rename helper",
    "Simplify error handling",
    "Update docs",
    "WIP",
    "Fix type errors",
    "Split into smaller functions",
)
QUICK_FIXES = ("Fix typo", "Add missing file", "oops", "Fix import")


@dataclass(frozen=True)
class RepoCfg:
    repo: Repo
    devs: tuple[Person, ...]
    prs: tuple[tuple[str, str], ...]
    bots: tuple[tuple[str, str], ...]
    first_pr: int
    run_numbers: dict[str, int]
    workflow_ids: dict[str, int]
    injected_pr: tuple[str, str]
    injected_pr_at: int
    injected_merge_at: int
    nightly_owner: Person | None = None


REPOS = (
    RepoCfg(
        repo=Repo("acme", "storefront", 734_125_981, step_tz="America/Los_Angeles"),
        devs=STOREFRONT_DEVS,
        prs=STOREFRONT_PRS,
        bots=STOREFRONT_BOTS,
        first_pr=388,
        run_numbers={"ci.yml": 2841, "e2e.yml": 1203},
        workflow_ids={"ci.yml": 71_234_567, "e2e.yml": 71_234_890},
        injected_pr=("feat/saved-carts", "Persist carts across devices"),
        injected_pr_at=NOW - 2 * 60 - 31,
        injected_merge_at=NOW - 20,
    ),
    RepoCfg(
        repo=Repo("acme", "payments-api", 734_126_410, step_tz="UTC"),
        devs=PAYMENTS_DEVS,
        prs=PAYMENTS_PRS,
        bots=PAYMENTS_BOTS,
        first_pr=151,
        run_numbers={"ci.yml": 1577, "nightly.yml": 389},
        workflow_ids={"ci.yml": 82_345_121, "nightly.yml": 82_345_544},
        injected_pr=("fix/idempotency-key-ttl", "Expire idempotency keys after 24h"),
        injected_pr_at=NOW - 6 * 60 - 40,
        injected_merge_at=NOW - 95,
        nightly_owner=PAYMENTS_DEVS[0],
    ),
)
