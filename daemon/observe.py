"""What the metrics endpoint and /health report: the status view's last known values, fed by the bus."""

from __future__ import annotations

from typing import Any

from actors.bus import Bus
from actors.stats import Histogram
from daemon.metrics import Collector, HistogramSample, Sample
from daemon.status import ChildView, StatusView
from messages import BridgeState, CircuitState, HealthStatus, LatencyHistogram, SwitchState

__all__ = ["collectors", "health_summary"]

_HEALTH_VALUE = {HealthStatus.OK: 2, HealthStatus.DEGRADED: 1, HealthStatus.DOWN: 0}
_CIRCUIT_VALUE = {CircuitState.CLOSED: 0, CircuitState.HALF_OPEN: 1, CircuitState.OPEN: 2}


def collectors(status: StatusView, bus: Bus) -> list[Collector]:
    """Everything from the status view's last known values (fed by the bus): a scrape never waits on an
    actor, whatever state it is in."""

    def venues() -> list[Sample | HistogramSample]:
        out: list[Sample | HistogramSample] = []
        for venue, name in status.venues.items():
            child = status.children.get(name, ChildView())
            labels = {"venue": venue}
            out.append(Sample("crossbook_exchange_up", 1.0 if child.up else 0.0, labels,
                              help="1 when the venue's exchange actor runs"))
            out.append(Sample("crossbook_exchange_restarts_total", float(child.restarts), labels, kind="counter",
                              help="restarts of the venue's exchange actor"))
            st = status.exchange.get(venue)
            if st is None:
                continue
            out.append(HistogramSample("crossbook_rest_latency_ms", _histogram(st.rest_latency), labels,
                                       help="REST request latency"))
            out += [
                Sample("crossbook_ws_frames_total", st.frames, labels, kind="counter", help="WebSocket frames received"),
                Sample("crossbook_ws_reconnects_total", st.reconnects, labels, kind="counter", help="WebSocket reconnects"),
                Sample("crossbook_ws_connected", st.connected if child.up else 0, labels,
                       help="connected WebSocket streams"),
                Sample("crossbook_books_live", st.books_live if child.up else 0, labels, help="order books in sync"),
                Sample("crossbook_book_resyncs_total", st.resyncs, labels, kind="counter", help="book resyncs"),
                Sample("crossbook_frames_dropped_total", st.dropped, labels, kind="counter", help="frames dropped"),
                Sample("crossbook_frames_ignored_total", st.ignored, labels, kind="counter",
                       help="documented frames of kinds we do not use (counted, not dropped)"),
                Sample("crossbook_rest_latency_p50_ms", st.rest_p50_ms, labels, help="REST latency p50 (last 1000)"),
                Sample("crossbook_rest_latency_p99_ms", st.rest_p99_ms, labels, help="REST latency p99 (last 1000)"),
                Sample("crossbook_clock_offset_ms", st.clock_offset_ms, labels, help="venue clock minus ours"),
                Sample("crossbook_ratelimit_headroom_ratio", st.ratelimit_headroom, labels,
                       help="free fraction of the venue's main request budget"),
                Sample("crossbook_requests_paused", 1.0 if st.paused else 0.0, labels, help="1 during a ban/retry-after"),
                Sample("crossbook_stats_age_seconds", status.age_s(st.ts), labels,
                       help="age of the venue's last counters (they come every second while its actor runs)"),
            ]
            if st.switch is not None:
                out.append(Sample("crossbook_switch_armed", 1.0 if st.switch is SwitchState.ARMED and child.up else 0.0,
                                  labels, help="1 while the venue's dead-man's switch is armed (configured venues only)"))
        for venue, hv in status.health.items():
            lab = {"venue": str(venue)}
            out.append(Sample("crossbook_venue_health", _HEALTH_VALUE[hv.status], lab, help="2 ok, 1 degraded, 0 down"))
            out.append(Sample("crossbook_venue_latency_p50_ms", hv.latency_p50_us / 1000, lab, help="probe latency p50"))
            out.append(Sample("crossbook_venue_latency_p99_ms", hv.latency_p99_us / 1000, lab, help="probe latency p99"))
        for venue, cc in status.circuits.items():
            out.append(Sample("crossbook_circuit_state", _CIRCUIT_VALUE[cc.current], {"venue": str(venue)},
                              help="0 closed, 1 half-open, 2 open"))
        out.append(Sample("crossbook_failovers_total", float(len(status.failovers_seen)), kind="counter",
                          help="active-venue changes"))
        for name, child in status.children.items():
            out.append(Sample("crossbook_actor_gave_up", 1.0 if child.gave_up else 0.0, {"actor": name},
                              help="1 when the supervisor gave up on the actor"))
        out.append(Sample("crossbook_arb_opened_total", float(status.arb_opened), kind="counter",
                          help="arbitrage opportunities opened"))
        out.append(Sample("crossbook_best_updates_total", float(status.best_updates), kind="counter",
                          help="BestBidAsk messages seen"))
        return out

    def mailboxes() -> list[Sample]:
        out: list[Sample] = [Sample("crossbook_bus_published_total", float(bus.published), kind="counter",
                                    help="messages published on the bus")]
        for sub in bus.subscriptions():
            st = sub.target.statistics() if hasattr(sub.target, "statistics") else None
            if st is None:
                continue
            lab = {"mailbox": st.name}
            out.append(Sample("crossbook_mailbox_depth", st.depth, lab, help="messages waiting"))
            out.append(Sample("crossbook_mailbox_peak", st.peak, lab, help="deepest it has been"))
            out.append(Sample("crossbook_mailbox_conflated_total", st.conflated, lab, kind="counter",
                              help="older values replaced unread"))
            out.append(Sample("crossbook_mailbox_overflowed_total", st.overflowed, lab, kind="counter",
                              help="events dropped (reported to the subscriber)"))
        return out

    def orders() -> list[Sample]:
        rs = status.router
        if rs is None:
            return []
        out = [Sample("crossbook_orders_working", float(n), {"state": s}, help="orders not final yet, by journal state")
               for s, n in rs.working.items()]
        out += [Sample("crossbook_orders_final_total", float(n), {"status": s}, kind="counter",
                       help="orders that reached a final state since start, by status")
                for s, n in rs.finished.items()]
        return out

    def nats() -> list[Sample]:
        if not status.nats:
            return []
        st = status.bridge
        if st is None:
            return [Sample("crossbook_nats_connected", 0.0, help="1 when the NATS bridge is connected")]
        core, js = {"class": "core"}, {"class": "jetstream"}
        return [
            Sample("crossbook_nats_connected", 1.0 if st.state is BridgeState.CONNECTED else 0.0,
                   help="1 when the NATS bridge is connected"),
            Sample("crossbook_nats_published_total", st.published_core, core, kind="counter",
                   help="messages sent to NATS"),
            Sample("crossbook_nats_published_total", st.published_js, js, kind="counter"),
            Sample("crossbook_nats_received_total", st.received_core, core, kind="counter",
                   help="messages taken from NATS into the local bus"),
            Sample("crossbook_nats_received_total", st.received_js, js, kind="counter"),
            Sample("crossbook_nats_dropped_total", st.dropped_core, core, kind="counter",
                   help="messages not sent (core: NATS down or slow; jetstream: order buffer full)"),
            Sample("crossbook_nats_dropped_total", st.dropped_orders, js, kind="counter"),
            Sample("crossbook_nats_pending_orders", st.pending_orders,
                   help="JetStream-bound messages waiting for the server's acknowledgement"),
            Sample("crossbook_nats_reconnects_total", st.reconnects, kind="counter", help="NATS reconnects"),
            Sample("crossbook_nats_disconnects_total", st.disconnects, kind="counter", help="NATS disconnects"),
            Sample("crossbook_nats_duplicates_dropped_total", st.duplicates_dropped, kind="counter",
                   help="redelivered JetStream messages dropped"),
            Sample("crossbook_nats_malformed_total", st.malformed, kind="counter", help="undecodable payloads dropped"),
        ]

    return [venues, mailboxes, orders, nats]


def _histogram(h: LatencyHistogram) -> Histogram:
    """The published histogram as the metrics writer reads one."""
    out = Histogram(h.bounds_ms)
    out.counts = list(h.counts)
    out.count = h.count
    out.total = h.total_ms
    return out


def health_summary(status: StatusView) -> dict[str, Any]:
    venues = {str(v): h.status.value for v, h in status.health.items()}
    if not venues:
        overall = "starting"
    elif all(s == "down" for s in venues.values()):
        overall = "down"
    elif all(s == "ok" for s in venues.values()):
        overall = "ok"
    else:
        overall = "degraded"
    active = status.failovers[-1].to_venue if status.failovers else None
    return {"status": overall, "venues": venues, "active_venue": active, "best": {
        g: {"bid": b.bid_px, "ask": b.ask_px} for g, b in status.best.items()}}
