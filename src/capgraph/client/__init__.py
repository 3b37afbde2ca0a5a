"""``capgraph.client``: a typed Python client of a capgraph registry's HTTP API, for agents
and scripts. It imports nothing of the server but ``capgraph.core`` and ``capgraph.errors``.

    with Client("http://127.0.0.1:8000") as registry:
        resolution = registry.resolve("extract tables from scanned invoices")
        answer = resolution.best
        ...  # call answer.invocation
        registry.report(resolution, answer, "success")
"""

from capgraph.client.aio import AsyncClient
from capgraph.client.results import (
    Answer,
    Claim,
    FeedbackResult,
    Match,
    Passport,
    PublishResult,
    Resolution,
    SearchResult,
    ValidationResult,
    VersionInfo,
)
from capgraph.client.retry import Retry
from capgraph.client.sync import Client
from capgraph.client.verify import CheckpointFile, Verified
from capgraph.errors import ApiError

__all__ = [
    "Answer",
    "ApiError",
    "AsyncClient",
    "CheckpointFile",
    "Claim",
    "Client",
    "FeedbackResult",
    "Match",
    "Passport",
    "PublishResult",
    "Resolution",
    "Retry",
    "SearchResult",
    "ValidationResult",
    "Verified",
    "VersionInfo",
]
