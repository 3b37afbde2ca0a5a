"""Settings: built once by an entry point from flags and ``CAPGRAPH_*`` variables, then passed
down. Library code never reads the environment itself."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

import platformdirs
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("capgraph", appauthor=False))


class Settings(BaseSettings):
    """Every setting capgraph has. Each is documented in docs/SETTINGS.md (a test checks)."""

    model_config = SettingsConfigDict(env_prefix="CAPGRAPH_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    database: str | None = None
    database_url: str | None = None
    database_pool_size: int = Field(default=10, ge=1, le=200)
    database_timeout: float = Field(default=5.0, gt=0, le=120)
    redis_url: str | None = None
    redis_prefix: str = "capgraph"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    public_url: str | None = None
    registry_name: str = "capgraph"
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_header_bytes: int = Field(default=32_768, ge=1024)
    log_level: str = "info"
    demo: bool = False
    log_origin: str | None = None
    embedder: Literal["minilm", "none"] = "minilm"
    rate_limit_anonymous: int = Field(default=60, ge=1)
    rate_limit_key: int = Field(default=300, ge=1)
    trusted_proxies: str = ""
    claim_allow_private_networks: bool = False
    dns_nameservers: str = ""
    claim_recheck_hours: int = Field(default=24, ge=0)
    self_service_keys: bool = True
    import_max_bytes: int = Field(default=4_194_304, ge=1024)
    import_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    static_dir: Path | None = None

    @property
    def trusted_proxy_addresses(self) -> list[str]:
        """Peers whose ``X-Forwarded-For`` / ``Forwarded`` headers are believed."""
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @property
    def nameservers(self) -> list[tuple[str, int]]:
        """DNS servers for claim look-ups, as (host, port); empty: the system's resolver."""
        out = []
        for item in filter(None, (p.strip() for p in self.dns_nameservers.split(","))):
            host, _, port = item.rpartition(":") if item.count(":") == 1 else (item, "", "53")
            out.append((host or item, int(port or 53)))
        return out

    @property
    def postgres_url(self) -> str | None:
        """The PostgreSQL URL when ``database_url`` selects PostgreSQL, else None (SQLite)."""
        url = self.database_url
        if url and url.split(":", 1)[0] in ("postgresql", "postgres"):
            return url
        return None

    @property
    def database_path(self) -> Path:
        """The SQLite file (``database_url`` when it is ``sqlite:///path``, else ``database``
        when set, else ``capgraph.db`` in the data dir)."""
        if self.database_url and self.database_url.startswith("sqlite:///"):
            return Path(self.database_url.removeprefix("sqlite:///"))  # ////abs, ///relative
        return Path(self.database) if self.database else self.data_dir / "capgraph.db"

    @property
    def origin(self) -> str:
        """The transparency log's origin line (``<host:port of public_url>/log`` by default)."""
        return self.log_origin or f"{urlparse(self.base_url).netloc}/log"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def base_url(self) -> str:
        """The URL written into signed passports (page, claim and compare links)."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")
