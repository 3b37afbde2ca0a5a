"""``data_access_risk``: declared by the publisher, or derived by the registry (PROTOCOL.md B.6).

The derived rule looks at what data reaches the artifact. It counts the classes of personal
data named in the capabilities' input types (images, video, audio, documents, personal records)
and the access scopes the manifest declares:
- ``high``: two or more personal-data classes, or a scope that can change or leak the user's
  things (shell, filesystem:write, credentials, personal-data, email, payments);
- ``moderate``: one personal-data class, or a read scope (network, filesystem:read, browser,
  database);
- ``low``: otherwise.
An artifact that runs locally (its execution protocol is ``stdio`` with no endpoint, and it
declares no ``network`` scope) sends nothing anywhere, so what it reads does not count:
- ``high``: a scope that acts beyond its files (shell, credentials, email, payments);
- ``moderate``: a scope that changes local data (filesystem:write, personal-data);
- ``low``: otherwise (reading local files and personal-data inputs stay on the machine).
Input types are matched on whole words, so "documentation" is not "document". The rule gives
``low`` for the qwen3-coder seed (code and text in) and ``high`` for qwen3.5-flash (images,
video and documents in).
"""

from __future__ import annotations

import re

__all__ = [
    "DATA_CLASSES",
    "HIGH_SCOPES",
    "MODERATE_SCOPES",
    "RISK_POSTURES",
    "derive_data_access_risk",
    "runs_locally",
]

RISK_POSTURES = ("default", "production", "enterprise", "strict")
"""The gates a resolve can ask for, loosest first (their rules: ``search/resolver.py``)."""

DATA_CLASSES: dict[str, re.Pattern[str]] = {
    "images": re.compile(r"\b(images?|photos?|pictures?|screenshots?|scans?|scanned)\b"),
    "video": re.compile(r"\b(videos?|footage|webcam)\b"),
    "audio": re.compile(r"\b(audio|voice|speech|recordings?|microphone)\b"),
    "documents": re.compile(r"\b(documents?|invoices?|receipts?|forms?|contracts?)\b"),
    "personal records": re.compile(
        r"\b(emails?|contacts?|calendars?|messages?|medical|health|biometric|faces?|"
        r"locations?|bank|financial)\b"
    ),
}
HIGH_SCOPES = frozenset(
    {"shell", "filesystem:write", "credentials", "personal-data", "email", "payments"}
)
MODERATE_SCOPES = frozenset({"network", "filesystem:read", "browser", "database"})
LOCAL_MODERATE_SCOPES = frozenset({"filesystem:write", "personal-data"})


def runs_locally(protocol: str | None, endpoint: str | None, scopes: list[str]) -> bool:
    """Whether an artifact runs on the user's machine without sending data anywhere."""
    return protocol == "stdio" and not endpoint and "network" not in scopes


def derive_data_access_risk(input_types: list[str], scopes: list[str], *,
                            local: bool = False) -> tuple[str, str]:
    """The derived risk level and a sentence giving the reason. ``local``: the artifact runs
    locally (``runs_locally``), so only what its scopes let it change counts."""
    if local:
        acts = sorted((HIGH_SCOPES - LOCAL_MODERATE_SCOPES).intersection(scopes))
        changes = sorted(LOCAL_MODERATE_SCOPES.intersection(scopes))
        if acts:
            return "high", f"runs locally but can act on: {', '.join(acts)}"
        if changes:
            return "moderate", ("runs locally and sends nothing, but can change: "
                                + ", ".join(changes))
        return "low", "runs locally and sends nothing; it only reads what it is given"
    text = " ".join(input_types).lower()
    classes = [name for name, pattern in DATA_CLASSES.items() if pattern.search(text)]
    high = sorted(HIGH_SCOPES.intersection(scopes))
    moderate = sorted(MODERATE_SCOPES.intersection(scopes))
    if len(classes) >= 2 or high:
        why = classes if len(classes) >= 2 else high
        return "high", f"receives or can act on: {', '.join(why)}"
    if classes or moderate:
        return "moderate", f"receives or can read: {', '.join(classes + moderate)}"
    return "low", "no personal-data inputs and no access scopes declared"
