"""API tokens: random secrets shown once, stored as SHA-256 digests."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

PREFIX = "ug_"


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def parse_duration(text: str) -> timedelta:
    """'30d', '12h', '90m', '2w' as used by `token create --expires-in`."""
    match = re.fullmatch(r"(\d+)\s*([mhdw])", text.strip().lower())
    if not match:
        raise ValueError(f"invalid duration {text!r}: use e.g. 30d, 12h, 90m, 2w")
    count, unit = int(match.group(1)), match.group(2)
    return {
        "m": timedelta(minutes=count),
        "h": timedelta(hours=count),
        "d": timedelta(days=count),
        "w": timedelta(weeks=count),
    }[unit]
