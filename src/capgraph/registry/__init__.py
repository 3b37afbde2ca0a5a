"""The use cases, one module each; ``Registry`` (``facade.py``) is what transports call."""

from capgraph.registry.discovery import IndexStatus
from capgraph.registry.facade import Registry
from capgraph.registry.feedback import FeedbackResult
from capgraph.registry.importing import IMPORT_FORMATS, PASSPORT_FORMAT, EntryOutcome, ImportReport
from capgraph.registry.publishing import PublishResult, ValidationReport
from capgraph.registry.trust import VerifyReport

__all__ = [
    "IMPORT_FORMATS",
    "PASSPORT_FORMAT",
    "EntryOutcome",
    "FeedbackResult",
    "ImportReport",
    "IndexStatus",
    "PublishResult",
    "Registry",
    "ValidationReport",
    "VerifyReport",
]
