"""Publishing a plan: a branch with one commit of the changed files, and a PR (PyGithub) or MR
(python-gitlab). The only module that talks to them.

Everything that can be checked is checked before the first write: the project exists, the
token may push, the base branch exists, the branch is not the default branch and does not
exist yet (unless ``force_branch``). If a write fails after the branch was created, the branch
is deleted again, so a failed publish leaves the remote as it was. The token is passed to the
client and never put into a message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import github
import gitlab
import gitlab.exceptions
import requests
from ci_profile.core.config import Secret
from ci_profile.core.errors import PublishError
from ci_profile.migrate.model import FileChange

T = TypeVar("T")
_DEVELOPER = 30  # GitLab access level that may push to unprotected branches


@dataclass(frozen=True, slots=True)
class Proposal:
    branch: str
    base: str | None  # None: the default branch
    title: str
    body: str
    message: str
    changes: tuple[FileChange, ...]
    draft: bool = False
    force_branch: bool = False


def _check_branch_name(name: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9._/-]+", name) or ".." in name or name.endswith((".", "/")):
        raise PublishError(f"not a usable branch name: {name!r}")


def _github_error(exc: github.GithubException, doing: str, scrub: Secret | None) -> NoReturn:
    data = exc.data if isinstance(exc.data, dict) else {}
    message = str(data.get("message") or exc.message or "no message")
    if scrub is not None:
        message = message.replace(scrub.reveal(), "***")
    hints = {
        401: "the token is invalid or expired",
        403: "the token lacks write access (needs contents: write and pull requests: write)",
        404: "not found, or not visible to this token",
    }
    hint = hints.get(exc.status, "")
    raise PublishError(
        f"GitHub refused to {doing}: HTTP {exc.status} {message}" + (f" ({hint})" if hint else "")
    ) from None


def _gh(call: Callable[[], T], doing: str, token: Secret | None) -> T:
    try:
        return call()
    except github.GithubException as exc:
        _github_error(exc, doing, token)
    except requests.RequestException as exc:
        raise PublishError(f"cannot reach GitHub to {doing} ({type(exc).__name__})") from None


def publish_github(repo_name: str, token: Secret | None, api_url: str, proposal: Proposal) -> str:
    """Create the branch, the commit and the pull request; returns the PR's URL."""
    if token is None:
        raise PublishError("no GITHUB_TOKEN or GH_TOKEN set: a token with write access is needed")
    _check_branch_name(proposal.branch)
    client = github.Github(auth=github.Auth.Token(token.reveal()), base_url=api_url, timeout=30)
    repo = _gh(lambda: client.get_repo(repo_name), f"read {repo_name}", token)
    permissions = _gh(lambda: repo.permissions, f"read {repo_name}", token)
    if permissions is not None and not permissions.push:
        raise PublishError(f"the token cannot push to {repo_name}; nothing was changed")
    default = repo.default_branch
    base = proposal.base or default
    if proposal.branch in (default, base):
        raise PublishError(f"refusing to commit to `{proposal.branch}`: it is the base branch")
    base_branch = _gh(lambda: repo.get_branch(base), f"find base branch `{base}`", token)
    base_sha = base_branch.commit.sha
    exists = _branch_exists_github(repo, proposal.branch, token)
    if exists and not proposal.force_branch:
        raise PublishError(
            f"branch `{proposal.branch}` already exists in {repo_name}; pass --force-branch to "
            "replace it, or --branch NAME"
        )
    for change in proposal.changes:
        _check_unchanged(change, _github_text(repo, change.path, base_sha, token), base)
    base_commit = _gh(lambda: repo.get_git_commit(base_sha), "read the base commit", token)
    elements = [
        github.InputGitTreeElement(change.path, "100644", "blob", content=change.after)
        for change in proposal.changes
    ]
    tree = _gh(lambda: repo.create_git_tree(elements, base_commit.tree), "create the tree", token)
    commit = _gh(
        lambda: repo.create_git_commit(proposal.message, tree, [base_commit]),
        "create the commit",
        token,
    )
    if exists:
        ref = _gh(lambda: repo.get_git_ref(f"heads/{proposal.branch}"), "read the branch", token)
        _gh(lambda: ref.ref, "read the branch", token)
        _gh(lambda: ref.edit(commit.sha, force=True), "move the branch", token)
    else:
        ref = _gh(
            lambda: repo.create_git_ref(f"refs/heads/{proposal.branch}", commit.sha),
            f"create branch `{proposal.branch}`",
            token,
        )
    try:
        pull = _gh(
            lambda: repo.create_pull(
                base=base,
                head=proposal.branch,
                title=proposal.title,
                body=proposal.body,
                draft=proposal.draft,
            ),
            "open the pull request",
            token,
        )
    except PublishError:
        if not exists:
            _gh(ref.delete, f"delete branch `{proposal.branch}` after the failure", token)
        raise
    return str(pull.html_url)


def _check_unchanged(change: FileChange, remote: str | None, base: str) -> None:
    """The plan rewrote the local copy: refuse when the base branch holds something else."""
    if remote != change.before:
        state = "does not exist" if remote is None else "differs from the local copy"
        if change.before is None:
            state = "already exists"
        raise PublishError(f"{change.path} {state} on `{base}`; update the checkout and plan again")


def _github_text(repo: Any, path: str, ref: str, token: Secret | None) -> str | None:
    try:
        content = repo.get_contents(path, ref=ref)
    except github.UnknownObjectException:
        return None
    except github.GithubException as exc:
        _github_error(exc, f"read {path}", token)
    if isinstance(content, list):
        return ""  # a directory: never what the plan wrote
    return str(content.decoded_content.decode("utf-8", errors="replace"))


def _branch_exists_github(repo: Any, branch: str, token: Secret | None) -> bool:
    try:
        repo.get_branch(branch)
    except github.UnknownObjectException:
        return False
    except github.GithubException as exc:
        _github_error(exc, f"look up branch `{branch}`", token)
    return True


def _gitlab_error(exc: gitlab.exceptions.GitlabError, doing: str, scrub: Secret) -> NoReturn:
    message = str(exc.error_message or "no message").replace(scrub.reveal(), "***")
    hints = {
        401: "the token is invalid or expired",
        403: "the token lacks write access (needs the api scope and Developer role)",
        404: "not found, or not visible to this token",
    }
    code = exc.response_code
    hint = hints.get(code or 0, "")
    raise PublishError(
        f"GitLab refused to {doing}: HTTP {code} {message}" + (f" ({hint})" if hint else "")
    ) from None


def _gl(call: Callable[[], T], doing: str, token: Secret) -> T:
    try:
        return call()
    except gitlab.exceptions.GitlabError as exc:
        _gitlab_error(exc, doing, token)
    except requests.RequestException as exc:
        raise PublishError(f"cannot reach GitLab to {doing} ({type(exc).__name__})") from None


def _access_level(permissions: Any) -> int:
    levels = [0]
    if isinstance(permissions, dict):
        for scope in ("project_access", "group_access"):
            entry = permissions.get(scope)
            if isinstance(entry, dict) and isinstance(entry.get("access_level"), int):
                levels.append(entry["access_level"])
    return max(levels)


def _gitlab_text(project: Any, path: str, ref: str, token: Secret) -> str | None:
    try:
        file = project.files.get(file_path=path, ref=ref)
    except gitlab.exceptions.GitlabGetError as exc:
        if exc.response_code == 404:
            return None
        _gitlab_error(exc, f"read {path}", token)
    return bytes(file.decode()).decode("utf-8", errors="replace")


def publish_gitlab(project_path: str, token: Secret | None, url: str, proposal: Proposal) -> str:
    """Create the branch with one commit, and the merge request; returns the MR's URL."""
    if token is None:
        raise PublishError("no GITLAB_TOKEN set: a token with the api scope is needed")
    _check_branch_name(proposal.branch)
    client = gitlab.Gitlab(url, private_token=token.reveal(), timeout=30)
    project = _gl(lambda: client.projects.get(project_path), f"read {project_path}", token)
    if _access_level(getattr(project, "permissions", None)) < _DEVELOPER:
        raise PublishError(
            f"the token cannot push to {project_path} (needs the Developer role); "
            "nothing was changed"
        )
    default = str(project.default_branch)
    base = proposal.base or default
    if proposal.branch in (default, base):
        raise PublishError(f"refusing to commit to `{proposal.branch}`: it is the base branch")
    _gl(lambda: project.branches.get(base), f"find base branch `{base}`", token)
    try:
        project.branches.get(proposal.branch)
        exists = True
    except gitlab.exceptions.GitlabGetError as exc:
        if exc.response_code != 404:
            _gitlab_error(exc, f"look up branch `{proposal.branch}`", token)
        exists = False
    if exists and not proposal.force_branch:
        raise PublishError(
            f"branch `{proposal.branch}` already exists in {project_path}; pass --force-branch "
            "to replace it, or --branch NAME"
        )
    for change in proposal.changes:
        _check_unchanged(change, _gitlab_text(project, change.path, base, token), base)
    if exists:
        _gl(lambda: project.branches.delete(proposal.branch), "replace the branch", token)
    actions = [
        {
            "action": "create" if change.before is None else "update",
            "file_path": change.path,
            "content": change.after,
        }
        for change in proposal.changes
    ]
    _gl(
        lambda: project.commits.create(
            {
                "branch": proposal.branch,
                "start_branch": base,
                "commit_message": proposal.message,
                "actions": actions,
            }
        ),
        f"commit to branch `{proposal.branch}`",
        token,
    )
    title = f"Draft: {proposal.title}" if proposal.draft else proposal.title
    try:
        request = _gl(
            lambda: project.mergerequests.create(
                {
                    "source_branch": proposal.branch,
                    "target_branch": base,
                    "title": title,
                    "description": proposal.body,
                    "remove_source_branch": True,
                }
            ),
            "open the merge request",
            token,
        )
    except PublishError:
        _gl(
            lambda: project.branches.delete(proposal.branch),
            f"delete branch `{proposal.branch}` after the failure",
            token,
        )
        raise
    return str(request.web_url)
