"""The activity report (every category, ANY) when every bucket boundary is a UTC quarter-hour: local days
of any zone, and any bucket series that starts on a quarter-hour.

A bucket [a, b) covers, of each UTC day d it touches, the piece [lo, hi) of the day's minutes. With P_d(c)
the per-user totals of the day's minutes [0, c) (active minutes, sessions started) and open_d(c) the
sessions open at minute c (started before it, still active), the piece adds P_d(hi) - P_d(lo) to the
bucket, and the bucket's first piece adds open_d(lo) (a session overlaps a bucket iff it starts in it or is
open at its first minute). P_d(0) = 0, P_d(1440) is the day's vector and open_d(0) its `carried`, from
activity_day_vectors; for a cut 0 < c < 1440, P_d(c) is the sum of the four-hour, hour and quarter parts
of [0, c), or the day's vector less the parts of [c, 1440), whichever needs fewer rows, and open_d(c) the `carried`
of the part starting at c, from activity_part_vectors (usagegraph.db.queries.part_vectors). Everything is
read in one statement and added up with numpy: a local day costs about as many organization rows as a
UTC day, and no row per user."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy.ext.asyncio import AsyncConnection

from usagegraph.db.queries import part_vectors

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = _EPOCH.date()
_QUARTER = 15


@dataclass
class Sums:
    """Per bucket (row k, 1-based; row 0 unused) and user of `user_ids`: minutes, sessions started in the
    bucket and sessions open at its first minute."""

    user_ids: list[uuid.UUID]
    minutes: npt.NDArray[np.int32]
    started: npt.NDArray[np.int32]
    opened: npt.NDArray[np.int32]


def _minute(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(minutes=1)


def applies(starts: Sequence[datetime], ends: Sequence[datetime]) -> bool:
    """Whether every bucket boundary is a whole UTC quarter-hour."""
    return all(
        at.second == 0 and at.microsecond == 0 and _minute(at) % _QUARTER == 0 for at in (*starts, *ends)
    )


_SPANS = (240, 60, _QUARTER)


def _parts(c: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The (first minute, span) parts of [0, c) and of [c, 1440) for a quarter-hour 0 < c < 1440, the
    fewest of each: whole four-hour parts, then hours, then quarters towards c."""
    left: list[tuple[int, int]] = []
    at = 0
    for span in _SPANS:
        while at + span <= c:
            left.append((at, span))
            at += span
    right: list[tuple[int, int]] = []
    at = c
    for span in reversed(_SPANS):
        nxt = -(-at // (span * 4)) * span * 4 if span != 240 else 1440
        while at + span <= min(nxt, 1440) and at % span == 0:
            right.append((at, span))
            at += span
    return left, right


async def sums(
    conn: AsyncConnection,
    organization_ids: Sequence[uuid.UUID],
    starts: Sequence[datetime],
    ends: Sequence[datetime],
) -> Sums:
    # The pieces: (bucket, day, lo, hi, opens), day as a number since 1970-01-01.
    pieces: list[tuple[int, int, int, int, bool]] = []
    for k, (bucket_start, bucket_end) in enumerate(zip(starts, ends, strict=True), start=1):
        a, b = _minute(bucket_start), _minute(bucket_end)
        for day in range(a // 1440, (b - 1) // 1440 + 1):
            lo, hi = max(a - day * 1440, 0), min(b - day * 1440, 1440)
            pieces.append((k, day, lo, hi, a >= day * 1440))
    day_numbers = sorted({day for _, day, _, _, _ in pieces})
    day_row = {day: i for i, day in enumerate(day_numbers)}
    cuts = sorted({(day, c) for _, day, lo, hi, _ in pieces for c in (lo, hi) if 0 < c < 1440})
    cut_row = {cut: i for i, cut in enumerate(cuts)}
    part_keys: dict[tuple[int, int, int], int] = {}

    def part(day: int, minute: int, span: int) -> int:
        return part_keys.setdefault((day, minute, span), len(part_keys))

    # P of each cut: sum of sign * part rows, plus the day's vector for the right-hand decomposition.
    term_cut: list[int] = []
    term_part: list[int] = []
    term_sign: list[int] = []
    base_cut: list[int] = []
    opening: list[int] = []
    for i, (day, c) in enumerate(cuts):
        left, right = _parts(c)
        use_left = len(left) <= len(right)
        for minute, span in left if use_left else right:
            term_cut.append(i)
            term_part.append(part(day, minute, span))
            term_sign.append(1 if use_left else -1)
        if not use_left:
            base_cut.append(i)
        opening.append(part(day, *right[0]))  # a part that starts at c
    days = [_EPOCH_DAY + timedelta(days=day) for day in day_numbers]
    keys = [(_EPOCH_DAY + timedelta(days=day), minute, span) for day, minute, span in part_keys]
    whole, entries = await part_vectors.read(conn, organization_ids, days, keys)
    users = len(whole.user_ids)
    # The values referred to, stacked: row 0 zeros, then the days, then the cuts.
    first_cut = 1 + len(days)
    stack_rows = first_cut + len(cuts)
    minutes = np.zeros((stack_rows, users), dtype=np.int32)
    started = np.zeros((stack_rows, users), dtype=np.int32)
    opened = np.zeros((stack_rows, users), dtype=np.int32)
    minutes[1:first_cut], started[1:first_cut], opened[1:first_cut] = (
        whole.minutes,
        whole.starts,
        whole.carried,
    )
    if cuts:
        if base_cut:
            based = np.array(base_cut, dtype=np.int64) + first_cut
            base_days = np.array([day_row[cuts[i][0]] for i in base_cut], dtype=np.int64)
            minutes[based] += whole.minutes[base_days]
            started[based] += whole.starts[base_days]
        term_rows = np.array(term_cut, dtype=np.int64) + first_cut
        term_parts = np.array(term_part, dtype=np.int64)
        term_signs = np.array(term_sign, dtype=np.int32)
        entry_users, entry_minutes, entry_starts = entries.users, entries.minutes, entries.starts
        if len(np.unique(term_parts)) == len(term_parts):
            # Each part in at most one term (the usual case: one cut per day): every entry's row and sign
            # by a look-up on its part, no grouping of the entries.
            row_of = np.full(len(keys), -1, dtype=np.int64)
            row_of[term_parts] = term_rows
            sign_of = np.zeros(len(keys), dtype=np.int32)
            sign_of[term_parts] = term_signs
            rows = row_of[entries.parts]
            entry_parts = entries.parts
            if not (rows >= 0).all():  # parts read only as a cut's opening part
                at = np.flatnonzero(rows >= 0)
                rows, entry_parts = rows[at], entry_parts[at]
                entry_users, entry_minutes, entry_starts = (
                    entry_users[at],
                    entry_minutes[at],
                    entry_starts[at],
                )
            sign = sign_of[entry_parts]
        else:
            rows, at, sign = _Spread(entries, len(keys)).terms(term_rows, term_parts, term_signs)
            entry_users, entry_minutes, entry_starts = entry_users[at], entry_minutes[at], entry_starts[at]
        # Only the cuts' rows receive terms; when every term has the same sign, it is applied to the sums.
        cells = (rows - first_cut) * users + entry_users
        shape = (len(cuts), users)
        uniform = int(term_signs[0]) if (term_signs == term_signs[0]).all() else 0
        for target, values in ((minutes, entry_minutes), (started, entry_starts)):
            if uniform:
                target[first_cut:] += uniform * _scatter(cells, values, shape)
            else:
                target[first_cut:] += _scatter(cells, values * sign, shape)
        # Each cut has a part of its own that starts at it: its entries' carried are the sessions open there.
        open_of = np.full(len(keys), -1, dtype=np.int64)
        open_of[np.array(opening, dtype=np.int64)] = np.arange(len(cuts)) + first_cut
        rows = open_of[entries.parts]
        at = np.flatnonzero(rows >= 0)
        opened[rows[at], entries.users[at]] = entries.carried[at]

    def row(day: int, c: int) -> int:
        if c == 0:
            return 0
        if c == 1440:
            return 1 + day_row[day]
        return first_cut + cut_row[(day, c)]

    def open_row(day: int, c: int) -> int:
        return 1 + day_row[day] if c == 0 else first_cut + cut_row[(day, c)]

    buckets = len(starts) + 1
    ks = np.array([k for k, _, _, _, _ in pieces], dtype=np.int64)
    plus = np.array([row(day, hi) for _, day, _, hi, _ in pieces], dtype=np.int64)
    minus = np.array([row(day, lo) for _, day, lo, _, _ in pieces], dtype=np.int64)
    out_minutes = np.zeros((buckets, users), dtype=np.int32)
    out_started = np.zeros((buckets, users), dtype=np.int32)
    out_opened = np.zeros((buckets, users), dtype=np.int32)
    # A bucket has a piece per UTC day it touches, in order: the pieces are added layer by layer (every
    # bucket's first piece, then every second piece...), each layer naming a bucket at most once.
    layer = np.arange(len(ks)) - np.searchsorted(ks, ks)
    for depth in range(int(layer.max(initial=-1)) + 1):
        at = np.flatnonzero(layer == depth)
        out_minutes[ks[at]] += minutes[plus[at]] - minutes[minus[at]]
        out_started[ks[at]] += started[plus[at]] - started[minus[at]]
    opens = [(k, open_row(day, lo)) for k, day, lo, _, first in pieces if first]
    if opens:
        out_opened[np.array([k for k, _ in opens])] = opened[np.array([r for _, r in opens])]
    return Sums(whole.user_ids, out_minutes, out_started, out_opened)


def _scatter(cells: npt.NDArray[np.int64], values: npt.NDArray[np.int32], shape: tuple[int, ...]) -> Any:
    """The sums of `values` per flat cell index, as an int32 array of `shape` (np.add.at, faster)."""
    size = int(np.prod(shape))
    return np.bincount(cells, weights=values, minlength=size).astype(np.int32).reshape(shape)


class _Spread:
    """The entries of each part, for terms (target row, part, sign): every entry of the term's part."""

    def __init__(self, entries: part_vectors.Entries, parts: int) -> None:
        self.order = np.argsort(entries.parts, kind="stable")
        self.counts = np.bincount(entries.parts, minlength=parts)
        self.first = np.cumsum(self.counts) - self.counts

    def terms(
        self, rows: npt.NDArray[np.int64], parts: npt.NDArray[np.int64], signs: npt.NDArray[np.int32]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int32]]:
        """Per entry of each term: its target row, its position in the entries and the term's sign."""
        lengths = self.counts[parts]
        term = np.repeat(np.arange(len(parts)), lengths)
        within = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        at = self.order[self.first[parts][term] + within]
        return rows[term], at, signs[term].astype(np.int32)
