"""The one error hierarchy of capgraph.

Every error has a stable ``code`` (a short kebab-case string clients can switch on) and a
``diagnostics()`` text for people. Nothing here knows about HTTP: each transport maps these
errors in exactly one place (``http/problems.py``, ``cli/main.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ApiError",
    "BadRequest",
    "CapgraphError",
    "ClaimExpired",
    "ClaimFailed",
    "Conflict",
    "EmbedderUnavailable",
    "Finding",
    "HeadersTooLarge",
    "ImportRefused",
    "InvalidManifest",
    "InvalidPassport",
    "LogInconsistent",
    "NotFound",
    "NotOwner",
    "ParseError",
    "PayloadTooLarge",
    "ProofInvalid",
    "RateLimited",
    "SchemaOutOfDate",
    "SelfServiceDisabled",
    "SignatureInvalid",
    "StorageError",
    "StorageUnavailable",
    "TokenInvalid",
    "Unauthorized",
    "UnknownKey",
]


class CapgraphError(Exception):
    """Root of every error capgraph raises on purpose."""

    code = "error"
    title = "Error"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def diagnostics(self) -> str:
        """A readable, multi-line explanation for people at a terminal."""
        return f"{self.title}: {self.message}"


@dataclass(frozen=True)
class Finding:
    """One validation finding: where (a dotted path), what (a stable code), and why."""

    path: str
    code: str
    message: str
    severity: str = field(default="error")

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "code": self.code, "message": self.message}


class ParseError(CapgraphError):
    """Input is not well-formed YAML or JSON. ``line``/``column`` are 1-based when known."""

    code = "parse-error"
    title = "Malformed input"

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None):
        super().__init__(message, line=line, column=column)
        self.line = line
        self.column = column

    def diagnostics(self) -> str:
        where = f" (line {self.line}, column {self.column})" if self.line else ""
        return f"{self.title}{where}: {self.message}"


class InvalidManifest(CapgraphError):
    """A manifest failed validation; ``findings`` lists every error and warning."""

    code = "invalid-manifest"
    title = "Invalid manifest"

    def __init__(self, findings: list[Finding]) -> None:
        errors = [f for f in findings if f.severity == "error"]
        super().__init__(f"{len(errors)} validation error(s)")
        self.findings = findings

    def diagnostics(self) -> str:
        lines = [f"{self.title}: {self.message}"]
        lines += [f"  {f.path}: {f.code}: {f.message}" for f in self.findings]
        return "\n".join(lines)


class InvalidPassport(CapgraphError):
    """A passport document does not have the protocol's shape."""

    code = "invalid-passport"
    title = "Invalid passport"


class BadRequest(CapgraphError):
    """A request parameter is missing or out of range."""

    code = "bad-request"
    title = "Bad request"


class NotFound(CapgraphError):
    """The named artifact, version or key does not exist."""

    code = "not-found"
    title = "Not found"


class Conflict(CapgraphError):
    """The write would contradict what is stored."""

    code = "conflict"
    title = "Conflict"


class Unauthorized(CapgraphError):
    """A write was attempted without a valid API key."""

    code = "unauthorized"
    title = "API key required"


class PayloadTooLarge(CapgraphError):
    """The request body exceeds the configured limit of ``limit`` bytes."""

    code = "payload-too-large"
    title = "Payload too large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body is larger than {limit} bytes")
        self.limit = limit


class HeadersTooLarge(CapgraphError):
    """The request line and headers exceed the configured limit of ``limit`` bytes (answered
    by the server's protocol layer before any of it is parsed further)."""

    code = "headers-too-large"
    title = "Request header fields too large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"the request line and headers are larger than {limit} bytes")
        self.limit = limit


class UnknownKey(CapgraphError):
    """A signature names a key id that is not in the key set."""

    code = "unknown-key"
    title = "Unknown signing key"


class RateLimited(CapgraphError):
    """Too many requests from one client; ``retry_after`` seconds until the next is allowed."""

    code = "rate-limited"
    title = "Too many requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


class SignatureInvalid(CapgraphError):
    """A signature does not verify; ``reasons`` says why."""

    code = "signature-invalid"
    title = "Signature invalid"

    def __init__(self, message: str, *, reasons: list[str] | None = None) -> None:
        super().__init__(message, reasons=reasons or [message])
        self.reasons = reasons or [message]


class TokenInvalid(CapgraphError):
    """A callback token is forged, expired, malformed or bound to something else."""

    code = "token-invalid"
    title = "Callback token invalid"


class ProofInvalid(CapgraphError):
    """A Merkle proof does not lead to the claimed root."""

    code = "proof-invalid"
    title = "Proof invalid"


class LogInconsistent(CapgraphError):
    """Two views of the log cannot both be true: history was rewritten."""

    code = "log-inconsistent"
    title = "Log inconsistent"


class StorageError(CapgraphError):
    """The database could not be read or written."""

    code = "storage-error"
    title = "Storage error"


class StorageUnavailable(StorageError):
    """The database cannot be reached now (down, restarting, every connection busy);
    ``retry_after`` seconds is a fair wait before trying again."""

    code = "storage-unavailable"
    title = "Storage unavailable"

    def __init__(self, message: str, *, retry_after: int = 2) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


class SchemaOutOfDate(StorageError):
    """The database's schema is not the one this code needs (``capgraph db migrate``)."""

    code = "schema-out-of-date"
    title = "Database schema out of date"


class EmbedderUnavailable(CapgraphError):
    """The embedding model files are missing or not the pinned ones."""

    code = "embedder-unavailable"
    title = "Embedding model unavailable"


class NotOwner(CapgraphError):
    """The artifact belongs to another publisher: only its owner and maintainers may write it."""

    code = "not-owner"
    title = "Not the owner"


class SelfServiceDisabled(CapgraphError):
    """The operator has turned off publisher keys by domain proof."""

    code = "self-service-disabled"
    title = "Self-service keys are off"


class ClaimFailed(CapgraphError):
    """A claim's proof was not found: ``looked_up`` says where, ``found`` what was there."""

    code = "claim-failed"
    title = "Claim proof not found"

    def __init__(self, message: str, *, looked_up: str, found: str) -> None:
        super().__init__(message, looked_up=looked_up, found=found)
        self.looked_up = looked_up
        self.found = found


class ClaimExpired(CapgraphError):
    """A claim was not verified before it expired; start a new one."""

    code = "claim-expired"
    title = "Claim expired"


class ImportRefused(CapgraphError):
    """An import stored nothing: every entry was refused. ``entries`` holds, per entry, its
    index, its name when one was read, and the reasons (``registry/importing.py``)."""

    code = "import-refused"
    title = "Import refused"

    def __init__(self, message: str, *, entries: list[dict[str, object]]) -> None:
        super().__init__(message, entries=entries)
        self.entries = entries

    def diagnostics(self) -> str:
        lines = [f"{self.title}: {self.message}"]
        for entry in self.entries:
            name = entry.get("name") or f"entry {entry.get('index')}"
            for reason in entry.get("errors", []):  # type: ignore[attr-defined]
                lines.append(f"  {name}: {reason}")
        return "\n".join(lines)
class ApiError(CapgraphError):
    """A registry answered an error over HTTP (raised by ``capgraph.client``): ``status`` is
    the HTTP status, ``problem`` the problem+json body, and ``code`` the problem's own code
    (``not-found``, ``conflict``, ``rate-limited``, ...) when it has one."""

    code = "api-error"
    title = "The registry refused the request"

    def __init__(self, message: str, *, status: int, problem: dict[str, Any] | None = None
                 ) -> None:
        super().__init__(message, status=status)
        self.status = status
        self.problem = problem or {}
        problem_code = self.problem.get("code")
        if isinstance(problem_code, str):
            self.code = problem_code

    def diagnostics(self) -> str:
        return f"{self.title} (HTTP {self.status}, {self.code}): {self.message}"
