"""NatsBridge against a real nats-server (JetStream on, loopback, a fresh store per test).

Two buses in one test process joined by two bridges stand for two processes; one test runs a real second
OS process. Skipped with a reason only when no nats-server binary can be found.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import msgspec
import nats
import pytest

from actors import topics
from actors.bus import Bus, Subscription
from actors.nats_bridge import BridgeState, NatsBridge, NatsBridgeConfig, NatsBridgeStatus
from actors.nats_config import split_inbound
from messages import (
    ClientOrderId,
    InstrumentId,
    Message,
    OrderIntent,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Quote,
    Side,
    Venue,
    encode_msgpack,
)
from tests.ports import free_port

REPO = Path(__file__).resolve().parents[2]
INST = InstrumentId("BTC-USDT-PERP")

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def _nats_server_binary() -> str | None:
    return os.environ.get("NATS_SERVER_BIN") or shutil.which("nats-server") or (
        "/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None
    )


class NatsServer:
    """One nats-server with JetStream on a loopback port; ``kill`` (SIGKILL) and ``start`` again keep the
    port and the store directory."""

    def __init__(self, binary: str, store: Path) -> None:
        self.binary = binary
        self.store = store
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = store.parent / f"nats-{self.port}.log"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store)],
                stdout=log, stderr=subprocess.STDOUT,
            )
        for _ in range(500):
            if self.proc.poll() is not None:
                pytest.fail(f"nats-server exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            if "Server is ready" in self.log.read_text(errors="replace"):
                return
            time.sleep(0.01)  # a sync fixture: no event loop to yield to
        pytest.fail(f"nats-server not ready after 5 s: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    binary = _nats_server_binary()
    if binary is None:
        pytest.skip("no nats-server binary on PATH (apt-get install nats-server, or set NATS_SERVER_BIN)")
    server = NatsServer(binary, tmp_path / "js")
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- helpers --------------------------------------------------------------------------------------
def _config(server: NatsServer, node: str, **kw: Any) -> NatsBridgeConfig:
    return NatsBridgeConfig(servers=[server.url], node=node, subject_prefix="crossbook.", reconnect_wait_s=0.2,
                            start_wait_s=10.0, fetch_timeout_s=0.5, **kw)


def _quote(n: int, venue: Venue = Venue.BINANCE) -> Quote:
    return Quote(venue=venue, instrument=INST, bid_px=96500.0 + n, bid_sz=1.0, ask_px=96500.5 + n, ask_sz=2.0,
                 ts_event=n, ts_recv=n)


def _update(n: int, status: OrderStatus = OrderStatus.SUBMITTED) -> OrderUpdate:
    return OrderUpdate(
        venue=Venue.BINANCE, instrument=INST, client_order_id=ClientOrderId(f"cb-{n}"), venue_order_id=None,
        status=status, raw_status=status.value, side=Side.BUY, order_type=OrderType.LIMIT,
        quantity=Decimal("0.010"), filled_qty=Decimal("0"), avg_price=None, price=Decimal("96500.1"),
        ts_event=n, ts_recv=n,
    )


def _intent(n: int) -> OrderIntent:
    return OrderIntent(strategy="arb", instrument=INST, side=Side.SELL, quantity=Decimal("0.5"),
                       price=Decimal("96600.0"), ts=n)


class Recorder:
    """Everything the bus delivers on one pattern, in order (the bridge's own status, which it publishes on
    the local bus every second, aside)."""

    def __init__(self, bus: Bus, pattern: str) -> None:
        self.sub: Subscription = bus.subscribe_events(pattern, name=f"rec:{pattern}".replace(".", "_")
                                                      .replace(">", "all").replace("*", "any"))

    def take(self) -> list[Message]:
        assert self.sub.receiver is not None
        return [m for m in self.sub.receiver.drain() if not isinstance(m, NatsBridgeStatus)]

    async def collect(self, n: int, timeout: float = 10.0) -> list[Message]:
        got: list[Message] = []
        assert self.sub.receiver is not None
        with anyio.move_on_after(timeout):
            while len(got) < n:
                msg = await self.sub.receiver.receive()
                if not isinstance(msg, NatsBridgeStatus):
                    got.append(msg)
        return got


async def _eventually(cond: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    with anyio.move_on_after(timeout):
        while not cond():  # noqa: ASYNC110 - polling another actor's status is the point here
            await anyio.sleep(0.02)
        return
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
async def tg() -> AsyncIterator[anyio.abc.TaskGroup]:
    async with anyio.create_task_group() as group:
        yield group
        group.cancel_scope.cancel()


# -- config ---------------------------------------------------------------------------------------
def test_subscribe_patterns_are_split_between_jetstream_and_core() -> None:
    durable = ["orders.>", "control.failover"]
    assert split_inbound(["md.>", "orders.update.*"], durable) == (["orders.update.*"], ["md.>"])
    assert split_inbound([">"], durable) == (["orders.>", "control.failover"], [">"])
    with pytest.raises(ValueError, match="partly overlaps JetStream topics 'orders.>'"):
        split_inbound(["*.intent"], durable)


# -- two buses, two bridges -----------------------------------------------------------------------
async def test_two_bridges_exchange_market_data_on_core_and_orders_on_jetstream(
    nats_server: NatsServer, tg: anyio.abc.TaskGroup
) -> None:
    bus_v, bus_s = Bus(), Bus()  # the venues process and the strategies process
    venues = NatsBridge(_config(nats_server, "venues", publish=["md.>", "orders.update.*"],
                                subscribe=["orders.intent"]), bus=bus_v, name="venues")
    strategies = NatsBridge(_config(nats_server, "strategies", publish=["orders.intent"],
                                    subscribe=["md.>", "orders.update.*"]), bus=bus_s, name="strategies")
    await tg.start(venues.run)
    await tg.start(strategies.run)
    assert venues.status().state is BridgeState.CONNECTED
    quotes_s, updates_s, intents_v = Recorder(bus_s, "md.>"), Recorder(bus_s, "orders.>"), Recorder(bus_v, "orders.intent")

    q = _quote(1)
    bus_v.publish_msg(q)
    assert await quotes_s.collect(1) == [q]
    updates = [_update(n) for n in range(5)]
    for u in updates:
        bus_v.publish_msg(u)
    assert await updates_s.collect(5) == updates
    intent = _intent(7)
    bus_s.publish_msg(intent)
    assert await intents_v.collect(1) == [intent]

    st_v, st_s = venues.status(), strategies.status()
    assert (st_v.published_core, st_v.published_js, st_v.received_js) == (1, 5, 1)
    assert (st_s.received_core, st_s.received_js, st_s.published_js) == (1, 5, 1)
    assert st_v.malformed == st_s.malformed == 0
    await venues.ref.stop()
    await strategies.ref.stop()
    for r in (quotes_s, updates_s, intents_v):
        r.sub.cancel()
    bus_v.close()
    bus_s.close()


async def test_restarted_subscriber_receives_every_missed_order_update_exactly_once(
    nats_server: NatsServer, tg: anyio.abc.TaskGroup
) -> None:
    bus_v, bus_s = Bus(), Bus()
    venues = NatsBridge(_config(nats_server, "venues", publish=["orders.>"]), bus=bus_v, name="venues")
    cfg_s = _config(nats_server, "strategies", subscribe=["orders.update.*"])
    first = NatsBridge(cfg_s, bus=bus_s, name="strategies")
    await tg.start(venues.run)
    await tg.start(first.run)
    rec = Recorder(bus_s, "orders.>")
    bus_v.publish_msg(_update(0))
    assert await rec.collect(1) == [_update(0)]
    await first.ref.stop()

    missed = [_update(n) for n in range(1, 21)]
    for u in missed:
        bus_v.publish_msg(u)
    bus_v.publish_msg(missed[3])  # the same message again (a re-publish): same Nats-Msg-Id, stored once
    await _eventually(lambda: venues.status().published_js == 22 and venues.status().pending_orders == 0,
                      what="the venues bridge to publish everything")
    assert venues.status().js_server_duplicates == 1

    second = NatsBridge(cfg_s, bus=bus_s, name="strategies")
    await tg.start(second.run)
    assert await rec.collect(20) == missed
    await anyio.sleep(0.5)
    assert rec.take() == []  # nothing twice, nothing old
    assert second.status().received_js == 20
    await second.ref.stop()
    await venues.ref.stop()
    rec.sub.cancel()
    bus_v.close()
    bus_s.close()


async def test_both_bridges_survive_a_nats_server_kill_and_deliver_orders_sent_during_the_outage(
    nats_server: NatsServer, tg: anyio.abc.TaskGroup
) -> None:
    bus_v, bus_s = Bus(), Bus()
    venues = NatsBridge(_config(nats_server, "venues", publish=["md.>", "orders.>"]), bus=bus_v, name="venues")
    strategies = NatsBridge(_config(nats_server, "strategies", subscribe=["md.>", "orders.>"]), bus=bus_s,
                            name="strategies")
    await tg.start(venues.run)
    await tg.start(strategies.run)
    quotes, orders = Recorder(bus_s, "md.>"), Recorder(bus_s, "orders.>")
    bus_v.publish_msg(_update(0))
    assert await orders.collect(1) == [_update(0)]

    nats_server.kill()
    await _eventually(lambda: venues.status().state is BridgeState.RECONNECTING
                      and strategies.status().state is BridgeState.RECONNECTING, what="both to see the outage")
    during = [_update(n) for n in range(1, 11)]
    t0 = time.perf_counter()
    for u in during:
        bus_v.publish_msg(u)
    for n in range(100):
        bus_v.publish_msg(_quote(n, Venue.OKX))
    assert time.perf_counter() - t0 < 0.1  # the bus never waits for NATS (publish is synchronous anyway)
    await _eventually(lambda: venues.status().dropped_core >= 1, what="market data dropped while down")
    assert venues.status().pending_orders >= 1

    nats_server.start()
    await _eventually(lambda: venues.status().state is BridgeState.CONNECTED
                      and strategies.status().state is BridgeState.CONNECTED, timeout=20, what="reconnects")
    assert await orders.collect(10, timeout=20) == during
    await anyio.sleep(0.5)
    assert orders.take() == []
    st_v, st_s = venues.status(), strategies.status()
    assert st_v.disconnects >= 1 and st_v.reconnects >= 1 and st_s.reconnects >= 1
    assert st_v.dropped_orders == 0 and st_v.pending_orders == 0

    quotes.take()  # whatever market data got through before the kill
    fresh = _quote(1000, Venue.BYBIT)
    bus_v.publish_msg(fresh)  # core traffic flows again after the reconnect
    got = await quotes.collect(1)
    assert got == [fresh]
    await venues.ref.stop()
    await strategies.ref.stop()
    for r in (quotes, orders):
        r.sub.cancel()
    bus_v.close()
    bus_s.close()


async def test_messages_from_nats_are_never_published_back(nats_server: NatsServer, tg: anyio.abc.TaskGroup) -> None:
    bus_a, bus_b = Bus(), Bus()
    both = {"publish": ["md.>", "orders.>"], "subscribe": ["md.>", "orders.>"]}
    a = NatsBridge(_config(nats_server, "a", **both), bus=bus_a, name="a")
    b = NatsBridge(_config(nats_server, "b", **both), bus=bus_b, name="b")
    await tg.start(a.run)
    await tg.start(b.run)
    rec_a, rec_b = Recorder(bus_a, ">"), Recorder(bus_b, ">")
    q, u = _quote(5), _update(5)
    bus_a.publish_msg(q)
    bus_a.publish_msg(u)
    assert sorted(map(repr, await rec_b.collect(2))) == sorted(map(repr, [q, u]))
    await anyio.sleep(1.0)
    assert rec_a.take() == [q, u]  # only what was published locally: nothing came back
    assert rec_b.take() == []
    st_a, st_b = a.status(), b.status()
    assert (st_a.published_core, st_a.published_js, st_a.received_core, st_a.received_js) == (1, 1, 0, 0)
    assert (st_b.published_core, st_b.published_js, st_b.received_core, st_b.received_js) == (0, 0, 1, 1)
    assert st_b.echo_suppressed == 2
    for bridge in (a, b):
        await bridge.ref.stop()
    for r in (rec_a, rec_b):
        r.sub.cancel()
    bus_a.close()
    bus_b.close()


async def test_malformed_bytes_are_counted_and_dropped(nats_server: NatsServer, tg: anyio.abc.TaskGroup) -> None:
    bus = Bus()
    bridge = NatsBridge(_config(nats_server, "s", subscribe=["md.>", "orders.>"]), bus=bus, name="s")
    await tg.start(bridge.run)
    rec = Recorder(bus, ">")
    raw = await nats.connect(nats_server.url)
    js = raw.jetstream()
    await raw.publish("crossbook.md.quote.binance.BTC-USDT-PERP", b"\xc1not msgpack")
    await raw.publish("crossbook.md.quote.binance.BTC-USDT-PERP", msgspec.msgpack.encode({"type": "Nope"}))
    await js.publish("crossbook.orders.update.binance", b"\xff\x00garbage")
    good_q, good_u = _quote(9), _update(9)
    await raw.publish("crossbook.md.quote.binance.BTC-USDT-PERP", encode_msgpack(good_q))
    await js.publish("crossbook.orders.update.binance", encode_msgpack(good_u))
    await raw.flush()
    got = await rec.collect(2)
    assert sorted(map(repr, got)) == sorted(map(repr, [good_q, good_u]))
    st = bridge.status()
    assert st.malformed == 3 and st.state is BridgeState.CONNECTED
    assert "malformed payload on crossbook." in st.last_error
    await raw.close()
    await bridge.ref.stop()
    rec.sub.cancel()
    bus.close()


async def test_local_process_keeps_working_while_nats_is_down_and_connects_when_it_comes(
    nats_server: NatsServer, tg: anyio.abc.TaskGroup
) -> None:
    nats_server.kill()
    bus_v, bus_s = Bus(), Bus()
    cfg = msgspec.structs.replace(_config(nats_server, "venues", publish=["md.>", "orders.>"]), start_wait_s=0.3)
    venues = NatsBridge(cfg, bus=bus_v, name="venues")
    local = Recorder(bus_v, ">")
    with anyio.fail_after(5):
        await tg.start(venues.run)  # ready without NATS, after start_wait_s
    st = venues.status()
    assert st.state in (BridgeState.CONNECTING, BridgeState.RECONNECTING, BridgeState.DISCONNECTED)
    assert "connect" in st.last_error.lower()
    bus_v.publish_msg(_quote(1))
    bus_v.publish_msg(_update(1))
    assert await local.collect(2) == [_quote(1), _update(1)]  # local subscribers unaffected
    await _eventually(lambda: venues.status().dropped_core == 1, what="the quote counted as dropped")

    nats_server.start()
    strategies = NatsBridge(_config(nats_server, "strategies", subscribe=["orders.>"],
                                    deliver_policy="all"), bus=bus_s, name="strategies")
    await tg.start(strategies.run)
    orders = Recorder(bus_s, "orders.>")
    await _eventually(lambda: venues.status().state is BridgeState.CONNECTED, timeout=15, what="first connect")
    assert await orders.collect(1) == [_update(1)]  # buffered while down, flushed once connected
    assert venues.status().connects == 1
    for bridge in (venues, strategies):
        await bridge.ref.stop()
    for r in (local, orders):
        r.sub.cancel()
    bus_v.close()
    bus_s.close()


async def test_a_separate_os_process_sends_quotes_and_orders_through_nats(
    nats_server: NatsServer, tg: anyio.abc.TaskGroup
) -> None:
    bus = Bus()
    bridge = NatsBridge(NatsBridgeConfig(servers=[nats_server.url], node="strategies", start_wait_s=10.0,
                                         subscribe=[topics.quote(">"), topics.order_update("*")]),
                        bus=bus, name="strategies")
    await tg.start(bridge.run)
    orders, quotes = Recorder(bus, "orders.>"), Recorder(bus, "md.>")
    args = {"url": nats_server.url, "node": "venues", "quotes": 50, "orders": 5, "interval_s": 0.002}
    proc = await anyio.run_process([sys.executable, "-m", "tests.actors.nats_peer", json.dumps(args)], cwd=REPO,
                                   check=False)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    lines = proc.stdout.decode().splitlines()
    assert lines[0] == "ready"
    peer = json.loads(lines[-1])
    assert peer["published_js"] == 5 and peer["published_core"] >= 1

    from tests.actors.nats_peer import order_update

    assert await orders.collect(5) == [order_update(n) for n in range(5)]
    await _eventually(lambda: bridge.status().received_core >= 1, what="quotes from the other process")
    got = quotes.take()
    assert got and all(isinstance(q, Quote) and q.venue is Venue.OKX for q in got)
    assert got[-1].ts_event == 49  # type: ignore[attr-defined]  # the newest arrives
    await bridge.ref.stop()
    for r in (orders, quotes):
        r.sub.cancel()
    bus.close()
