"""capgraph: an open registry of AI capabilities with signed trust passports."""

__version__ = "0.1.0"
__all__ = ["__version__"]
