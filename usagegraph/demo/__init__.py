"""Deterministic demo data: a believable deployment (organizations, people, templates, workspaces,
projects) and months of usage, shaped as `IngestBatch` inputs (docs/api.md 4) so that it travels through the
ordinary ingest path and meets the same validation as the data of real clients.

Everything is drawn from one `random.Random(seed)`, ids included, so a seed and a fixed `now` give the
same bytes on every run and every machine; the split into batches does not change the records."""

from usagegraph.demo.batches import estimate_records, generate
from usagegraph.demo.catalog import (
    DEMO_ADMIN_USERNAME,
    DEMO_MEMBER_USERNAME,
    ENTITY_KINDS,
    FACT_KINDS,
    RESOURCE_DAYS,
    ROLE_NAMES,
    TEMPLATE_COUNT,
    USER_COUNT,
    WORKSPACE_COUNT,
    Batch,
    Record,
)

__all__ = [
    "Batch",
    "DEMO_ADMIN_USERNAME",
    "DEMO_MEMBER_USERNAME",
    "ENTITY_KINDS",
    "FACT_KINDS",
    "RESOURCE_DAYS",
    "ROLE_NAMES",
    "TEMPLATE_COUNT",
    "USER_COUNT",
    "WORKSPACE_COUNT",
    "Record",
    "estimate_records",
    "generate",
]
