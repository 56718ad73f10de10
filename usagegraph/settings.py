"""Configuration: one settings object, read from USAGEGRAPH_* environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="USAGEGRAPH_", extra="ignore")

    database_url: str | None = None
    database_read_url: str | None = None
    database_read_retry_seconds: float = Field(default=5.0, gt=0)
    """after the read replica failed, how long reads go to the primary before one tries it again"""
    data_dir: Path = Path("./.usagegraph")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    keepalive_max_requests: int = 10
    """with more than one worker, a keep-alive connection is closed after this many requests (0 = never),
    so that connections spread over the workers again (usagegraph.app.KeepAliveLimitMiddleware)"""
    worker_board: Path | None = None
    """set by `serve --workers N` for its worker processes (usagegraph.http.workers), not by hand"""
    disable_template_insights: bool = False
    price_table: Path | None = None
    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "console"
    introspection: bool = True
    graphiql: bool = True
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    compiled_execution: bool = True
    batching: bool = False

    max_body_bytes: int = 8 * 1024 * 1024
    max_batch_records: int = 50_000
    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5_000
    statement_timeout_ms: int = 30_000
    # Per server process. Connections beyond pool_size are opened for a burst and closed after it, and a
    # new connection costs PostgreSQL a process start and the driver's type introspection: under a steady
    # dashboard load with 10 the server opened several a second. The embedded server allows 200 connections
    # (four processes); an external PostgreSQL needs max_connections of at least 40 per process, plus a few.
    pool_size: int = 20
    pool_max_overflow: int = 20
    document_cache_size: int = 256
    # Admission control, per server process (usagegraph.http.admission): GraphQL requests run in arrival order,
    # at least admission_min_active at once and one more per admission_share requests held (running or
    # waiting); one not admitted within admission_max_wait_seconds gets 503. admission_min_active 0: off.
    admission_min_active: int = Field(default_factory=lambda: (os.cpu_count() or 1) + 1, ge=0)
    admission_share: int = Field(default=5, ge=1)
    admission_max_wait_seconds: float = Field(default=15.0, gt=0)
    max_cost: int = 2_000_000
    rate_limit_per_minute: int = 1200
    rate_limit_burst: int = 200
    rollup_compaction_seconds: float = 60.0
    """how often the server folds the AI session rollups' delta rows (0 = never)"""
    insights_refresh_seconds: float = 30.0
    """how often the server recomputes the Template Insights day rows of days ingest touched (0 = never)"""
    # Retention (docs/operations.md#retention): raw rows older than this many days are purged in the
    # background; 0 keeps them forever (the default). The rollups are kept; analytics that need the raw
    # rows refuse ranges that start before the cutoff, naming the setting.
    retention_resource_samples_days: int = Field(default=0, ge=0)
    retention_node_samples_days: int = Field(default=0, ge=0)
    retention_latency_samples_days: int = Field(default=0, ge=0)
    retention_activity_sessions_days: int = Field(default=0, ge=0)
    retention_ai_sessions_days: int = Field(default=0, ge=0)
    """AI sessions and their usage lines (per-model rows)"""
    retention_purge_seconds: float = Field(default=3600.0, ge=0)
    """how often the server purges what the retention settings let go (0 = never; `usagegraph purge` still works)"""
    retention_batch_rows: int = Field(default=5_000, ge=1)
    """rows deleted per statement and transaction by the purge"""
    # The Prometheus that scrapes this deployment, read by Query.controlPlane (docs/monitoring.md): unset, the
    # control-plane charts are off. Only fixed queries built by the server are sent to it.
    prometheus_url: str | None = None
    prometheus_job: str | None = None
    """the scrape job of this deployment (a `job` matcher on every query), for a Prometheus that scrapes several"""
    prometheus_timeout_seconds: float = Field(default=5.0, gt=0)
    prometheus_rate_window_seconds: int = Field(default=120, ge=1)
    """the shortest rate window of the charts (at least four scrape intervals); a longer step widens it"""

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value
