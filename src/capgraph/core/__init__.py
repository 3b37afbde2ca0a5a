"""The pure domain core: formats, scoring, signing. No I/O, no web, no SQL."""
