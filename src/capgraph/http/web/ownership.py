"""Ownership on the pages: who owns an artifact and whether its builder is verified (the
artifact page), and how to claim it, step by step, with a started claim's token (the submit
page).

Every command is built here, once, with the page's base URL and the artifact's real slug and
host, so the HTML page and its markdown mirror print the very same text.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from capgraph.core.compose import iso_ms
from capgraph.errors import NotFound
from capgraph.ports import ClaimRecord, OwnershipRecord
from capgraph.registry import Registry
from capgraph.registry.claims import host_of, instructions, is_shared_host

__all__ = [
    "METHOD_LABELS",
    "ClaimGuide",
    "OwnershipPanel",
    "ProofMethod",
    "PublisherLine",
    "StartedClaim",
    "VerifiedMark",
    "claim_guide",
    "find_claim",
    "ownership_panel",
    "started_claim",
]

METHOD_LABELS = {"http": "HTTP", "dns": "DNS", "repository": "repository file"}
KEY_VAR = "$CAPGRAPH_KEY"


# -- the artifact page -----------------------------------------------------------------------


@dataclass(frozen=True)
class PublisherLine:
    publisher_id: str
    name: str
    domain: str | None = None


@dataclass(frozen=True)
class VerifiedMark:
    """How the builder was verified: ``method``, ``verified_at`` and what was looked up."""

    method: str
    verified_at: str
    subject: str

    @property
    def label(self) -> str:
        return METHOD_LABELS.get(self.method, self.method)

    @property
    def date(self) -> str:
        return self.verified_at[:10]

    @property
    def text(self) -> str:
        """``✓ verified by DNS on 2026-12-06``."""
        return f"✓ verified by {self.label} on {self.date}"


@dataclass(frozen=True)
class OwnershipPanel:
    slug: str
    owner: PublisherLine | None  # None: nobody owns it yet, it can be claimed
    maintainers: tuple[PublisherLine, ...]
    verified: VerifiedMark | None
    updated_at: str

    @property
    def claim_path(self) -> str:
        return f"/submit?claim={self.slug}"

    @property
    def api_path(self) -> str:
        return f"/api/v1/artifacts/{self.slug}/ownership"


def _publisher(registry: Registry, publisher_id: str) -> PublisherLine:
    found = registry.publisher(publisher_id)
    if found is None:
        return PublisherLine(publisher_id, publisher_id)
    return PublisherLine(publisher_id, found.name or publisher_id, found.domain)


def _mark(verification: dict[str, str] | None) -> VerifiedMark | None:
    if not verification:
        return None
    return VerifiedMark(method=str(verification.get("method", "")),
                        verified_at=str(verification.get("verified_at", "")),
                        subject=str(verification.get("subject", "")))


def ownership_panel(registry: Registry, slug: str, record: OwnershipRecord | None
                    ) -> OwnershipPanel:
    """The artifact page's ownership facts from ``registry.ownership(slug)``'s answer."""
    if record is None:
        return OwnershipPanel(slug, None, (), None, "")
    return OwnershipPanel(
        slug=slug,
        owner=_publisher(registry, record.owner),
        maintainers=tuple(_publisher(registry, m) for m in record.maintainers),
        verified=_mark(record.verification),
        updated_at=record.updated_at,
    )


# -- the submit page: how to claim --------------------------------------------------------------


@dataclass(frozen=True)
class ProofMethod:
    """One way to prove it: where the token goes, the exact text, and the shell commands."""

    method: str
    title: str
    usable: bool  # whether the registry accepts this method for this artifact
    note: str  # why (not) this one
    where: str  # the URL, DNS name or file that must hold the token
    place: str  # where that file is, when ``where`` is a file name ("" otherwise)
    content: str  # the exact file content or record
    commands: str  # shell commands that put it in place and check it


@dataclass(frozen=True)
class ClaimGuide:
    """Every step of a claim for one artifact (placeholders where a value is not known yet)."""

    slug: str
    url: str  # the artifact's URL ("" when its manifest has none)
    host: str
    shared: bool  # on GitHub, Hugging Face, a package index...: the repository method only
    method: str  # the method the commands start a claim with
    key_cli: str
    key_domain: str
    start: str
    methods: tuple[ProofMethod, ...]
    verify: str
    check: str


def _curl(base_url: str, path: str, *, body: dict[str, str] | None = None,
          key: bool = False) -> str:
    parts = ["curl -sS"]
    if body is not None or path.endswith("/verify"):
        parts.append("-X POST")
    parts.append(f"{base_url}{path}")
    lines = [" ".join(parts)]
    if key:
        lines.append(f'-H "Authorization: Bearer {KEY_VAR}"')
    if body is not None:
        lines.append("-H 'Content-Type: application/json'")
        lines.append("-d " + shlex.quote(json.dumps(body)))
    return " \\\n  ".join(lines)


def _methods(slug: str, host: str, url: str, shared: bool, token: str
             ) -> tuple[ProofMethod, ...]:
    literal = token if token else "<token>"
    token_sh = shlex.quote(token) if token else '"$TOKEN"'
    domain_note = (f"Not for this artifact: {host} is a shared host, whose domain proves "
                   "nothing about you." if shared else "")
    well_known = f"https://{host}/.well-known/unfragile.json"
    http = ProofMethod(
        method="http", title="A file on your web server", usable=not shared,
        note=domain_note or f"For you if you control the web server of {host}.",
        where=well_known, place="",
        content=json.dumps({"unfragile-claim": literal}),
        commands=(f"# in the folder served as https://{host}/\n"
                  "mkdir -p .well-known\n"
                  f"printf '{{\"unfragile-claim\": \"%s\"}}\\n' {token_sh} "
                  "> .well-known/unfragile.json\n"
                  f"curl -sS {well_known}   # must print the JSON above"),
    )
    name = f"_unfragile.{host}"
    dns = ProofMethod(
        method="dns", title="A DNS TXT record", usable=not shared,
        note=domain_note or f"For you if you control the DNS of {host}.",
        where=name, place="",
        content=f"unfragile-claim={literal}",
        commands=(f"# at your DNS provider: name {name}, type TXT, value "
                  f"unfragile-claim={literal}\n"
                  f'# as a zone file line: {name}. 300 IN TXT "unfragile-claim={literal}"\n'
                  f"dig +short TXT {name}   # must print \"unfragile-claim=…\""),
    )
    repo_url = url or "your repository"
    repo_note = (f"The one for this artifact: {host} is a shared host, so the proof comes from "
                 "inside the repository. The registry reads GitHub and Hugging Face "
                 "repositories: if the artifact's URL is a package index page, publish a "
                 "version whose homepage is its repository first." if shared else
                 "Only for artifacts on shared hosts (GitHub, Hugging Face, package indexes); "
                 "this one has a domain of its own.")
    repo = ProofMethod(
        method="repository", title="A file in your repository",
        usable=shared, note=repo_note,
        where="unfragile.yml", place=f"at the root of {repo_url}, on its default branch",
        content=f"unfragile-claim: {literal}",
        commands=("# at the root of the repository, on its default branch\n"
                  f"printf 'unfragile-claim: %s\\n' {token_sh} >> unfragile.yml\n"
                  f"git add unfragile.yml && git commit -m 'unfragile: claim {slug}' "
                  "&& git push"),
    )
    if not url:  # no artifact yet: each method with when it applies
        return (replace(http, usable=True, note="When the artifact's URL is on a domain whose "
                        "web server you control."),
                replace(dns, usable=True, note="When the artifact's URL is on a domain whose "
                        "DNS you control."),
                replace(repo, usable=True, note="When the artifact's URL is a GitHub or "
                        "Hugging Face repository: on a shared host the domain proves nothing."))
    return (http, dns, repo)


def claim_guide(base_url: str, slug: str, url: str, *, claim: ClaimRecord | None = None
                ) -> ClaimGuide:
    """The steps to claim ``slug`` (whose artifact URL is ``url``); with a started ``claim``,
    its real method, token and id in every command."""
    host = host_of(url) if url else ""
    shared = bool(host) and is_shared_host(url)
    methods = _methods(slug, host or "<host>", url, shared, claim.token if claim else "")
    method = claim.method if claim else ("repository" if shared else "dns")
    claim_id = shlex.quote(claim.claim_id) if claim else "$CLAIM_ID"
    domain = host or "<host>"
    return ClaimGuide(
        slug=slug, url=url, host=host, shared=shared, method=method,
        key_cli=('# on the registry\'s host (its operator): the key is printed once\n'
                 'export CAPGRAPH_KEY="$(capgraph keys create --name me)"'),
        key_domain=("# 1. start a domain proof (no key needed)\n"
                    + _curl(base_url, "/api/v1/publishers",
                            body={"domain": domain, "method": "dns"})
                    + "\n# 2. put its token in place (as in step 3), then:\n"
                    + _curl(base_url, "/api/v1/claims/$DOMAIN_CLAIM_ID/verify")
                    + '\n# 3. keep the "key" of the answer\n'
                    'export CAPGRAPH_KEY="cg_…"'),
        start=_curl(base_url, "/api/v1/claims", body={"slug": slug, "method": method},
                    key=True),
        methods=methods,
        verify=_curl(base_url, f"/api/v1/claims/{claim_id}/verify", key=True),
        check=(_curl(base_url, f"/api/v1/claims/{claim_id}") + "\n"
               + _curl(base_url, f"/api/v1/artifacts/{slug}/ownership") + "\n"
               + f"capgraph owners show {slug}   # on the registry's host"),
    )


# -- the submit page: a started claim ----------------------------------------------------------


@dataclass(frozen=True)
class StartedClaim:
    claim_id: str
    kind: str  # "artifact" | "domain"
    subject: str
    method: str
    token: str
    status: str  # pending, verified, failed, or expired (a pending claim past its time)
    created_at: str
    expires_at: str
    instructions: str  # the registry's own sentence for this claim

    @property
    def label(self) -> str:
        return METHOD_LABELS.get(self.method, self.method)


def find_claim(registry: Registry, claim_id: str) -> ClaimRecord | None:
    try:
        return registry.claim(claim_id)
    except NotFound:
        return None


def started_claim(claim: ClaimRecord, url: str, *, now: datetime | None = None
                  ) -> StartedClaim:
    """What the page shows of ``claim`` (``url``: its artifact's URL; unused for a domain)."""
    status = claim.status
    moment = iso_ms(now or datetime.now(UTC))
    if status == "pending" and moment > claim.expires_at:
        status = "expired"
    target = claim.subject if claim.kind == "domain" else (url or claim.subject)
    return StartedClaim(
        claim_id=claim.claim_id, kind=claim.kind, subject=claim.subject, method=claim.method,
        token=claim.token, status=status, created_at=claim.created_at,
        expires_at=claim.expires_at,
        instructions=instructions(claim.method, target, claim.token),
    )
