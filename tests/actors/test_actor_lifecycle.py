from __future__ import annotations

import asyncio
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.base import Actor
from actors.bus import Bus
from actors.errors import ActorDead, AskTimeout
from actors.lifecycle import LIFECYCLE_TABLE, ActorInput, ActorState, next_actor_state
from venues.machine import IllegalTransition


class Recorder(Actor):
    def __init__(self, name: str = "rec", **kw: Any) -> None:
        super().__init__(name, **kw)
        self.seen: list[Any] = []
        self.stopped = False

    async def handle(self, msg: Any) -> Any:
        if msg == "crash":
            raise RuntimeError("crash requested")
        if msg == "slow":
            await anyio.sleep(10)
        self.seen.append(msg)
        return f"ok:{msg}"

    async def on_stop(self) -> None:
        self.stopped = True


@pytest.mark.anyio
async def test_parent_learns_actor_is_ready_and_gets_its_ref() -> None:
    actor = Recorder()
    async with anyio.create_task_group() as tg:
        ref = await tg.start(actor.run)
        assert actor.state is ActorState.RUNNING
        assert await ref.ask("x") == "ok:x"
        await ref.tell("y")
        await ref.stop()
    assert actor.seen == ["x", "y"] and actor.stopped and actor.state is ActorState.STOPPED


@pytest.mark.anyio
async def test_start_up_error_reaches_the_parent() -> None:
    class Broken(Actor):
        async def on_start(self) -> None:
            raise ConnectionError("venue unreachable")

    caught: list[BaseException] = []
    try:
        async with anyio.create_task_group() as tg:
            await tg.start(Broken("broken").run)
    except* ConnectionError as group:
        caught.extend(group.exceptions)
    assert [str(e) for e in caught] == ["venue unreachable"]


@pytest.mark.anyio
async def test_failing_ask_returns_the_error_to_the_asker_and_the_actor_goes_on() -> None:
    actor = Recorder()
    async with anyio.create_task_group() as tg:
        ref = await tg.start(actor.run)
        with pytest.raises(RuntimeError, match="crash requested"):
            await ref.ask("crash")
        assert await ref.ask("after") == "ok:after"
        await ref.stop()


@pytest.mark.anyio
async def test_asks_queued_behind_a_crash_fail_with_actor_dead() -> None:
    actor = Recorder()
    outcomes: list[str] = []
    with pytest.raises(ExceptionGroup) as eg:
        async with anyio.create_task_group() as tg:
            ref = await tg.start(actor.run)

            async def asker(n: int) -> None:
                try:
                    await ref.ask(n, timeout=2)
                    outcomes.append("answered")
                except ActorDead:
                    outcomes.append("dead")

            actor._inbox_tx.send_nowait(__import__("actors.ref", fromlist=["Envelope"]).Envelope("crash", None))
            for n in range(3):
                tg.start_soon(asker, n)
    assert any(isinstance(e, RuntimeError) for e in eg.value.exceptions)
    assert outcomes == ["dead", "dead", "dead"]
    with pytest.raises(ActorDead):
        await actor.ref.ask("late")


@pytest.mark.anyio
async def test_stop_handles_messages_queued_before_it() -> None:
    actor = Recorder()
    async with anyio.create_task_group() as tg:
        ref = await tg.start(actor.run)
        for n in range(5):
            ref.tell_nowait(n)
        await ref.stop()
    assert actor.seen == [0, 1, 2, 3, 4]
    with pytest.raises(ActorDead):
        await ref.tell("late")


@pytest.mark.anyio
async def test_stop_with_timeout_cancels_a_busy_actor() -> None:
    actor = Recorder()
    async with anyio.create_task_group() as tg:
        ref = await tg.start(actor.run)
        ref.tell_nowait("slow")
        await anyio.sleep(0.01)
        with anyio.fail_after(2):
            await ref.stop(timeout=0.05)
    assert actor.stopped and not actor.alive


@pytest.mark.anyio
async def test_ask_times_out_with_a_typed_error() -> None:
    actor = Recorder()
    async with anyio.create_task_group() as tg:
        ref = await tg.start(actor.run)
        with pytest.raises(AskTimeout, match="did not answer str within 0.05 s"):
            await ref.ask("slow", timeout=0.05)
        tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_actor_receives_bus_messages_from_its_subscriptions() -> None:
    from actors import topics
    from messages import InstrumentId, Quote, Venue

    bus = Bus()

    class Sub(Recorder):
        async def on_start(self) -> None:
            self.subscribe(topics.quote(">"), conflate=True)

    actor = Sub(bus=bus)
    q = Quote(venue=Venue.OKX, instrument=InstrumentId("X"), bid_px=1, bid_sz=1, ask_px=2, ask_sz=1, ts_event=0, ts_recv=0)
    async with anyio.create_task_group() as tg:
        ref = await tg.start(actor.run)
        bus.publish_msg(q)
        with anyio.fail_after(1):
            while not actor.seen:
                await anyio.sleep(0.001)
        await ref.stop()
    assert actor.seen == [q]
    assert bus.subscriptions() == []  # stopping unsubscribes


@pytest.mark.anyio
async def test_no_task_is_left_running_after_shutdown() -> None:
    before = set(asyncio.all_tasks())

    class WithBackground(Recorder):
        async def on_start(self) -> None:
            self.start_soon(anyio.sleep_forever)

    actors = [WithBackground(f"a{n}") for n in range(5)]
    async with anyio.create_task_group() as tg:
        refs = [await tg.start(a.run) for a in actors]
        for r in refs:
            await r.stop()
    await anyio.lowlevel.checkpoint()
    assert set(asyncio.all_tasks()) - before == set()


@given(st.sampled_from(list(ActorState)), st.sampled_from(list(ActorInput)))
def test_lifecycle_table_answers_every_state_and_input(state: ActorState, event: ActorInput) -> None:
    if (state, event) in LIFECYCLE_TABLE:
        assert next_actor_state(state, event) is LIFECYCLE_TABLE[(state, event)]
    else:
        with pytest.raises(IllegalTransition) as err:
            next_actor_state(state, event)
        assert err.value.state is state and err.value.event is event
        assert state.value in str(err.value) and event.value in str(err.value)
