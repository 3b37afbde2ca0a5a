"""Importers: documents in other formats mapped to manifests (pure, no I/O).

One module per format: ``server_json`` (MCP ``server.json``), ``agent_card`` (A2A agent
cards), ``model_card`` (Hugging Face model cards), ``model_catalog`` (OpenRouter-style model
lists); ``detect`` tells them apart and reads a document into entries; ``entries`` holds what
they return. ``registry/importing.py`` validates, signs and stores what they map.
"""

from capgraph.importers.detect import FORMATS, PASSPORT, Document, Entry, read_document
from capgraph.importers.entries import IMPORT_KEY, Mapped, PassportEntry, Refusal

__all__ = ["FORMATS", "IMPORT_KEY", "PASSPORT", "Document", "Entry", "Mapped", "PassportEntry",
           "Refusal", "read_document"]
