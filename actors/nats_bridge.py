"""NatsBridge: joins the local bus to NATS, topic to subject one to one (optionally under a prefix).

Rules:
- A topic IS the subject: ``subject = prefix + topic``. Payloads are the bus union as msgpack
  (``messages.encode_msgpack`` / ``messages.msgpack_decoder``: one encoder, one decoder).
- Two classes of traffic, decided by ``jetstream_topics`` (default ``orders.>`` and ``control.failover``):
  - core NATS (market data, health, aggregates): at most once. The bus feeds a conflating mailbox keyed by
    topic, so a slow link never blocks the feed; while NATS is down these are dropped and counted.
  - JetStream (orders, failover): the stream ``stream`` is created or updated at connect; every publish
    carries ``Nats-Msg-Id`` = hash of subject + payload, so a re-publish after a reconnect is deduplicated
    by the server. Outgoing messages wait in a bounded FIFO (overflow is counted, never blocks the bus) and
    are retried with backoff until the server acknowledges them. Incoming ones come from a durable pull
    consumer per pattern (``<node>-<pattern>``) with explicit acks, so a restarted process receives what it
    missed; ids seen recently are dropped again on this side (redelivery after a lost ack).
- No echo loops: a message the bridge itself puts on the local bus is never sent back out (the bus call is
  synchronous, so the outbound side knows it is the bridge's own), core NATS does not echo our own
  publishes (``no_echo``), and JetStream messages whose ``Crossbook-Origin`` is this node are acked and
  skipped.
- NATS trouble never reaches the local process: publishing from the bus never blocks or raises. Malformed
  payloads are counted and dropped (JetStream: terminated, so they are not redelivered).
- Connecting: our own retry with ``Backoff`` until the first connect succeeds, then nats-py's reconnect
  (forever, ``reconnect_wait_s`` apart). ``status()`` reports the state and counters.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections import OrderedDict
from typing import Any

import anyio
import anyio.lowlevel
import msgspec
import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig

from actors import topics
from actors.base import Actor
from actors.bus import Bus, Subscription
from actors.clock import Clock
from actors.mailbox import (
    ConflatingReceiver,
    ConflatingSender,
    FifoReceiver,
    FifoSender,
    conflating_mailbox,
    fifo_mailbox,
)
from actors.nats_config import BridgeState, NatsBridgeConfig, NatsBridgeStatus, consumer_token, split_inbound
from messages import Message, encode_msgpack, msgpack_decoder
from messages.control import MailboxOverflow

__all__ = ["NatsBridge", "NatsBridgeConfig", "NatsBridgeStatus", "BridgeState", "ORIGIN_HEADER"]

log = logging.getLogger("crossbook.nats")

ORIGIN_HEADER = "Crossbook-Origin"
_MSG_ID = "Nats-Msg-Id"
_ROUTE_CACHE = 100_000
_SEEN_IDS = 100_000


class _Outbound:
    """The bus side: never blocks, never raises for NATS trouble."""

    __slots__ = ("_bridge",)

    def __init__(self, bridge: NatsBridge) -> None:
        self._bridge = bridge

    def deliver(self, topic: str, item: Any) -> None:
        self._bridge._outbound(topic, item)


class NatsBridge(Actor):
    """Publishes configured local topics to NATS and delivers configured subjects into the local bus.

    Start with ``await tg.start(bridge.run)``; read ``status()`` at any time; stop with ``bridge.ref.stop()``.
    """

    bus: Bus  # always given (the base class's is optional)

    def __init__(
        self,
        config: NatsBridgeConfig,
        *,
        bus: Bus,
        name: str = "nats",
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(name, bus=bus, clock=clock)
        for p in (*config.publish, *config.subscribe, *config.jetstream_topics):
            topics.validate_pattern(p)
        self.config = config
        self.node = topics.token(config.node or name)
        self._rng = rng or random.Random()
        self._prefix = config.subject_prefix
        self._js_in, self._core_in = split_inbound(config.subscribe, config.jetstream_topics)
        self._routes: dict[str, int] = {}  # topic -> 0 not sent, 1 core, 2 JetStream
        self._injecting = False
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._up = anyio.Event()
        self._ready = anyio.Event()
        self._link = BridgeState.CONNECTING
        self._sub: Subscription | None = None
        self._md_tx: ConflatingSender | None = None
        self._md_rx: ConflatingReceiver | None = None
        self._js_tx: FifoSender[Any] | None = None
        self._js_rx: FifoReceiver[Any] | None = None
        self._inflight: tuple[str, bytes, dict[str, str]] | None = None
        self._stopping = False
        self._fetching = 0  # pull requests outstanding on the server
        self._fetch_idle = anyio.Event()  # set once stopping and no pull request is outstanding
        self._c: dict[str, int] = dict.fromkeys(
            ("connects", "disconnects", "reconnects", "published_core", "published_js", "received_core",
             "received_js", "dropped_core", "dropped_orders", "js_retries", "js_server_duplicates",
             "duplicates_dropped", "malformed", "echo_suppressed"), 0)
        self._last_error = ""
        self._last_error_ts = 0

    # -- public -----------------------------------------------------------------------------------
    def status(self) -> NatsBridgeStatus:
        """The current state and counters (cheap; safe to call from any task)."""
        nc = self._nc
        server = ""
        if nc is not None and nc.connected_url is not None:
            server = nc.connected_url.netloc
        pending = (self._js_rx.statistics().depth if self._js_rx is not None else 0) + (self._inflight is not None)
        return NatsBridgeStatus(
            name=self.name, state=self._link, server=server, pending_orders=pending,
            last_error=self._last_error, last_error_ts=self._last_error_ts, ts=self.clock.time_ns(), **self._c,
        )

    def subject(self, topic: str) -> str:
        """The NATS subject for a bus topic (or pattern)."""
        return self._prefix + topic

    async def wait_connected(self, timeout: float) -> bool:
        """Wait until the bridge is connected and its stream and consumers are set up."""
        with anyio.move_on_after(timeout):
            while not (self._up.is_set() and self._ready.is_set()):
                await self._up.wait()
                await self._ready.wait()
            return True
        return False

    # -- lifecycle --------------------------------------------------------------------------------
    async def stop(self, timeout: float | None = None) -> None:
        """Stop cleanly: let outstanding pull requests expire first.

        A pull request still waiting on the server when we close would take one more message that nobody
        acks (nats-server 2.9 delivers it before noticing the interest is gone); it would come back only after
        ``ack_wait_s`` and out of order. So the readers finish their current fetch (at most
        ``fetch_timeout_s``) and ack what it brought before the actor stops.
        """
        self._stopping = True
        if self._fetching:
            with anyio.move_on_after(self.config.fetch_timeout_s + 1.0):
                await self._fetch_idle.wait()
        await super().stop(timeout)

    async def on_start(self) -> None:
        cfg = self.config
        self._md_tx, self._md_rx = conflating_mailbox(f"{self.name}.core_out", max_keys=cfg.md_max_keys)
        self._js_tx, self._js_rx = fifo_mailbox(cfg.order_buffer, f"{self.name}.js_out", overflow="notify")
        if cfg.publish:
            self._sub = self.bus.subscribe(topics.ALL, _Outbound(self), name=f"{self.name}:out")
        self.start_soon(self._connect_loop)
        self.publish_every(cfg.stats_interval_s, topics.bridge_stats(), self.status)
        self.start_soon(self._core_pump)
        self.start_soon(self._js_pump)
        with anyio.move_on_after(cfg.start_wait_s):
            await self._ready.wait()

    async def on_stop(self) -> None:
        if self._sub is not None:
            self._sub.cancel()
            self._sub = None
        nc = self._nc
        with anyio.move_on_after(self.config.stop_flush_s):
            await self._flush_orders_at_stop()
        if nc is not None:
            with anyio.move_on_after(self.config.stop_flush_s):
                try:
                    await nc.flush(timeout=max(1, int(self.config.stop_flush_s)))  # our acks reach the server
                except Exception as exc:  # noqa: BLE001 - best effort at shutdown
                    self._error(f"flush at stop: {exc!r}")
            with anyio.move_on_after(self.config.stop_flush_s):
                await nc.close()
        for end in (self._md_tx, self._md_rx, self._js_tx, self._js_rx):
            if end is not None:
                end.close()
        self._link = BridgeState.CLOSED

    async def _flush_orders_at_stop(self) -> None:
        """Send what is still queued for JetStream, while connected and within ``stop_flush_s``."""
        if self._js_rx is None or self._js is None or self._nc is None or not self._nc.is_connected:
            return
        queued = [self._inflight] if self._inflight is not None else []
        queued += [self._prepare(item) for item in self._js_rx.drain() if not isinstance(item, MailboxOverflow)]
        for subject, payload, headers in queued:
            try:
                await self._js.publish(subject, payload, timeout=self.config.publish_timeout_s, headers=headers)
                self._c["published_js"] += 1
            except Exception as exc:  # noqa: BLE001 - reported, the process is stopping anyway
                self._c["dropped_orders"] += 1
                self._error(f"publish {subject} at stop: {exc!r}")
        self._inflight = None

    # -- outbound ---------------------------------------------------------------------------------
    def _outbound(self, topic: str, msg: Any) -> None:
        route = self._routes.get(topic)
        if route is None:
            route = self._route(topic)
        if not route:
            return
        if self._injecting:
            self._c["echo_suppressed"] += 1  # it came from NATS: never send it back
            return
        try:
            if route == 1:
                assert self._md_tx is not None
                self._md_tx.deliver(topic, (topic, msg))
            else:
                assert self._js_tx is not None
                self._js_tx.deliver(topic, (topic, msg))
        except Exception as exc:  # noqa: BLE001 - the bus must never see NATS trouble
            self._c["dropped_orders" if route == 2 else "dropped_core"] += 1
            self._error(f"queueing {topic}: {exc!r}")

    def _route(self, topic: str) -> int:
        cfg = self.config
        route = 0
        if topic.startswith(topics.LOCAL_PREFIX):
            pass  # each process's own statistics: never across NATS
        elif any(topics.matches(p, topic) for p in cfg.publish):
            route = 2 if any(topics.matches(p, topic) for p in cfg.jetstream_topics) else 1
        if len(self._routes) >= _ROUTE_CACHE:
            self._routes.clear()
        self._routes[topic] = route
        return route

    async def _core_pump(self) -> None:
        assert self._md_rx is not None
        rx = self._md_rx
        c = self._c
        prefix = self._prefix
        while True:
            batch = [await rx.receive()]
            batch += rx.drain()  # what else is waiting: one wake-up for the lot
            nc = self._nc
            if nc is None or not nc.is_connected:
                c["dropped_core"] += len(batch)  # stale market data is worth nothing later: no reconnect buffering
                continue
            for topic, msg in batch:
                try:
                    await nc.publish(prefix + topic, encode_msgpack(msg))
                except Exception as exc:  # noqa: BLE001 - at most once: drop, count, go on
                    c["dropped_core"] += 1
                    self._error(f"publish {topic}: {exc!r}")
                else:
                    c["published_core"] += 1

    def _prepare(self, item: tuple[str, Message]) -> tuple[str, bytes, dict[str, str]]:
        topic, msg = item
        subject = self._prefix + topic
        payload = encode_msgpack(msg)
        msg_id = hashlib.blake2b(subject.encode() + b"\0" + payload, digest_size=16).hexdigest()
        return subject, payload, {_MSG_ID: msg_id, ORIGIN_HEADER: self.node}

    async def _js_pump(self) -> None:
        assert self._js_rx is not None
        rx = self._js_rx
        c = self._c
        while True:
            item = await rx.receive()
            if isinstance(item, MailboxOverflow):
                c["dropped_orders"] += item.dropped
                self._error(f"order buffer full ({self.config.order_buffer}): dropped {item.dropped} on {item.topic}")
                continue
            self._inflight = self._prepare(item)
            subject, payload, headers = self._inflight
            attempt = 0
            while True:
                await self._wait_up()
                assert self._js is not None
                try:
                    ack = await self._js.publish(
                        subject, payload, timeout=self.config.publish_timeout_s, headers=dict(headers)
                    )
                except Exception as exc:  # noqa: BLE001 - retried with the same id: the server dedups
                    c["js_retries"] += 1
                    self._error(f"JetStream publish {subject} (attempt {attempt + 1}): {exc!r}")
                    if isinstance(exc, nats.js.errors.NoStreamResponseError | nats.js.errors.NotFoundError):
                        await self._ensure_stream_quietly()
                    await anyio.sleep(self.config.backoff.delay(attempt, self._rng))
                    attempt += 1
                    continue
                c["published_js"] += 1
                if ack.duplicate:
                    c["js_server_duplicates"] += 1
                break
            self._inflight = None

    # -- inbound ----------------------------------------------------------------------------------
    def _inject(self, subject: str, data: bytes) -> bool:
        """Decode and publish into the local bus; False (counted) when the payload is malformed."""
        try:
            msg = msgpack_decoder.decode(data)
        except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
            self._c["malformed"] += 1
            self._error(f"malformed payload on {subject} ({len(data)} bytes): {exc}")
            return False
        topic = subject[len(self._prefix):]
        self._injecting = True
        try:
            self.bus.publish(topic, msg)
        finally:
            self._injecting = False
        return True

    async def _core_reader(self, pattern: str) -> None:
        """Core NATS into the local bus, for as long as this task runs (the subscription ends with it).

        A message callback, not ``async for sub.messages``: nats-py's iterator waits on each message with
        ``asyncio.wait`` (futures and a task per message), which cost the bridge 3x the throughput of a bare
        subscriber (bench/nats.py)."""
        nc = self._nc
        assert nc is not None
        durable = [topics.validate_pattern(p) for p in self.config.jetstream_topics]
        skip: dict[str, bool] = {}  # subject -> not ours to take here (bounded like the outbound routes)
        n = len(self._prefix)
        c = self._c

        async def on_msg(m: Msg) -> None:
            subject = m.subject
            no = skip.get(subject)
            if no is None:
                topic = subject[n:]
                # With no prefix, '>' also sees inbox replies and JetStream API traffic; JetStream subjects
                # arrive through the durable consumer, once.
                no = topic[:1] in ("_", "$") or any(topics.matches(p, topic) for p in durable)
                if len(skip) >= _ROUTE_CACHE:
                    skip.clear()
                skip[subject] = no
            if not no and self._inject(subject, m.data):
                c["received_core"] += 1

        sub = await nc.subscribe(self.subject(pattern), cb=on_msg)
        try:
            await anyio.sleep_forever()
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(1.0):
                try:
                    await sub.unsubscribe()
                except Exception:  # noqa: BLE001, S110 - the connection is going or gone: nothing to undo
                    pass

    def _consumer(self, pattern: str) -> ConsumerConfig:
        cfg = self.config
        return ConsumerConfig(
            durable_name=f"{self.node}-{consumer_token(pattern)}",
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=cfg.ack_wait_s,
            deliver_policy=DeliverPolicy.NEW if cfg.deliver_policy == "new" else DeliverPolicy.ALL,
            max_ack_pending=max(1024, cfg.fetch_batch * 4),
        )

    async def _pull_subscribe(self, pattern: str) -> JetStreamContext.PullSubscription:
        """Bind to this node's durable consumer for ``pattern``, creating it the first time."""
        assert self._js is not None
        consumer = self._consumer(pattern)
        return await self._js.pull_subscribe(
            self.subject(pattern), durable=consumer.durable_name, stream=self.config.stream, config=consumer
        )

    async def _js_reader(self, pattern: str, psub: JetStreamContext.PullSubscription | None) -> None:
        cfg = self.config
        durable = self._consumer(pattern).durable_name
        attempt = 0
        while not self._stopping:
            await self._wait_up()
            assert self._js is not None
            try:
                if psub is None:
                    psub = await self._pull_subscribe(pattern)
                self._fetching += 1
                try:
                    msgs = await psub.fetch(cfg.fetch_batch, timeout=cfg.fetch_timeout_s)
                finally:
                    self._fetch_done()
            except TimeoutError:  # nats.errors.TimeoutError is one: nothing new
                continue
            except Exception as exc:  # noqa: BLE001 - NATS trouble: retry, rebuilding what is gone
                self._error(f"JetStream consumer {durable}: {exc!r}")
                if isinstance(exc, nats.js.errors.NotFoundError | nats.js.errors.ServiceUnavailableError):
                    if psub is not None:
                        with anyio.move_on_after(1):
                            await _quietly_unsubscribe(psub)
                    psub = None
                    await self._ensure_stream_quietly()
                await anyio.sleep(cfg.backoff.delay(attempt, self._rng))
                attempt += 1
                continue
            attempt = 0
            for m in msgs:
                await self._take_js(m)

    def _fetch_done(self) -> None:
        self._fetching -= 1
        if self._stopping and not self._fetching:
            self._fetch_idle.set()

    async def _take_js(self, m: Msg) -> None:
        headers = m.headers or {}
        msg_id = headers.get(_MSG_ID, "")
        if headers.get(ORIGIN_HEADER) == self.node:
            self._c["echo_suppressed"] += 1
        elif msg_id and msg_id in self._seen:
            self._c["duplicates_dropped"] += 1
        elif self._inject(m.subject, m.data):
            self._c["received_js"] += 1
            if msg_id:
                self._seen[msg_id] = None
                if len(self._seen) > _SEEN_IDS:
                    self._seen.popitem(last=False)
        else:
            try:
                await m.term()  # malformed: never redeliver it
            except Exception as exc:  # noqa: BLE001
                self._error(f"term on {m.subject}: {exc!r}")
            return
        try:
            await m.ack()
        except Exception as exc:  # noqa: BLE001 - redelivered later, then dropped as a duplicate
            self._error(f"ack on {m.subject}: {exc!r}")

    # -- connection -------------------------------------------------------------------------------
    async def _connect_loop(self) -> None:
        """Connect with our backoff, then set up stream and readers; nats-py reconnects after that."""
        cfg = self.config
        attempt = 0
        while True:
            nc = Client()
            try:
                # max_reconnect_attempts=1: one retry inside connect(), then our backoff decides (with -1
                # nats-py would loop inside connect() forever); set to -1 (reconnect forever) once connected.
                await nc.connect(
                    servers=cfg.servers, name=f"crossbook-{self.node}", no_echo=True,
                    connect_timeout=cfg.connect_timeout_s,  # type: ignore[arg-type]  # float works
                    reconnect_time_wait=cfg.reconnect_wait_s,  # type: ignore[arg-type]
                    max_reconnect_attempts=1, error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected, reconnected_cb=self._on_reconnected,
                    closed_cb=self._on_closed,
                )
            except Exception as exc:  # noqa: BLE001 - NATS down: retry, the local process goes on
                self._error(f"connect to {cfg.servers}: {exc!r}")
                self._link = BridgeState.RECONNECTING if attempt else BridgeState.CONNECTING
                await anyio.sleep(cfg.backoff.delay(attempt, self._rng))
                attempt += 1
                continue
            break
        # From now on nats-py reconnects by itself, forever, reconnect_wait_s apart (with jitter).
        nc.options["max_reconnect_attempts"] = -1
        self._nc = nc
        self._js = nc.jetstream(timeout=cfg.publish_timeout_s)
        self._c["connects"] += 1
        self._link = BridgeState.CONNECTED
        self._up.set()
        if self._js_in or any(topics.overlaps(p, t) for p in cfg.publish for t in cfg.jetstream_topics):
            # JetStream may still be recovering its store (just restarted) or be off: try for a while, then go
            # on with core traffic; the JetStream pump and readers create the stream when they find it missing.
            with anyio.move_on_after(cfg.start_wait_s):
                while not await self._ensure_stream():
                    await anyio.sleep(cfg.backoff.delay(attempt, self._rng))
                    attempt += 1
        for pattern in self._core_in:
            await self._start_core_reader(pattern)
        for pattern in self._js_in:
            # The consumer exists before we report ready, so nothing published after that is missed.
            psub = None
            try:
                psub = await self._pull_subscribe(pattern)
            except Exception as exc:  # noqa: BLE001 - the reader retries
                self._error(f"JetStream consumer for {pattern}: {exc!r}")
            self.start_soon(self._js_reader, pattern, psub, name=f"{self.name}:js:{pattern}")
        self._ready.set()
        log.info("%s: connected to %s", self.name, nc.connected_url)

    async def _start_core_reader(self, pattern: str) -> None:
        self.start_soon(self._core_reader, pattern, name=f"{self.name}:core:{pattern}")
        await anyio.lowlevel.checkpoint()  # let it send SUB before we report ready
        nc = self._nc
        if nc is not None:
            with anyio.move_on_after(self.config.connect_timeout_s):
                try:
                    await nc.flush(timeout=max(1, int(self.config.connect_timeout_s)))
                except Exception as exc:  # noqa: BLE001
                    self._error(f"flush after subscribe: {exc!r}")

    async def _ensure_stream(self) -> bool:
        cfg = self.config
        assert self._js is not None
        stream = StreamConfig(
            name=cfg.stream,
            subjects=[self.subject(t) for t in cfg.jetstream_topics],
            storage=StorageType.FILE,
            duplicate_window=cfg.duplicate_window_s,
            max_age=cfg.max_age_s,
        )
        try:
            try:
                await self._js.update_stream(stream)
            except nats.js.errors.NotFoundError:
                await self._js.add_stream(stream)
        except Exception as exc:  # noqa: BLE001 - JetStream not ready yet (just restarted): retried
            self._error(f"create/update stream {cfg.stream}: {exc!r}")
            return False
        return True

    async def _ensure_stream_quietly(self) -> None:
        with anyio.move_on_after(self.config.publish_timeout_s):
            await self._ensure_stream()

    async def _wait_up(self) -> None:
        while not (self._nc is not None and self._nc.is_connected and self._js is not None):
            await self._up.wait()
            if self._nc is not None and not self._nc.is_connected:
                await anyio.sleep(0.01)  # the event is replaced on disconnect; this is the rare race

    def _error(self, text: str) -> None:
        self._last_error = text
        self._last_error_ts = time.time_ns()
        log.warning("%s: %s", self.name, text)

    async def _on_error(self, exc: Exception) -> None:
        if isinstance(exc, nats.errors.SlowConsumerError):
            self._c["dropped_core"] += 1
        self._error(f"nats: {exc!r}")

    async def _on_disconnected(self) -> None:
        if self._link is BridgeState.CLOSED:
            return
        self._c["disconnects"] += 1
        self._link = BridgeState.RECONNECTING
        if self._up.is_set():
            self._up = anyio.Event()

    async def _on_reconnected(self) -> None:
        self._c["reconnects"] += 1
        self._link = BridgeState.CONNECTED
        self._up.set()
        log.info("%s: reconnected to %s", self.name, self._nc.connected_url if self._nc else "?")

    async def _on_closed(self) -> None:
        if self._link is not BridgeState.CLOSED:
            self._link = BridgeState.DISCONNECTED


async def _quietly_unsubscribe(psub: JetStreamContext.PullSubscription) -> None:
    try:
        await psub.unsubscribe()
    except Exception as exc:  # noqa: BLE001 - the connection may be gone already
        log.debug("unsubscribe failed: %r", exc)
