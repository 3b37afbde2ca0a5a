"""The error hierarchy: one root, stable distinct codes, readable diagnostics."""

from __future__ import annotations

import re

from capgraph import errors
from capgraph.errors import CapgraphError, Finding, InvalidManifest, ParseError, SignatureInvalid


def error_classes() -> list[type[CapgraphError]]:
    return [getattr(errors, name) for name in errors.__all__
            if isinstance(getattr(errors, name), type)
            and issubclass(getattr(errors, name), CapgraphError)]


def test_all_names_exactly_the_public_errors() -> None:
    public = {name for name in dir(errors) if not name.startswith("_")
              and isinstance(getattr(errors, name), type)
              and getattr(errors, name).__module__ == errors.__name__}
    assert set(errors.__all__) == public


def test_every_error_has_a_distinct_kebab_case_code_and_a_title() -> None:
    classes = error_classes()
    codes = [cls.code for cls in classes]
    assert len(set(codes)) == len(codes)
    for cls in classes:
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", cls.code), cls
        assert cls.title


def test_parse_error_diagnostics_give_the_position() -> None:
    error = ParseError("unexpected ':'", line=3, column=7)
    assert error.diagnostics() == "Malformed input (line 3, column 7): unexpected ':'"
    assert ParseError("bad bytes").diagnostics() == "Malformed input: bad bytes"


def test_invalid_manifest_counts_errors_and_lists_every_finding() -> None:
    findings = [Finding("artifact.type", "enum", "bad type"),
                Finding("execution", "no-execution", "missing", "warning")]
    error = InvalidManifest(findings)
    assert error.message == "1 validation error(s)"
    text = error.diagnostics()
    assert "artifact.type: enum: bad type" in text and "execution: no-execution" in text


def test_signature_invalid_always_has_reasons() -> None:
    assert SignatureInvalid("bad").reasons == ["bad"]
    assert SignatureInvalid("bad", reasons=["a", "b"]).reasons == ["a", "b"]
