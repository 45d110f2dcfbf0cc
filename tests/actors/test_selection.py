from __future__ import annotations

from actors.selection import SelectionConfig, VenueSelector, VenueView
from messages import CircuitState, HealthStatus, Venue

B, O = Venue.BINANCE, Venue.OKX  # noqa: E741
OK, DEG, DOWN = HealthStatus.OK, HealthStatus.DEGRADED, HealthStatus.DOWN
CLOSED, OPEN, HALF = CircuitState.CLOSED, CircuitState.OPEN, CircuitState.HALF_OPEN


def _v(status: HealthStatus = OK, circuit: CircuitState = CLOSED, p50: float = 10.0) -> VenueView:
    return VenueView(status, circuit, p50)


def test_ranking_is_health_then_priority_then_latency_and_open_circuits_are_excluded() -> None:
    sel = VenueSelector(SelectionConfig(venues=[B, O], priority={B: 0, O: 0}))
    assert sel.best({B: _v(DEG, p50=1.0), O: _v(OK, p50=99.0)}) is O
    assert sel.best({B: _v(p50=20.0), O: _v(p50=10.0)}) is O
    assert sel.best({B: _v(DOWN, HALF), O: _v(DOWN)}) is None  # DOWN is never chosen
    assert sel.best({B: _v(DEG, HALF), O: _v(OK, OPEN)}) is B
    prio = VenueSelector(SelectionConfig(venues=[B, O]))
    assert prio.best({B: _v(p50=500.0), O: _v(p50=1.0)}) is B


def test_the_active_venue_is_left_at_once_when_it_goes_down_and_each_change_is_one_failover() -> None:
    sel = VenueSelector(SelectionConfig(venues=[B, O], hold_s=10.0))
    fo = sel.update({B: _v(), O: _v()}, 0.0, 1)
    assert fo is not None and (fo.from_venue, fo.to_venue) == (None, B)
    assert sel.update({B: _v(), O: _v()}, 0.1, 2) is None
    fo = sel.update({B: _v(DOWN, OPEN), O: _v()}, 0.2, 3, detected_ns=2, cause="ws closed")
    assert fo is not None and (fo.from_venue, fo.to_venue, fo.ts_detected, fo.ts_switched) == (B, O, 2, 3)
    assert "ws closed" in fo.cause
    fo = sel.update({B: _v(DOWN), O: _v(DOWN)}, 0.3, 4)
    assert fo is not None and (fo.from_venue, fo.to_venue) == (O, None)
    assert sel.update({B: _v(DOWN), O: _v(DOWN)}, 0.4, 5) is None


def test_a_challenger_must_stay_better_for_the_whole_hold_and_by_the_margin() -> None:
    sel = VenueSelector(SelectionConfig(venues=[B, O], priority={B: 0, O: 0}, hold_s=5.0, latency_margin=0.2))
    sel.update({B: _v(p50=10.0), O: _v(p50=10.0)}, 0.0, 0)
    assert sel.active is B
    assert sel.update({B: _v(p50=10.0), O: _v(p50=8.5)}, 1.0, 0) is None  # 15 % faster: inside the margin
    assert sel.next_deadline() is None
    assert sel.update({B: _v(p50=10.0), O: _v(p50=5.0)}, 2.0, 0) is None
    assert sel.next_deadline() == 7.0
    assert sel.update({B: _v(p50=10.0), O: _v(p50=9.9)}, 3.0, 0) is None  # not better: the hold restarts
    assert sel.update({B: _v(p50=10.0), O: _v(p50=5.0)}, 4.0, 0) is None
    assert sel.update({B: _v(p50=10.0), O: _v(p50=5.0)}, 8.9, 0) is None
    fo = sel.update({B: _v(p50=10.0), O: _v(p50=5.0)}, 9.0, 9)
    assert fo is not None and (fo.from_venue, fo.to_venue) == (B, O)


def test_several_selectors_keep_their_own_scope() -> None:
    perps = VenueSelector(SelectionConfig(venues=[B, O], name="perps"))
    options = VenueSelector(SelectionConfig(venues=[Venue.DERIBIT, O], name="options"))
    views = {B: _v(), O: _v(), Venue.DERIBIT: _v()}
    a, b = perps.update(views, 0.0, 0), options.update(views, 0.0, 0)
    assert a is not None and b is not None
    assert (perps.active, options.active) == (B, Venue.DERIBIT) and a.cause.startswith("[perps]")
