"""The mirrord side of a migration: the ``.mirrord/*.json`` config and the pinned install.

Key names are mirrord's own (``mirrord-schema.json``, CLI 3.250.0): ``target.path`` /
``target.namespace``, ``feature.network.incoming`` in ``steal`` mode with an
``http_filter.header_filter`` on the session key and the same ``ports`` in ``incoming`` and in
``http_filter`` (with a filter but no ``http_filter.ports`` mirrord would steal other ports
unfiltered). The key itself never appears in a file: ``{{ key }}`` is rendered by mirrord from
``MIRRORD_KEY``, which the job sets from its run id. No comments: mirrord parses JSON strictly.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ci_profile.migrate.model import Target

# Pinned: `mirrord ci start/stop` need >= 3.181.0 (concurrent sessions in one job).
MIRRORD_VERSION = "3.250.0"
INSTALL_URL = "https://raw.githubusercontent.com/metalbear-co/mirrord/main/scripts/install.sh"
INSTALL_COMMAND = f"curl -fsSL {INSTALL_URL} | VERSION={MIRRORD_VERSION} bash"
HEADER_FILTER = "^baggage: .*mirrord-session={{ key }}.*$"
KUBECONFIG_SECRET = "KUBECONFIG_DATA"
CONFIG_DIR = ".mirrord"


def config_name(pipeline_file: str, job: str) -> str:
    """``.mirrord/<workflow>-<job>.json``: one per migrated job, unique within a repository."""
    stem = pipeline_file.rsplit("/", 1)[-1]
    stem = re.sub(r"(\.gitlab-ci)?\.ya?ml$", "", stem).lstrip(".") or "gitlab"
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", f"{stem}-{job}").strip("-").lower()
    return f"{CONFIG_DIR}/{slug}.json"


def script_name(config_file: str) -> str:
    """The start script next to a config: ``.mirrord/ci-e2e.json`` -> ``.mirrord/ci-e2e.sh``."""
    return config_file.removesuffix(".json") + ".sh"


def start_script(job: str, config_file: str) -> str:
    """What ``mirrord ci start`` runs: how the service starts on the runner. Only the team knows
    (the removed environment ran it as an image), so it fails, saying so, until it is written."""
    return (
        "#!/bin/sh\n"
        f"# How job `{job}` starts the service under test on the CI runner; mirrord runs it\n"
        f"# (`mirrord ci start -f {config_file}`) with the target's network, env and files.\n"
        "# Replace the two lines below with the command, e.g. `exec go run ./cmd/server`.\n"
        f'echo "{script_name(config_file)}: write how the service starts" >&2\n'
        "exit 1\n"
    )


def config(target: Target) -> dict[str, Any]:
    return {
        "target": {"path": target.workload, "namespace": target.namespace},
        "feature": {
            "network": {
                "incoming": {
                    "mode": "steal",
                    "ports": [target.port],
                    "http_filter": {"header_filter": HEADER_FILTER, "ports": [target.port]},
                },
                "outgoing": True,
                "dns": True,
            },
            "env": True,
            "fs": "read",
        },
    }


def config_text(target: Target) -> str:
    return json.dumps(config(target), indent=2) + "\n"


_DB_TYPES = (
    ("postgres", "pg"),
    ("postgis", "pg"),
    ("mysql", "mysql"),
    ("mariadb", "mariadb"),
    ("mongo", "mongodb"),
    ("redis", "redis"),
    ("valkey", "redis"),
    ("mssql", "mssql"),
    ("cockroach", "cockroachdb"),
    ("clickhouse", "clickhouse"),
)


def db_branch(image: str, url_variable: str | None) -> dict[str, Any] | None:
    """A ``feature.db_branches`` entry for a removed database container (needs the Operator)."""
    name = image.strip().rsplit("/", 1)[-1]
    base, _, tag = name.partition(":")
    kind = next((t for prefix, t in _DB_TYPES if base.startswith(prefix)), None)
    if kind is None:
        return None
    entry: dict[str, Any] = {"type": kind}
    version = re.match(r"\d+(\.\d+)?", tag)
    if version:
        entry["version"] = version.group(0)
    default_url = "REDIS_URL" if kind == "redis" else "DATABASE_URL"
    entry["connection"] = {"url": url_variable or default_url}
    if kind != "redis":
        entry["copy"] = {"mode": "schema"}
    return entry


def db_branch_from_chart(chart: str) -> dict[str, Any] | None:
    """``bitnami/postgresql`` installed by helm into the throwaway cluster."""
    return db_branch(chart.rsplit("/", 1)[-1].replace("postgresql", "postgres"), None)
