"""Opaque keyset cursors for connections."""

from __future__ import annotations

import base64
import uuid

import orjson

from usagegraph.errors import BadUserInput

MAX_PAGE = 500


def page_size(first: int | None) -> int:
    size = 50 if first is None else first
    if not 0 <= size <= MAX_PAGE:
        raise BadUserInput(f"first must be between 0 and {MAX_PAGE}", argument="first")
    return size


def encode_cursor(*key: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([str(part) for part in key])).decode()


def decode_cursor(cursor: str | None) -> tuple[str, uuid.UUID] | None:
    if cursor is None:
        return None
    try:
        name, ident = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        return str(name), uuid.UUID(ident)
    except (ValueError, TypeError):
        raise BadUserInput("after is not a cursor returned by this connection", argument="after") from None
