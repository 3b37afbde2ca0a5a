"""Hugging Face model cards (a repository's ``README.md``: YAML front matter, then markdown)
to a manifest: an artifact of type ``model`` with one capability, the card's ``pipeline_tag``.

Read from the front matter: ``pipeline_tag``, ``library_name``, ``license``, ``tags``,
``model-index[0].name``, and ``downloads``/``likes`` when present (the Hub API's counts, which
some exports add): those two are *sourced* adoption numbers. The repository id
(``org/name``) comes from the card's Hugging Face URL when known, else from a ``# org/name``
title.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

from capgraph.core.manifest import parse_manifest_text
from capgraph.errors import ParseError
from capgraph.importers.entries import (
    IMPORT_KEY,
    Mapped,
    Unreadable,
    describe,
    kind_of,
    short,
    slugify,
    strings,
    text,
)

__all__ = ["FORMAT", "front_matter", "map_model_card"]

FORMAT = "hf-model-card"
_FRONT = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_OPEN = ("apache-2.0", "mit", "bsd", "bsd-3-clause", "bsd-2-clause", "cc-by-4.0", "openrail",
         "creativeml-openrail-m", "bigscience-openrail-m", "gpl-3.0", "lgpl-3.0", "mpl-2.0",
         "cc-by-sa-4.0", "afl-3.0", "artistic-2.0", "unlicense", "cc0-1.0")
# pipeline_tag -> (capability name, what it does, category, inputs, outputs)
_TASKS: dict[str, tuple[str, str, str, list[str], list[str]]] = {
    "text-generation": ("Text generation", "Generates text that continues or answers a prompt",
                        "text-generation-language", ["text"], ["text"]),
    "text2text-generation": ("Text-to-text generation", "Rewrites input text into output text",
                             "text-generation-language", ["text"], ["text"]),
    "summarization": ("Summarization", "Summarises long text", "text-generation-language",
                      ["text"], ["text"]),
    "translation": ("Translation", "Translates text between languages",
                    "text-generation-language", ["text"], ["text"]),
    "fill-mask": ("Masked token prediction", "Predicts masked words in a sentence",
                  "model-architecture", ["text"], ["text"]),
    "text-classification": ("Text classification", "Assigns labels to text",
                            "data-processing-analysis", ["text"], ["labels"]),
    "token-classification": ("Token classification", "Labels tokens, such as named entities",
                             "data-processing-analysis", ["text"], ["labels"]),
    "zero-shot-classification": ("Zero-shot classification",
                                 "Classifies text into labels given at call time",
                                 "data-processing-analysis", ["text"], ["labels"]),
    "question-answering": ("Question answering", "Extracts answers to questions from a context",
                           "search-retrieval", ["text"], ["text"]),
    "feature-extraction": ("Embeddings", "Turns text into vectors for search and clustering",
                           "search-retrieval", ["text"], ["vectors"]),
    "sentence-similarity": ("Sentence embeddings", "Embeds sentences to compare their meaning",
                            "search-retrieval", ["text"], ["vectors"]),
    "automatic-speech-recognition": ("Speech recognition", "Transcribes speech to text",
                                     "audio-speech", ["audio"], ["text"]),
    "text-to-speech": ("Speech synthesis", "Reads text aloud as audio", "audio-speech",
                       ["text"], ["audio"]),
    "text-to-image": ("Image generation", "Generates images from a text prompt", "image-visual",
                      ["text"], ["images"]),
    "image-to-text": ("Image captioning", "Describes images in text", "image-visual",
                      ["images"], ["text"]),
    "image-text-to-text": ("Vision-language chat", "Answers prompts about images",
                           "image-visual", ["images", "text"], ["text"]),
    "image-classification": ("Image classification", "Assigns labels to images",
                             "image-visual", ["images"], ["labels"]),
    "object-detection": ("Object detection", "Finds and boxes objects in images",
                         "image-visual", ["images"], ["bounding boxes"]),
}


def front_matter(markdown: str) -> tuple[dict[str, Any], str]:
    """The YAML front matter (parsed safely: no aliases, no tags) and the markdown after it.
    Raises ``Unreadable`` when there is none or it is not a YAML mapping."""
    found = _FRONT.match(markdown)
    if found is None:
        raise Unreadable("a model card starts with YAML front matter between '---' lines")
    try:
        meta = parse_manifest_text(found.group(1), hint="yaml")
    except ParseError as exc:
        raise Unreadable(f"front matter: {exc.diagnostics()}") from exc
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise Unreadable(f"front matter must be a mapping, not {kind_of(meta)}")
    return meta, markdown[found.end():]


def _title_and_intro(body: str) -> tuple[str | None, str | None]:
    title = intro = None
    paragraph: list[str] = []
    for line in body.splitlines():
        stripped = line.strip()
        if title is None and stripped.startswith("# "):
            title = stripped[2:].strip()
            continue
        if not stripped or stripped.startswith(("#", "<", "!", "|", "```", "[!")):
            if paragraph:
                break
            continue
        paragraph.append(stripped)
    if paragraph:
        intro = short(" ".join(paragraph), 1000)
    return title, intro


def _repo_id(source_url: str | None, title: str | None, meta: dict[str, Any]) -> str | None:
    if source_url:
        parsed = urlparse(source_url)
        if parsed.hostname in ("huggingface.co", "www.huggingface.co"):
            parts = [p for p in parsed.path.split("/") if p]
            if len(parts) >= 2 and parts[0] not in ("datasets", "spaces", "api"):
                return f"{parts[0]}/{parts[1]}"
    index = meta.get("model-index")
    if isinstance(index, list) and index and isinstance(index[0], dict):
        named = index[0].get("name")
        if isinstance(named, str) and _REPO_ID.match(named):
            return named
    if title and _REPO_ID.match(title):
        return title
    return None


def _count(meta: dict[str, Any], key: str) -> int | None:
    value = meta.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**53:
        raise Unreadable(f"{key} must be a count (an integer >= 0), not {value!r}")
    return value


def map_model_card(markdown: str, *, source_url: str | None = None) -> Mapped:
    """A model card's text as a manifest. Raises ``Unreadable`` when the front matter is
    missing or malformed, or when the card names no task or repository."""
    meta, body = front_matter(markdown)
    title, intro = _title_and_intro(body)
    repo = _repo_id(source_url, title, meta)
    if repo is None:
        raise Unreadable("the model card's repository (org/name) is unknown: import it from "
                         "its huggingface.co URL, pass that URL as the source, or title it "
                         "'# org/name'")
    task = text(meta, "pipeline_tag", where="", required=True, limit=100)
    assert task is not None
    library = text(meta, "library_name", where="", limit=100)
    license_ = meta.get("license")
    license_text = license_ if isinstance(license_, str) else None
    org, _, model = repo.partition("/")
    name = title if title and not _REPO_ID.match(title) else model
    label, does, category, inputs, outputs = _TASKS.get(
        task, (task.replace("-", " ").capitalize(), f"Performs {task.replace('-', ' ')}",
               "model-architecture", [], []))
    runs = f"Runs with the {library} library" if library else None
    capability: dict[str, Any] = {
        "id": slugify(task),
        "name": f"{label} with {short(name, 150)}",
        "description": describe(f"{does} ({task})", intro, runs,
                                source="a Hugging Face model card"),
        "intents_served": [does.lower(), f"{label.lower()} model"],
        "categories": [category],
        "input_types": inputs,
        "output_types": outputs,
    }
    homepage = f"https://huggingface.co/{repo}"
    artifact: dict[str, Any] = {
        "name": short(name, 200), "slug": slugify(repo), "type": "model", "maintainer": org,
        "homepage": homepage, "tags": strings(meta.get("tags"), where="tags"),
    }
    if license_text:
        artifact["license"] = short(license_text, 100)
    if intro:
        artifact["description"] = intro
    manifest: dict[str, Any] = {
        "unfragile_version": "1.0", "artifact": artifact, "capabilities": [capability],
        "pricing": {"model": "open_source" if (license_text or "").lower() in _OPEN
                    else "unknown"},
        IMPORT_KEY: {"format": FORMAT},
    }
    if library:
        manifest["execution"] = {"protocol": "stdio", "auth_method": "none",
                                 "install": f"pip install {library}"}
    counts = {"model_downloads": _count(meta, "downloads"), "model_likes": _count(meta, "likes")}
    sourced = {k: v for k, v in counts.items() if v is not None}
    return Mapped(name=repo, manifest=manifest, sourced=sourced)
