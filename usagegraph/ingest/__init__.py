"""Ingestion: per-record validation, de-duplication against stored rows, and set-based writes of one
batch in one transaction (docs/api.md 5.7)."""
