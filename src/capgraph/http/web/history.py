"""What changed between consecutive versions of a passport, in sentences people can read.

Capabilities are compared by id (ids keep their ``cap_<n>`` number across versions, see
``core/compose.py``), so an edited capability shows as changed rather than removed and added.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from capgraph.core.passport import COMPONENTS
from capgraph.ports import StoredVersion

__all__ = ["VersionEntry", "diff_bodies", "history"]

_ARTIFACT_FIELDS = ("name", "type", "url", "status", "verified", "categories", "tags")
_TRUST_FIELDS = ("verified", "data_access_risk", "permissions", "failure_modes")


@dataclass(frozen=True)
class VersionEntry:
    """One version in an artifact's history, with what changed since the one before."""

    version: int
    created_at: str
    source_kind: str
    score: int
    score_delta: int | None
    key_id: str
    changes: list[str]


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _field(label: str, old: Any, new: Any) -> list[str]:
    if old == new:
        return []
    if isinstance(old, list) and isinstance(new, list):
        added = [x for x in new if x not in old]
        removed = [x for x in old if x not in new]
        parts = [f"{len(added)} added"] * bool(added) + [f"{len(removed)} removed"] * bool(removed)
        return [f"{label}: {', '.join(parts) or 'reordered'}"]
    return [f"{label}: {_short(old)} → {_short(new)}"]


def _capabilities(old: list[Mapping[str, Any]], new: list[Mapping[str, Any]]) -> list[str]:
    before = {c["id"]: c for c in old}
    after = {c["id"]: c for c in new}
    out = [f"added capability “{c['name']}”" for i, c in after.items() if i not in before]
    out += [f"removed capability “{c['name']}”" for i, c in before.items() if i not in after]
    for cid, c in after.items():
        prev = before.get(cid)
        if prev is None or prev == c:
            continue
        keys = [k for k in c if prev.get(k) != c.get(k)]
        out.append(f"changed capability “{c['name']}”: {', '.join(keys)}")
    return out


def diff_bodies(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Sentences naming every difference between two passport bodies that a reader cares
    about: capabilities added, removed or changed (by id), artifact and trust fields, the
    score and its components."""
    changes: list[str] = []
    if old.get("version") != new.get("version"):
        changes += _field("data release", old.get("version"), new.get("version"))
    oa, na = old.get("artifact", {}), new.get("artifact", {})
    for key in _ARTIFACT_FIELDS:
        changes += _field(f"artifact {key}", oa.get(key), na.get(key))
    changes += _field("pricing", oa.get("pricing"), na.get("pricing"))
    changes += _capabilities(old.get("capabilities", []), new.get("capabilities", []))
    ot, nt = old.get("trust", {}), new.get("trust", {})
    for key in _TRUST_FIELDS:
        changes += _field(key.replace("_", " "), ot.get(key), nt.get(key))
    orb, nrb = ot.get("rank_breakdown", {}), nt.get("rank_breakdown", {})
    for c in COMPONENTS:
        changes += _field(f"{c.replace('_', ' ')} component", orb.get(c), nrb.get(c))
    changes += _field("weights", orb.get("weights"), nrb.get("weights"))
    changes += _field("score", ot.get("score"), nt.get("score"))
    return changes


def _body(stored: StoredVersion) -> dict[str, Any]:
    body: dict[str, Any] = stored.body()
    return body


def history(versions: Sequence[StoredVersion]) -> list[VersionEntry]:
    """Every version, newest first, each with what changed since the previous version."""
    entries: list[VersionEntry] = []
    previous: StoredVersion | None = None
    previous_body: dict[str, Any] | None = None
    for stored in versions:
        body = _body(stored)
        if previous is None or previous_body is None:
            changes = ["first version: " + ("imported from another registry's passport"
                                            if stored.source_kind == "import"
                                            else "published from a manifest")]
            delta = None
        else:
            changes = diff_bodies(previous_body, body) or ["no change to the passport body"]
            delta = stored.score - previous.score
        entries.append(VersionEntry(
            version=stored.version, created_at=stored.created_at, source_kind=stored.source_kind,
            score=stored.score, score_delta=delta, key_id=stored.key_id, changes=changes,
        ))
        previous, previous_body = stored, body
    entries.reverse()
    return entries
