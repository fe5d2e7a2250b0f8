"""Signatures of environment building and of its look-alikes, over commands and action names.

Pure functions over text. A command is matched line by line with shell comments removed, so a
commented-out ``# kind create cluster`` is not provisioning. The signature lists follow the
patterns seen in real pipelines (kind, minikube, k3d/k3s, helm, kubectl, skaffold, tilt,
docker compose, database containers).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Pattern names, as reported in findings.
KIND = "kind"
MINIKUBE = "minikube"
K3D = "k3d/k3s"
HELM = "helm"
KUBECTL = "kubectl apply/wait"
SKAFFOLD = "skaffold"
TILT = "tilt"
COMPOSE = "docker compose"
SERVICES = "services"
DATABASE = "database container"
WAIT = "wait-for-ready"
HELM_REPO = "helm repo"

# Removed with an environment, but no environment on their own.
AUXILIARY = frozenset({WAIT, HELM_REPO})
# Environments a job builds for itself (a deploy without one goes to a cluster that exists).
THROWAWAY = frozenset({KIND, MINIKUBE, K3D, COMPOSE, SERVICES, DATABASE})

CLUSTER_PATTERNS = frozenset({KIND, MINIKUBE, K3D})

_ACTIONS: tuple[tuple[str, str], ...] = (
    (r"^helm/kind-action@", KIND),
    (r"^engineerd/setup-kind@", KIND),
    (r"^container-tools/kind-action@", KIND),
    (r"^medyagh/setup-minikube@", MINIKUBE),
    (r"^manusa/actions-setup-minikube@", MINIKUBE),
    (r"^absaoss/k3d-action@", K3D),
    (r"^nolar/setup-k3d-k3s@", K3D),
    (r"^hoverkraft-tech/compose-action@", COMPOSE),
    (r"^isbang/compose-action@", COMPOSE),
)

_COMMANDS: tuple[tuple[str, str], ...] = (
    (r"\bkind\s+(create|delete)\s+cluster\b|\bkind\s+load\b", KIND),
    (r"^\s*kind:\s*Cluster\b", KIND),  # a kind config written by a heredoc
    (r"\bminikube\s+(start|delete|stop|image\s+load|docker-env)\b", MINIKUBE),
    (r"\bk3d\s+(cluster|image)\s+(create|delete|import)\b|get\.k3s\.io", K3D),
    (r"\bhelm\s+(upgrade\b.*(--install|\s-i\b)|install\b|uninstall\b|delete\b)", HELM),
    (r"\bhelm\s+repo\s+add\b", HELM_REPO),
    (r"\bkubectl\s+(apply|wait|rollout\s+status|create\s+(ns|namespace)\b)", KUBECTL),
    (r"\bskaffold\s+(run|deploy|dev|delete)\b", SKAFFOLD),
    (r"\btilt\s+(ci|up|down)\b", TILT),
    (r"\bdocker[\s-]compose\b.*\b(up|down|build|start|stop|pull|rm)\b", COMPOSE),
    (r"\bwait-for-it\b|\bdockerize\b.*-wait\b|\bwait-on\s+(tcp|http)", WAIT),
)

_DATABASE_IMAGES = re.compile(
    r"(^|/)(postgres|postgis|mysql|mariadb|mongo|mongodb|redis|valkey|memcached|"
    r"elasticsearch|opensearch|rabbitmq|kafka|zookeeper|localstack|minio|cassandra|"
    r"mssql|cockroach|clickhouse|nats)([:@]|$|-)",
    re.IGNORECASE,
)
_DOCKER_RUN_DB = re.compile(r"\bdocker\s+run\b.*\b(postgres|mysql|mariadb|mongo|redis)\b")

# Look-alikes: the cluster (or chart, or operator) is what is being tested.
_CLUSTER_UNDER_TEST = (
    (r"^helm/chart-testing-action@", "Helm chart testing (chart-testing action)"),
    (r"\bct\s+(install|lint|lint-and-install)\b", "Helm chart testing (`ct`)"),
    (r"\bhelm\s+(lint|unittest|test)\b", "Helm chart tests (`helm lint`/`helm test`)"),
    (r"\boperator-sdk\b", "an operator test (`operator-sdk`)"),
    (r"\bkubectl(-)?\s*kuttl\b|\bkuttl\s+test\b", "a kuttl test of the cluster"),
    (r"\bchainsaw\s+test\b", "a chainsaw test of the cluster"),
    (r"\bkubectl\s+apply\b.*\bcrds?\b|config/crd\b", "CRDs installed into the test cluster"),
    (r"\bcontroller-gen\b|\bsetup-envtest\b|\benvtest\b", "a controller test (envtest)"),
    (r"\bterratest\b", "a terratest suite of the cluster"),
)
_HELM_PACKAGE = re.compile(r"\bhelm\s+(package|push)\b|\bhelm\s+cm-push\b")
_LOAD_TEST = re.compile(r"\b(soak|load[-_ ]?test|k6\s+run|locust|vegeta|benchmark)\b", re.I)
_CLUSTER_CREDENTIALS = (
    (r"\$\{\{\s*secrets\.[A-Z0-9_]*KUBE[A-Z0-9_]*\s*\}\}", "a kubeconfig from a secret"),
    (r"^azure/k8s-set-context@", "Azure/k8s-set-context"),
    (r"^google-github-actions/get-gke-credentials@", "get-gke-credentials"),
    (r"\bgcloud\s+container\s+clusters\s+get-credentials\b", "gcloud get-credentials"),
    (r"\baws\s+eks\s+update-kubeconfig\b", "aws eks update-kubeconfig"),
    (r"\bKUBE_CONFIG\b|\bKUBECONFIG_DATA\b", "a kubeconfig from a secret"),
)
_TESTS_INSIDE = re.compile(
    r"\bdocker[\s-]compose\b.*\s(run|exec)\s|\bkubectl\s+(exec|run)\b|\bminikube\s+ssh\b"
)
_HIDDEN = re.compile(
    r"^\s*(?:sudo\s+)?(?:make|task|just)\s+(?:-\S+\s+)*([A-Za-z0-9_.:/-]+)"
    r"|^\s*(?:bash\s+|sh\s+)?(\.{0,2}/?[\w./-]*\.sh)\b"
)
_ENV_HINT = re.compile(r"e2e|integration|kind|k3d|k3s|minikube|cluster|compose|k8s|stack|env", re.I)
# Steps a migration keeps before the session starts (checkout, toolchains, installs), and
# commands that run tests.
SETUP_ACTION = re.compile(
    r"^(actions/(checkout|setup-\w+|cache)|docker/(setup-\w+-action|login-action)|"
    r"[\w.-]+/setup-[\w.-]+)@",
    re.I,
)
SETUP_COMMAND = re.compile(
    r"^\s*(pip3?|python3? -m pip|poetry|uv|npm|yarn|pnpm|npx playwright|go|bundle|gem|"
    r"composer|cargo|apt-get|sudo apt-get|corepack)\b.*\b(install|ci|download|sync|fetch)\b"
)
TEST_COMMAND = re.compile(
    r"\b(pytest|go test|npm (run )?test|jest|mvn|gradle|playwright test|cargo test|"
    r"make test|tox|nox|rspec|phpunit|dotnet test)\b"
)
_DEPENDENCY_PORTS = frozenset({5432, 3306, 6379, 9092, 27017, 5672, 11211, 9200, 2181})
_DOCKER_BUILD_ONLY = re.compile(r"^\s*docker\s+(build|push|login|tag|buildx|manifest|pull)\b")


def strip_comment(line: str) -> str:
    """A shell line without its ``#`` comment (naively: a ``#`` after whitespace)."""
    if line.lstrip().startswith("#"):
        return ""
    return re.split(r"\s#", line, maxsplit=1)[0]


def _lines(text: str) -> list[str]:
    return [stripped for line in text.splitlines() if (stripped := strip_comment(line)).strip()]


def action_patterns(uses: str) -> set[str]:
    found = {name for pattern, name in _ACTIONS if re.search(pattern, uses.strip(), re.I)}
    return found


def command_patterns(text: str) -> set[str]:
    found: set[str] = set()
    for line in _lines(text):
        for pattern, name in _COMMANDS:
            if re.search(pattern, line):
                found.add(name)
        if _DOCKER_RUN_DB.search(line):
            found.add(DATABASE)
    return found


def is_database_image(image: str) -> bool:
    return bool(_DATABASE_IMAGES.search(image.strip()))


def is_dind(image: str) -> bool:
    return bool(re.search(r"(^|/)docker:[^ ]*dind", image.strip()))


def cluster_under_test(texts: Iterable[str], uses: Iterable[str]) -> str | None:
    """Why the cluster itself is the subject of the job, if it is."""
    for name in uses:
        for pattern, reason in _CLUSTER_UNDER_TEST:
            if pattern.startswith("^") and re.search(pattern, name.strip(), re.I):
                return reason
    for text in texts:
        for line in _lines(text):
            for pattern, reason in _CLUSTER_UNDER_TEST:
                if not pattern.startswith("^") and re.search(pattern, line):
                    return reason
    return None


def packages_chart(texts: Iterable[str]) -> bool:
    return any(_HELM_PACKAGE.search(line) for text in texts for line in _lines(text))


def load_test(texts: Iterable[str]) -> bool:
    return any(_LOAD_TEST.search(line) for text in texts for line in _lines(text))


def cluster_credentials(texts: Iterable[str], uses: Iterable[str]) -> str | None:
    """How a job reaches an existing (long-lived) cluster, if it visibly does."""
    for name in uses:
        for pattern, reason in _CLUSTER_CREDENTIALS:
            if pattern.startswith("^") and re.search(pattern, name.strip(), re.I):
                return reason
    for text in texts:
        for pattern, reason in _CLUSTER_CREDENTIALS:
            if not pattern.startswith("^") and re.search(pattern, text):
                return reason
    return None


def tests_inside_environment(text: str) -> str | None:
    """A command that runs the tests inside the environment (compose run, kubectl exec)."""
    for line in _lines(text):
        if _TESTS_INSIDE.search(line):
            return line.strip()
    return None


def hidden_provisioning(text: str) -> str | None:
    """A make target or script whose name suggests it builds an environment."""
    for line in _lines(text):
        match = _HIDDEN.match(line)
        if match:
            name = match.group(1) or match.group(2)
            if name and _ENV_HINT.search(name):
                return line.strip()
    return None


def only_builds_images(text: str) -> bool:
    lines = _lines(text)
    docker = [line for line in lines if re.match(r"^\s*docker\b", line)]
    return bool(docker) and all(_DOCKER_BUILD_ONLY.match(line) for line in docker)


def mirrord_session(text: str) -> bool:
    return any(re.search(r"\bmirrord\s+ci\s+start\b", line) for line in _lines(text))


def helm_release_of_local_chart(text: str) -> str | None:
    """``helm upgrade --install payments ./deploy/chart`` -> ``payments`` (the app's own chart)."""
    for line in _lines(text):
        match = re.search(
            r"\bhelm\s+(?:upgrade\s+(?:--install|-i)|install)\s+(\S+)\s+(\.\S*)", line
        )
        if match and "$" not in match.group(1):
            return match.group(1)
    return None


def waited_deployment(text: str) -> str | None:
    for line in _lines(text):
        match = re.search(
            r"\bkubectl\b.*\b(?:wait|rollout\s+status)\b.*\bdeploy(?:ment)?/([\w-]+)", line
        )
        if match:
            return match.group(1)
    return None


def local_port(texts: Iterable[str]) -> int | None:
    """The port tests reach the app on (``http://localhost:8080``, ``localhost:8000``)."""
    for text in texts:
        for match in re.finditer(r"(?:localhost|127\.0\.0\.1):(\d{2,5})\b", text):
            if int(match.group(1)) not in _DEPENDENCY_PORTS:
                return int(match.group(1))
    return None
