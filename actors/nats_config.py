"""NatsBridge configuration and status: what a bridge connects to, sends and receives, and what it reports.

Patterns are bus topic patterns (``*``/``>``, see actors/topics.py); a subject is ``subject_prefix + topic``.
``split_inbound`` decides which subscribe patterns are read from JetStream and which from core NATS.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from actors import topics
from actors.backoff import Backoff
from messages.stats import BridgeState, NatsBridgeStatus

__all__ = ["NatsBridgeConfig", "NatsBridgeStatus", "BridgeState", "split_inbound", "consumer_token"]


class NatsBridgeConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a bridge connects to, sends and receives. Patterns are bus topic patterns (``*``/``>``)."""

    servers: list[str] = msgspec.field(default_factory=lambda: ["nats://127.0.0.1:4222"])
    node: str = ""
    """Stable identity of this process (origin header, durable consumer names); default: the actor name."""
    subject_prefix: str = ""
    """Put in front of every topic on NATS, e.g. ``crossbook.``; empty: subject == topic."""
    publish: list[str] = []
    """Local topics sent to NATS."""
    subscribe: list[str] = []
    """NATS subjects (as topic patterns) delivered into the local bus."""
    jetstream_topics: list[str] = msgspec.field(default_factory=lambda: ["orders.>", "control.failover"])
    stream: str = "CROSSBOOK_ORDERS"
    duplicate_window_s: float = 120.0
    max_age_s: float = 86_400.0
    deliver_policy: Literal["new", "all"] = "new"
    """Where a durable consumer seen for the first time starts; later it resumes from its ack floor."""
    ack_wait_s: float = 30.0
    order_buffer: int = 10_000
    """Outgoing JetStream messages kept while NATS is slow or down; more are dropped and counted."""
    md_max_keys: int = 65_536
    fetch_batch: int = 256
    fetch_timeout_s: float = 1.0
    publish_timeout_s: float = 2.0
    connect_timeout_s: float = 2.0
    reconnect_wait_s: float = 0.5
    start_wait_s: float = 5.0
    """How long ``run`` waits for the first connect before reporting ready anyway (then keeps trying)."""
    stop_flush_s: float = 2.0
    stats_interval_s: float = 1.0  # NatsBridgeStatus on the local bus this often
    backoff: Backoff = Backoff(base_s=0.05, cap_s=2.0, reset_after_s=30.0)


def split_inbound(subscribe: list[str], durable: list[str]) -> tuple[list[str], list[str]]:
    """Split subscribe patterns into JetStream filters and core patterns.

    A pattern inside a JetStream pattern is consumed from the stream; a wider one (``>``) is read on core
    NATS for the rest and also gets a consumer for each JetStream pattern it contains. A partial overlap
    cannot be told apart and is refused.
    """
    js_in: list[str] = []
    core_in: list[str] = []
    for p in subscribe:
        if any(topics.covers(d, p) for d in durable):
            js_in.append(p)
            continue
        core_in.append(p)
        for d in durable:
            if topics.covers(p, d):
                js_in.append(d)
            elif topics.overlaps(p, d):
                msg = (f"subscribe pattern {p!r} partly overlaps JetStream topics {d!r}; "
                       f"list the JetStream part explicitly (e.g. {d!r})")
                raise ValueError(msg)
    return list(dict.fromkeys(js_in)), list(dict.fromkeys(core_in))


def consumer_token(pattern: str) -> str:
    return pattern.replace(".", "_").replace("*", "any").replace(">", "all")
