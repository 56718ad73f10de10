"""The model price table: USD per million input, output, cache-read and cache-write tokens, by model-name
prefix (docs/api.md 5.5).

Model names carry dates and revisions ("claude-opus-4-1-20250805"), so a table entry is a prefix and the
longest matching prefix wins; that lets a specific release ("claude-opus-4-5") override its family
("claude-opus-4"). The defaults ship as package data; ``USAGEGRAPH_PRICE_TABLE`` names a JSON file of the
same shape that replaces them. A table is parsed once per file path and shared by every request."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

MICRO_USD = Decimal("0.000001")
_MILLION = Decimal(1_000_000)
_FIELDS = ("input", "output", "cacheRead", "cacheWrite")


@dataclass(frozen=True, slots=True)
class Price:
    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal

    def cost(
        self, input_tokens: int, output_tokens: int, cache_read_tokens: int, cache_write_tokens: int
    ) -> Decimal:
        """Exact cost rounded half-up to the micro-dollar, the precision money is stored with."""
        total = (
            input_tokens * self.input
            + output_tokens * self.output
            + cache_read_tokens * self.cache_read
            + cache_write_tokens * self.cache_write
        )
        return (total / _MILLION).quantize(MICRO_USD, rounding=ROUND_HALF_UP)


class PriceTable:
    def __init__(self, prices: dict[str, Price]) -> None:
        self._entries = sorted(
            ((prefix.lower(), price) for prefix, price in prices.items()),
            key=lambda entry: len(entry[0]),
            reverse=True,
        )

    def lookup(self, model: str) -> Price | None:
        name = model.strip().lower()
        for prefix, price in self._entries:
            if name.startswith(prefix):
                return price
        return None

    def __len__(self) -> int:
        return len(self._entries)


def _decimal(value: Any, where: str) -> Decimal:
    try:
        parsed = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"price table: {where} is not a number") from None
    if not parsed.is_finite() or parsed < 0:
        raise ValueError(f"price table: {where} must be a non-negative number")
    return parsed


def parse_price_table(document: Any) -> PriceTable:
    """Reads {"models": {prefix: {input, output, cacheRead, cacheWrite}}}; a missing rate is 0."""
    models = document.get("models") if isinstance(document, dict) else None
    if not isinstance(models, dict):
        raise ValueError('price table: expected an object with a "models" object')
    prices: dict[str, Price] = {}
    for prefix, rates in models.items():
        if not isinstance(rates, dict) or not prefix.strip():
            raise ValueError(f"price table: entry {prefix!r} must be an object of rates")
        unknown = set(rates) - set(_FIELDS)
        if unknown:
            raise ValueError(f"price table: entry {prefix!r} has unknown rates {sorted(unknown)}")
        values = [_decimal(rates.get(name, 0), f"{prefix}.{name}") for name in _FIELDS]
        prices[prefix] = Price(*values)
    return PriceTable(prices)


@functools.lru_cache(maxsize=8)
def _load(path: str | None) -> PriceTable:
    if path is None:
        text = resources.files("usagegraph").joinpath("pricing/default_prices.json").read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    return parse_price_table(json.loads(text, parse_float=Decimal))


def load_price_table(path: Path | None = None) -> PriceTable:
    """The table of this file (the shipped defaults when None), parsed on first use only."""
    return _load(str(path.resolve()) if path is not None else None)
