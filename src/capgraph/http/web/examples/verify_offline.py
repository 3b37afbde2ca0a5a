"""Verify a passport offline: a pinned JWK Set, then the log checkpoint trusted on first use
and checked for consistency on every later verification (capgraph.client)."""

import json
import os
import tempfile
from pathlib import Path

from capgraph.client import Client

REGISTRY = os.environ.get("CAPGRAPH_URL", "http://127.0.0.1:8000")
folder = Path(os.environ.get("CAPGRAPH_TRUST_DIR", tempfile.mkdtemp()))
pinned = folder / "jwks.json"
checkpoint = folder / "checkpoint.json"

with Client(REGISTRY) as registry:
    if not pinned.exists():  # pin the key set once, then keep using the saved copy
        pinned.write_text(json.dumps(registry.jwks()))
    jwks = json.loads(pinned.read_text())
    passport = registry.passport("docling")
    checked = registry.verify(passport, jwks=jwks, checkpoint=checkpoint)
    print(f"{checked.slug} v{checked.version}: signed by {checked.key_id}, "
          f"log entry {checked.log_index} of {checked.checkpoint.size}"
          + (" (checkpoint saved on first use)" if checked.first_use else ""))
