"""The HTTP transport: JSON API under /api/v1, problem+json errors."""
