"""Property tests over the in-process ASGI app (httpx.ASGITransport, no port): whatever bytes
arrive at validate, publish, import or verify, the answer is never a 5xx, every 4xx is a problem
document with a code, and validate and publish agree about every body."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.conftest import DEMO, SEEDS
from tests.integration.conftest import (
    KNOWN_CODES,
    PROBLEM_TYPE,
    InProcess,
    in_process,
    manifest,
    to_yaml,
)

PROPERTY = settings(
    max_examples=150, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[InProcess, str]]:
    """The real app factory over the real SQLite store and key ring, plus an API key."""
    with in_process(tmp_path_factory.mktemp("asgi-data")) as (client, registry):
        for seed in sorted(SEEDS.glob("*.passport.json")):
            registry.import_passport(json.loads(seed.read_text("utf-8")))
        _, secret = registry.create_api_key("properties")
        yield client, secret


def check(response: httpx.Response) -> httpx.Response:
    """The invariants of every answer."""
    assert response.status_code < 500, response.text[:2000]
    assert "Traceback" not in response.text
    kind = response.headers.get("content-type", "").split(";")[0].strip()
    if response.status_code >= 400:
        assert kind == PROBLEM_TYPE, (response.status_code, kind, response.text[:500])
        problem = response.json()
        assert problem["code"] in KNOWN_CODES, problem
        assert problem["status"] == response.status_code
    else:
        assert kind == "application/json", kind
        response.json()
    return response


# -- inputs ---------------------------------------------------------------------------------

_BASE_MANIFESTS: list[Any] = [manifest("prop-widget")] + [
    __import__("yaml").safe_load(p.read_text("utf-8")) for p in sorted(DEMO.glob("*.yml"))[:6]
]
_BASE_TEXTS = [to_yaml(m) for m in _BASE_MANIFESTS] + [
    json.dumps(m, indent=2) for m in _BASE_MANIFESTS[:3]
]
_SPECIAL = st.sampled_from([
    *":-[]{}#&*!|>'\"%@`,?\t\n \\", "\\ud800", "\\u0000", "\x00", "\ufeff", "\u2028", "é", "💥",
    "!!binary", "!!set", "&a", "*a",
    "<<:", "---", "...", "%YAML 1.1", "1e400", "NaN", "-.inf", "0x", "null", "~", "9" * 40,
])
_JUNK = st.lists(st.one_of(_SPECIAL, st.text(max_size=8)), min_size=1, max_size=6).map("".join)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)


@st.composite
def corrupted_text(draw: st.DrawFn, texts: list[str] | None = None) -> str:
    """A real manifest (YAML or JSON) with a few random edits: inserts, deletions, swaps."""
    text = draw(st.sampled_from(texts or _BASE_TEXTS))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace", "truncate", "dup-line"]))
        if op == "insert":
            text = text[:at] + draw(_JUNK) + text[at:]
        elif op == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 40)):]
        elif op == "replace":
            text = text[:at] + draw(_JUNK) + text[at + 1:]
        elif op == "truncate":
            text = text[:at]
        else:
            lines = text.split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            lines.insert(i, lines[i])
            text = "\n".join(lines)
    return text


def _slots(node: Any, out: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Every (container, key) in a JSON document, so any node can be replaced."""
    if isinstance(node, dict):
        for key, value in node.items():
            out.append((node, key))
            _slots(value, out)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.append((node, i))
            _slots(value, out)
    return out


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """``base`` with one to three nodes replaced, deleted or given a new sibling."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        slots = _slots(doc, [])
        if not slots:
            break
        container, key = draw(st.sampled_from(slots))
        op = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if op == "replace":
            container[key] = draw(json_values)
        elif op == "delete":
            del container[key]
        elif isinstance(container, dict):
            container[draw(st.text(max_size=12))] = draw(json_values)
        else:
            container.insert(key, draw(json_values))
    return doc


@st.composite
def extended(draw: st.DrawFn, base: Any) -> Any:
    """``base`` still valid but carrying arbitrary data where the format allows it (unknown
    fields, ``compliance``, longer texts): what publishing must canonicalise and sign."""
    doc = copy.deepcopy(base)
    doc["artifact"]["slug"] = draw(st.sampled_from(["prop-a", "prop-b", "prop-c"]))
    doc[draw(st.sampled_from(["compliance", "x-extra", "notes"]))] = draw(
        st.dictionaries(st.text(max_size=12), json_values, max_size=4))
    cap = draw(st.sampled_from(doc["capabilities"]))
    cap["description"] += " " + draw(st.text(min_size=1, max_size=40))
    cap.setdefault("conditions", {})["limitations"] = draw(
        st.lists(st.text(min_size=1, max_size=30), max_size=3))
    return doc


def _dump(data: Any, as_json: bool) -> str:
    return json.dumps(data, ensure_ascii=False) if as_json else to_yaml(data)


@st.composite
def manifest_bodies(draw: st.DrawFn) -> tuple[bytes, str | None]:
    """(body, content type): mutated manifests, corrupted texts, JSON values, raw bytes."""
    kind = draw(st.sampled_from(["mutated", "extended", "corrupted", "value", "bytes"]))
    as_json = draw(st.booleans())
    if kind == "mutated":
        text = _dump(draw(mutated(draw(st.sampled_from(_BASE_MANIFESTS)))), as_json)
    elif kind == "extended":
        text = _dump(draw(extended(draw(st.sampled_from(_BASE_MANIFESTS)))), as_json)
    elif kind == "corrupted":
        text = draw(corrupted_text())
    elif kind == "value":
        text = json.dumps(draw(json_values))
    else:
        return draw(st.binary(max_size=300)), draw(st.sampled_from(
            [None, "application/json", "application/yaml"]))
    body = text.encode("utf-8", "surrogatepass")
    content_type = draw(st.sampled_from([
        None, "application/json" if as_json else "application/yaml", "text/plain",
        "application/json; charset=utf-8", "application/x-yaml",
    ]))
    return body, content_type


def _headers(content_type: str | None, secret: str | None = None) -> dict[str, str]:
    headers = {"content-type": content_type} if content_type else {}
    if secret:
        headers["authorization"] = f"Bearer {secret}"
    return headers


# -- properties -----------------------------------------------------------------------------

@PROPERTY
@given(case=manifest_bodies())
def test_validate_never_fails_on_any_body(app: tuple[InProcess, str],
                                          case: tuple[bytes, str | None]) -> None:
    client, _ = app
    body, content_type = case
    response = check(client.request("POST", "/api/v1/validate", content=body,
                                    headers=_headers(content_type)))
    event(f"validate {response.status_code}")
    if response.status_code == 200:
        report = response.json()
        assert set(report) == {"valid", "errors", "warnings"}
        assert report["valid"] is (report["errors"] == [])
    else:
        assert response.status_code == 400
        problem = response.json()
        assert problem["code"] == "parse-error"


@settings(PROPERTY, max_examples=100)  # up to four requests an example, with signing
@given(case=manifest_bodies())
def test_publish_agrees_with_validate_and_never_fails(
    app: tuple[InProcess, str], case: tuple[bytes, str | None]
) -> None:
    client, secret = app
    body, content_type = case
    validated = check(client.request("POST", "/api/v1/validate", content=body,
                                     headers=_headers(content_type)))
    published = check(client.request("POST", "/api/v1/artifacts", content=body,
                                     headers=_headers(content_type, secret)))
    event(f"publish {published.status_code}")
    if validated.status_code == 400:
        assert published.status_code == 400
    elif validated.json()["valid"]:
        # Clean by validate means publishable: nothing may fail later (canonicalising, signing).
        assert published.status_code in (200, 201), published.text[:1000]
        slug = published.json()["slug"]
        served = check(client.request("GET", f"/api/v1/passport/{slug}"))
        verified = check(client.request("POST", "/api/v1/verify", content=served.content))
        assert verified.json()["valid"] is True
    else:
        assert published.status_code == 422
        assert published.json()["errors"] == validated.json()["errors"]


@pytest.fixture(scope="module")
def envelope(app: tuple[InProcess, str]) -> dict[str, Any]:
    client, _ = app
    data: dict[str, Any] = client.request("GET", "/api/v1/passport/qwen-qwen3-coder").json()
    assert client.request("POST", "/api/v1/verify", json=data).json()["valid"] is True
    return data


@PROPERTY
@given(data=st.data())
def test_verify_rejects_every_changed_passport_and_never_fails(
    app: tuple[InProcess, str], envelope: dict[str, Any], data: st.DataObject
) -> None:
    client, _ = app
    changed = data.draw(mutated(envelope))
    body = json.dumps(changed, ensure_ascii=False).encode("utf-8", "surrogatepass")
    response = check(client.request("POST", "/api/v1/verify", content=body,
                                    headers=_headers("application/json")))
    event(f"verify {response.status_code} "
          f"{response.json().get('valid') if response.status_code == 200 else ''}")
    still_object = isinstance(changed, dict) and isinstance(changed.get("passport", changed), dict)
    if response.status_code == 200:
        report = response.json()
        assert isinstance(report["reasons"], list)
        assert report["valid"] is (report["reasons"] == [])
        if isinstance(changed, dict) and changed.get("passport") != envelope["passport"]:
            assert report["valid"] is False, changed.get("passport", {}).keys()
    else:
        assert response.status_code == 400
        assert not still_object or response.json()["code"] == "parse-error"


@PROPERTY
@given(data=st.data())
def test_verify_and_import_survive_corrupted_envelope_text(
    app: tuple[InProcess, str], envelope: dict[str, Any], data: st.DataObject
) -> None:
    client, secret = app
    texts = [json.dumps(envelope, ensure_ascii=False)]
    body = data.draw(st.one_of(
        corrupted_text(texts).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.binary(max_size=200),
        json_values.map(lambda v: json.dumps(v).encode()),
    ))
    content_type = data.draw(st.sampled_from([None, "application/json", "text/plain"]))
    for path in ("/api/v1/verify", "/api/v1/import"):
        check(client.request("POST", path, content=body, headers=_headers(content_type, secret)))


def test_in_process_app_serves_what_the_seeds_hold(app: tuple[InProcess, str]) -> None:
    client, _ = app
    served = client.request("GET", "/api/v1/passport/qwen-qwen3.5-flash-02-23").json()
    seed = json.loads((SEEDS / "qwen-qwen3.5-flash-02-23.passport.json").read_text("utf-8"))
    assert json.dumps(served["passport"]["unfragile"]) == json.dumps(seed["passport"]["unfragile"])
    assert served["_links"]["self"].startswith("http://registry.test/")
