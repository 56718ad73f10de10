"""The board the processes of `serve --workers N` share (usagegraph.http.workers): slots claimed by lock and
taken over when a process ends, the average every process sees, and a crowded process asking its clients
to reconnect."""

from __future__ import annotations

import contextlib
import os

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import AsyncEngine

from usagegraph.app import create_app
from usagegraph.http.workers import BOARD_ENV, Board, worker_board
from usagegraph.settings import Settings


def test_each_process_claims_a_slot_of_its_own_and_a_freed_slot_is_taken_over() -> None:
    with worker_board(2) as directory:
        assert os.environ[BOARD_ENV] == str(directory)
        first, second = Board.join(directory), Board.join(directory)
        assert first is not None and second is not None
        assert (first.slot, second.slot) == (0, 1)
        assert Board.join(directory) is None  # every slot taken
        first.publish(7)
        second.publish(3)
        assert first.counts() == second.counts() == (7, 3)
        first.close()  # a process ends: its slot reads 0 and is free again
        replacement = Board.join(directory)
        assert replacement is not None and replacement.slot == 0 and replacement.counts() == (0, 3)
        replacement.close()
        second.close()
    assert not directory.exists() and BOARD_ENV not in os.environ
    assert Board.join(directory) is None


def test_crowded_means_clearly_more_than_the_average() -> None:
    with worker_board(2) as directory:
        me, other = Board.join(directory), Board.join(directory)
        assert me is not None and other is not None
        other.publish(0)
        assert [held for held in range(10) if me.crowded(held)] == [5, 6, 7, 8, 9]  # average + 2 < held
        other.publish(16)
        assert not me.crowded(20) and me.crowded(21)  # 21 > average 18.5 + 18.5 / 8
        other.publish(60)
        assert not me.crowded(77) and me.crowded(78)  # 78 > average 69 + 69 / 8
        me.close()
        other.close()


async def test_a_crowded_worker_answers_connection_close(settings: Settings, engine: AsyncEngine) -> None:
    with worker_board(2) as directory:
        other = Board.join(directory)
        assert other is not None
        overrides = {
            "workers": 2,
            "keepalive_max_requests": 0,
            "worker_board": directory,
            "admission_min_active": 10,
        }
        app = create_app(settings.model_copy(update=overrides), engine=engine)
        async with (
            LifespanManager(app) as manager,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=manager.app), base_url="http://testserver"
            ) as client,
        ):
            admission = app.state.admission
            assert (await client.get("/healthz")).headers.get("connection") is None
            async with contextlib.AsyncExitStack() as held:
                for _ in range(6):
                    await held.enter_async_context(admission.slot())
                assert other.counts()[1] == 6  # the app (slot 1) publishes what it holds
                assert (await client.get("/healthz")).headers.get("connection") == "close"
                other.publish(6)  # the other process is as busy: no reason to move
                assert (await client.get("/healthz")).headers.get("connection") is None
            assert other.counts()[1] == 0
        other.close()


def test_the_board_lives_in_a_temporary_directory() -> None:
    with worker_board(3) as directory:
        assert (directory / "board").stat().st_size == 24
        assert directory.name.startswith("usagegraph-workers-")
