"""Admission control (usagegraph.http.admission): arrival order, how many run at once, turning away after the
longest wait, and clients that leave while they wait."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from usagegraph.http.admission import Admission, Overloaded


async def _hold(admission: Admission, name: int, admitted: list[int], release: asyncio.Event) -> None:
    async with admission.slot():
        admitted.append(name)
        await release.wait()


async def _holders(
    admission: Admission, count: int
) -> tuple[list[int], list[asyncio.Event], list[asyncio.Task[None]]]:
    """`count` requests started in order, each holding its turn until its event is set."""
    admitted: list[int] = []
    releases = [asyncio.Event() for _ in range(count)]
    tasks = [asyncio.create_task(_hold(admission, n, admitted, releases[n])) for n in range(count)]
    await _settle()
    return admitted, releases, tasks


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_requests_are_admitted_in_arrival_order_up_to_the_limit() -> None:
    admission = Admission(min_active=2, share=100, max_wait=10)
    admitted, releases, tasks = await _holders(admission, 6)
    assert admitted == [0, 1] and admission.active == 2 and admission.waiting == 4
    releases[1].set()
    await _settle()
    assert admitted == [0, 1, 2]
    releases[0].set()
    releases[2].set()
    await _settle()
    assert admitted == [0, 1, 2, 3, 4] and admission.active == 2
    for release in releases:
        release.set()
    await asyncio.gather(*tasks)
    assert admission.active == 0 and admission.waiting == 0


@pytest.mark.parametrize(("held", "running"), [(1, 1), (2, 2), (8, 2), (9, 3), (12, 3), (13, 4), (20, 5)])
async def test_how_many_run_at_once_grows_with_the_requests_held(held: int, running: int) -> None:
    admission = Admission(min_active=2, share=4, max_wait=10)
    admitted: list[int] = []
    release = asyncio.Event()
    tasks = [asyncio.create_task(_hold(admission, n, admitted, release)) for n in range(held)]
    await _settle()
    assert admission.active == running and admitted == list(range(running))
    release.set()
    await asyncio.gather(*tasks)
    assert sorted(admitted) == list(range(held)) and admission.active == 0


async def test_a_request_that_waits_too_long_is_turned_away_and_the_queue_goes_on() -> None:
    admission = Admission(min_active=1, share=100, max_wait=0.05)
    admitted: list[int] = []
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(admission, 0, admitted, release))
    await _settle()
    with pytest.raises(Overloaded) as turned_away:
        async with admission.slot():
            pytest.fail("admitted while the only turn was taken")
    assert turned_away.value.waited >= 0.05
    assert admission.active == 1 and admission.waiting == 0
    release.set()
    await holder
    async with admission.slot() as waited:
        assert waited < 0.05 and admission.active == 1
    assert admission.active == 0


async def test_a_client_that_leaves_while_waiting_gives_up_its_place() -> None:
    admission = Admission(min_active=1, share=100, max_wait=10)
    admitted, releases, tasks = await _holders(admission, 3)
    tasks[1].cancel()
    await _settle()
    assert admission.waiting == 1
    releases[0].set()
    await _settle()
    assert admitted == [0, 2] and admission.active == 1
    releases[2].set()
    results: list[Any] = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[1], asyncio.CancelledError)
    assert admission.active == 0 and admission.waiting == 0


async def test_a_waiter_admitted_and_cancelled_in_the_same_moment_hands_its_turn_on() -> None:
    admission = Admission(min_active=1, share=100, max_wait=10)
    admitted, releases, tasks = await _holders(admission, 3)
    releases[0].set()
    await asyncio.sleep(0)  # the holder leaves and admits waiter 1, which has not run yet
    tasks[1].cancel()
    await _settle()
    assert admitted == [0, 2] and admission.active == 1
    releases[2].set()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert admission.active == 0 and admission.waiting == 0


def test_limits_below_one_are_refused() -> None:
    with pytest.raises(ValueError):
        Admission(min_active=0, share=4, max_wait=1)
