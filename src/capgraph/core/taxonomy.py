"""The protocol's closed vocabularies, and the keyword rules that infer categories from text."""

from __future__ import annotations

import re
from collections import Counter

__all__ = [
    "ARTIFACT_TYPES",
    "AUTH_METHODS",
    "CAPABILITY_CATEGORIES",
    "EXECUTION_PROTOCOLS",
    "FAILURE_FREQUENCIES",
    "HTTP_METHODS",
    "PERMISSION_SCOPES",
    "PRICING_MODELS",
    "RISK_LEVELS",
    "STATUSES",
    "infer_artifact_categories",
    "infer_capability_categories",
    "words",
]

ARTIFACT_TYPES = (
    "agent", "api", "app", "benchmark", "cli", "dataset", "extension", "finetune", "framework",
    "mcp", "model", "platform", "product", "prompt", "repo", "skill", "template", "webapp",
    "workflow",
)  # fmt: skip
PRICING_MODELS = ("paid", "free", "open_source", "usage", "freemium", "unknown")
STATUSES = ("active", "deprecated", "archived")
RISK_LEVELS = ("low", "moderate", "high")
EXECUTION_PROTOCOLS = ("mcp", "http", "https", "stdio", "websocket", "grpc")
AUTH_METHODS = ("none", "api_key", "bearer", "oauth2", "basic", "mtls", "aws_sigv4")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
FAILURE_FREQUENCIES = ("rare", "occasional", "frequent")
PERMISSION_SCOPES = (
    "network", "filesystem:read", "filesystem:write", "shell", "browser", "credentials",
    "personal-data", "email", "payments", "database",
)  # fmt: skip

# Keywords per capability category. A category's score is the number of distinct keywords found
# in the capability's name, description and intents; the name counts twice.
_CATEGORY_KEYWORDS: dict[str, tuple[str, ...]] = {
    "code-generation-editing": (
        "code", "coding", "program", "programming", "refactor", "refactoring", "function",
        "compile", "debug", "bug", "patch", "repository", "snippet", "completion", "developer",
    ),
    "tool-use-integration": (
        "tool", "tools", "api", "integration", "integrate", "function-calling", "plugin",
        "mcp", "client", "endpoint", "webhook", "connector", "sdk",
    ),
    "text-generation-language": (
        "text", "generate", "generation", "write", "writing", "summarize", "summary",
        "translate", "translation", "chat", "language", "answer", "caption",
    ),
    "safety-moderation": (
        "safety", "moderation", "toxic", "harmful", "guardrail", "vulnerability", "security",
        "pii", "redact", "filter", "jailbreak",
    ),
    "image-visual": (
        "image", "images", "vision", "visual", "photo", "picture", "video", "diagram", "ocr",
        "scan", "scanned", "pixel", "render", "chart",
    ),
    "memory-knowledge": (
        "memory", "knowledge", "context", "remember", "long-context", "store", "persist",
        "graph", "facts", "history",
    ),
    "data-processing-analysis": (
        "data", "table", "tables", "extract", "extraction", "parse", "parsing", "csv", "json",
        "document", "documents", "pdf", "invoice", "invoices", "analysis", "analyze", "sql",
        "structured", "dataset",
    ),
    "planning-reasoning": (
        "plan", "planning", "reason", "reasoning", "step", "multi-step", "decide", "decision",
        "chain", "solve", "math", "logic",
    ),
    "model-architecture": (
        "architecture", "mixture-of-experts", "moe", "attention", "parameters", "quantization",
        "inference", "weights", "layers", "transformer", "fine-tune", "fine-tuning",
    ),
    "search-retrieval": (
        "search", "retrieval", "retrieve", "rag", "index", "indexing", "query", "rank",
        "ranking", "embedding", "embeddings", "semantic", "lookup", "web",
    ),
    "automation-workflow": (
        "automate", "automation", "workflow", "pipeline", "schedule", "orchestrate", "batch",
        "browser", "click", "form", "task", "tasks",
    ),
    "audio-speech": (
        "audio", "speech", "voice", "transcribe", "transcription", "spoken", "tts", "asr",
        "podcast", "microphone",
    ),
    "agent-orchestration": (
        "agent", "agents", "multi-agent", "crew", "autonomous", "delegate", "role", "roles",
    ),
    "evaluation-benchmarking": (
        "benchmark", "evaluate", "evaluation", "accuracy", "score", "leaderboard", "metric",
        "metrics", "test", "tests",
    ),
}
CAPABILITY_CATEGORIES = tuple(_CATEGORY_KEYWORDS)
_DEFAULT_CATEGORY = "tool-use-integration"
_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def words(text: str) -> set[str]:
    """Lower-cased word set of a text; hyphenated compounds count whole and in parts."""
    found: set[str] = set()
    for token in _WORD.findall(text.lower()):
        found.add(token)
        if "-" in token:
            found.update(token.split("-"))
    return found


def infer_capability_categories(name: str, description: str, intents: list[str]) -> list[str]:
    """Up to two categories for a capability, best first, from keywords in its text.

    Ties go to the category listed first in the vocabulary; a text with no keyword at all gets
    ``tool-use-integration``. The rule is deterministic so the same manifest always gets the
    same ``capability://`` URIs.
    """
    name_words = words(name)
    body_words = words(description + " " + " ".join(intents))
    scores: Counter[str] = Counter()
    for category, keywords in _CATEGORY_KEYWORDS.items():
        hits = sum(2 for k in keywords if k in name_words)
        hits += sum(1 for k in keywords if k in body_words)
        if hits:
            scores[category] = hits
    order = {c: i for i, c in enumerate(CAPABILITY_CATEGORIES)}
    ranked = sorted(scores, key=lambda c: (-scores[c], order[c]))
    return ranked[:2] or [_DEFAULT_CATEGORY]


def infer_artifact_categories(capability_categories: list[list[str]]) -> list[str]:
    """Artifact categories: the most frequent primary capability categories (at most 3)."""
    counts = Counter(cats[0] for cats in capability_categories if cats)
    first_seen = {c: i for i, c in reversed(list(enumerate(c[0] for c in capability_categories)))}
    ranked = sorted(counts, key=lambda c: (-counts[c], first_seen[c]))
    return ranked[:3]
