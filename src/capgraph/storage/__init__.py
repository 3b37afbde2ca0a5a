"""Storage adapters implementing ``capgraph.ports.Store``."""

from capgraph.errors import StorageError

__all__ = ["complete_nodes"]


def complete_nodes(found: list[bytes], level: int, start: int, end: int) -> list[bytes]:
    """``found``, the nodes a range read of [start, end) returned, when none is missing."""
    if len(found) != end - start:
        raise StorageError(f"log nodes ({level}, {start}..{end - 1}) are not all stored")
    return found
