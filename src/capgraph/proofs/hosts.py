"""Shared hosts, whose domain proves nothing about who owns an artifact on them, and the
repository URLs of the two the repository method covers (GitHub and Hugging Face).

On a shared host anyone can publish under the host's name, so a file at its ``/.well-known/``
or a TXT record of its domain would be the host's, not the builder's: the registry refuses
http and dns proofs for those and asks for the repository method, where the proof is a file in
the builder's own repository.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

__all__ = [
    "DEFAULT_RAW_TEMPLATES",
    "SHARED_HOSTS",
    "RepositoryRef",
    "host_of",
    "is_shared_host",
    "raw_url",
    "repository_ref",
]

SHARED_HOSTS = frozenset({
    "github.com", "githubusercontent.com", "gitlab.com", "huggingface.co", "hf.co",
    "pypi.org", "pythonhosted.org", "npmjs.com", "www.npmjs.com", "npmjs.org",
    "hub.docker.com", "docker.io",
})

# Raw-file URLs of a repository's default branch. Placeholders: {owner}, {repo}, {path}
# ("owner/repo", or "spaces/owner/repo" and "datasets/owner/repo" on Hugging Face) and {kind}
# ("repository" on GitHub; "model", "space" or "dataset" on Hugging Face).
DEFAULT_RAW_TEMPLATES = {
    "github.com": "https://raw.githubusercontent.com/{owner}/{repo}/HEAD/unfragile.yml",
    "huggingface.co": "https://huggingface.co/{path}/raw/main/unfragile.yml",
}

_ALIASES = {"www.github.com": "github.com", "www.huggingface.co": "huggingface.co",
            "hf.co": "huggingface.co"}
_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
_GITHUB_PAGES = frozenset({
    "about", "apps", "collections", "customer-stories", "enterprise", "explore", "features",
    "issues", "join", "login", "marketplace", "new", "notifications", "organizations", "orgs",
    "pricing", "pulls", "search", "security", "settings", "site", "sponsors", "topics",
    "trending", "users",
})
_HF_PAGES = frozenset({
    "api", "blog", "changelog", "chat", "collections", "docs", "enterprise", "join", "learn",
    "login", "models", "new", "new-dataset", "new-space", "organizations", "papers", "posts",
    "pricing", "privacy", "search", "settings", "tasks", "terms-of-service",
})
_HF_KINDS = {"spaces": "space", "datasets": "dataset"}


def host_of(url: str) -> str:
    """The lower-case host name of ``url`` (a bare "host/path" counts as https), or ""."""
    text = url.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        return httpx.URL(text).host.lower().rstrip(".")
    except (httpx.InvalidURL, TypeError, ValueError):
        return ""


def is_shared_host(url: str) -> bool:
    """Whether ``url`` is on a shared host (GitHub, GitLab, Hugging Face, PyPI, npm, Docker
    Hub) or one of its subdomains (``raw.githubusercontent.com``), where the domain proves
    nothing about an artifact's owner."""
    host = host_of(url)
    return bool(host) and any(host == shared or host.endswith("." + shared)
                              for shared in SHARED_HOSTS)


@dataclass(frozen=True)
class RepositoryRef:
    """A repository on GitHub or Hugging Face."""

    host: str  # "github.com" | "huggingface.co"
    kind: str  # "repository" (GitHub) | "model" | "space" | "dataset"
    owner: str
    repo: str

    @property
    def path(self) -> str:
        """``owner/repo``, with ``spaces/`` or ``datasets/`` before it on Hugging Face."""
        prefix = {"space": "spaces/", "dataset": "datasets/"}.get(self.kind, "")
        return f"{prefix}{self.owner}/{self.repo}"


def repository_ref(url: str) -> RepositoryRef | str:
    """The repository ``url`` names, or a sentence saying why it names none."""
    host = host_of(url)
    host = _ALIASES.get(host, host)
    if host not in DEFAULT_RAW_TEMPLATES:
        if is_shared_host(url):
            return (f"{host} is a shared host the repository method does not cover "
                    "(only github.com and huggingface.co repositories)")
        return f"{host or url!r} is not github.com or huggingface.co"
    text = url.strip() if "://" in url else "https://" + url.strip()
    parts = [part for part in httpx.URL(text).path.split("/") if part]
    kind = "repository"
    if host == "huggingface.co":
        kind = "model"
        if parts and parts[0] in _HF_KINDS:
            kind = _HF_KINDS[parts.pop(0)]
        elif parts and parts[0] in _HF_PAGES:
            return f"{url} is a Hugging Face page, not a repository"
    elif parts and parts[0].lower() in _GITHUB_PAGES:
        return f"{url} is a GitHub page, not a repository"
    if len(parts) < 2:
        return f"{url} names no repository (expected {host}/{{owner}}/{{repo}})"
    owner, repo = parts[0], parts[1]
    if host == "github.com" and repo.endswith(".git"):
        repo = repo[: -len(".git")]
    for name in (owner, repo):
        if not _NAME.fullmatch(name) or name in (".", ".."):
            return f"{url} names no repository ({name!r} is not an owner or repository name)"
    return RepositoryRef(host, kind, owner, repo)


def raw_url(ref: RepositoryRef, template: str) -> str:
    """The raw-file URL of ``ref``'s ``unfragile.yml`` from a template (see above)."""
    return template.format(owner=ref.owner, repo=ref.repo, path=ref.path, kind=ref.kind)
