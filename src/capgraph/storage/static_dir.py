"""The static read path's files in a local directory (``CAPGRAPH_STATIC_DIR``), for nginx
or a CDN to serve as they are (docs/STATIC.md).

Each file is written to a temporary name beside it and renamed over the old one, so a reader
sees the old bytes or the new, never a part. An immutable file already holding the same
bytes is left alone. ``lock()`` is an ``flock`` on ``.lock`` in the directory: processes on
one host (or sharing the directory over a file system with working locks) take turns.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["DirectorySink"]


class DirectorySink:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _file(self, path: str) -> Path:
        parts = path.split("/")
        if not path or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
            raise ValueError(f"not a static file path: {path!r}")
        return self.root.joinpath(*parts)

    def put(self, path: str, data: bytes, *, immutable: bool) -> None:
        target = self._file(path)
        if immutable and self._read(target) == data:
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.chmod(tmp, 0o644)  # served by another user (nginx's)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @staticmethod
    def _read(target: Path) -> bytes | None:
        try:
            return target.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def get(self, path: str) -> bytes | None:
        return self._read(self._file(path))

    def delete(self, path: str) -> None:
        """Remove the file, and its folder when that is left empty (``000.p/``)."""
        target = self._file(path)
        try:
            target.unlink()
        except (FileNotFoundError, NotADirectoryError):
            return
        with contextlib.suppress(OSError):  # not empty
            target.parent.rmdir()

    @contextmanager
    def lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
