"""The aggregator's pure core, driven directly (no tasks): best bid/ask, exclusions, arbitrage lifecycle."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors import topics
from actors.aggregation import AggregatorConfig, AggregatorCore, InstrumentGroup, executable_size
from actors.clock import ManualClock
from messages import (
    ArbOpportunity,
    ArbPhase,
    BestBidAsk,
    BookIntegrity,
    BookState,
    CircuitChanged,
    CircuitState,
    ExclusionReason,
    HealthStatus,
    Level,
    Venue,
    VenueHealth,
)
from tests.actors.market_fixtures import USD, USDT, VENUES, book, instrument, quote, registry

B, Y, O, D = Venue.BINANCE, Venue.BYBIT, Venue.OKX, Venue.DERIBIT  # noqa: E741 - venue initials


def _seed_core(fees: dict[Venue, float], threshold_bps: float = 10.0) -> AggregatorCore:
    cfg = AggregatorConfig(
        groups=[InstrumentGroup(name="btc", members=[(B, USDT), (Y, USDT), (O, USDT), (D, USD)])],
        taker_fee_bps=fees, stale_after_ms=1_000, arb_threshold_bps=threshold_bps,
    )
    reg = registry(instrument(B), instrument(Y), instrument(O), instrument(D, USD, inverse=True, lot="10"))
    return AggregatorCore(cfg, reg)


def _last(out: list[tuple[str, Any]], kind: type) -> Any:
    found = [m for _, m in out if isinstance(m, kind)]
    return found[-1] if found else None


def test_seed_example_best_venues_and_no_opportunity_below_ten_bps() -> None:
    # Mids 96500 / 96520 / 96480 / 96510, each quoted with a 2.0 spread (mid -/+ 1.0); threshold 0.001 = 10 bps.
    core = _seed_core({B: 2.0, Y: 2.5, O: 2.0, D: 2.0})
    now = 10**18
    out: list[tuple[str, Any]] = []
    for venue, mid in ((B, 96500.0), (Y, 96520.0), (O, 96480.0)):
        out += core.on_quote(quote(venue, mid - 1, mid + 1, size=2.0, ts=now), now)
    out += core.on_quote(quote(D, 96509.0, 96511.0, size=96509.0, inst=USD, ts=now), now)
    best: BestBidAsk = _last(out, BestBidAsk)
    assert (best.bid_venue, best.bid_px, best.ask_venue, best.ask_px) == (Y, 96519.0, O, 96481.0)
    assert best.included == (B, Y, O, D) and best.excluded == ()
    # Gross 38 / 96481 = 3.94 bps, below 10 bps even before fees: no opportunity.
    assert _last(out, ArbOpportunity) is None and core.open_opportunity("btc") is None
    assert [t for t, _ in out] == [topics.best("btc")] * 4


def test_seed_example_with_bybit_dislocated_opens_an_opportunity_net_of_both_fees() -> None:
    core = _seed_core({B: 2.0, Y: 2.5, O: 2.0, D: 2.0})
    now = 10**18
    core.on_quote(quote(B, 96499.0, 96501.0, size=2.0, ts=now), now)
    core.on_quote(quote(O, 96479.0, 96481.0, size=2.0, ts=now), now)
    core.on_quote(quote(D, 96509.0, 96511.0, size=96509.0, inst=USD, ts=now), now)
    out = core.on_quote(quote(Y, 96629.0, 96631.0, size=1.5, ts=now), now)  # bybit mid 96630
    opp: ArbOpportunity = _last(out, ArbOpportunity)
    # Buy okx at 96481 (fee 2 bps), sell bybit at 96629 (fee 2.5 bps):
    net_unit = 96629 * (1 - 0.00025) - 96481 * (1 + 0.0002)  # 148 - 24.15725 - 19.2962 = 104.54655
    assert net_unit == pytest.approx(104.54655)
    assert (opp.phase, opp.buy_venue, opp.buy_px, opp.sell_venue, opp.sell_px) == (ArbPhase.OPENED, O, 96481.0, Y, 96629.0)
    assert opp.size_base == 1.5  # min(okx ask 2.0, bybit bid 1.5)
    assert opp.gross_bps == pytest.approx(148 / 96481 * 1e4)  # 15.34 bps
    assert opp.net_bps == pytest.approx(104.54655 / 96481 * 1e4)  # 10.84 bps >= 10
    assert opp.gross_quote == pytest.approx(148 * 1.5) and opp.net_quote == pytest.approx(104.54655 * 1.5)
    assert opp.opened_ts == now and opp.duration_ns == 0


def test_depth_walk_takes_levels_while_each_pair_clears_the_threshold() -> None:
    asks: list[Level] = [(100.0, 1.0), (100.5, 2.0), (101.0, 5.0)]
    bids: list[Level] = [(102.0, 1.5), (101.2, 1.0), (100.8, 3.0)]
    size, gross, net, last_a, last_b = executable_size(asks, 0.0, bids, 0.0, 0.001)
    # (100,102) x1, (100.5,102) x0.5, (100.5,101.2) x1, (100.5,100.8) x0.5, then (101,100.8) loses.
    assert size == pytest.approx(3.0)
    assert gross == pytest.approx(1 * 2 + 0.5 * 1.5 + 1 * 0.7 + 0.5 * 0.3)
    assert (last_a, last_b) == (100.5, 100.8)


def test_inverse_sizes_are_converted_to_base_at_their_price() -> None:
    core = _seed_core({})
    now = 10**18
    core.on_quote(quote(D, 95990.0, 96000.0, size=48000.0, inst=USD, ts=now), now)  # 48000 USD = 0.5 BTC
    out = core.on_quote(quote(B, 97000.0, 97010.0, size=5.0, ts=now), now)
    best: BestBidAsk = _last(out, BestBidAsk)
    assert best.ask_venue is D and best.ask_sz == pytest.approx(0.5)
    opp: ArbOpportunity = _last(out, ArbOpportunity)
    assert (opp.buy_venue, opp.sell_venue, opp.size_base) == (D, B, pytest.approx(0.5))


def test_inverse_depth_levels_are_converted_level_by_level() -> None:
    core = _seed_core({})
    now = 10**18
    core.on_book(book(D, [(95990.0, 10.0)], [(96000.0, 48000.0), (96100.0, 96100.0)], inst=USD, ts=now), now)
    out = core.on_book(book(B, [(97000.0, 5.0)], [(97010.0, 1.0)], ts=now), now)
    opp: ArbOpportunity = _last(out, ArbOpportunity)
    assert opp.size_base == pytest.approx(1.5)  # 0.5 BTC at 96000 + 1.0 BTC at 96100


def test_quote_that_disagrees_with_depth_falls_back_to_top_of_book() -> None:
    core = _seed_core({})
    now = 10**18
    core.on_book(book(O, [(95990.0, 1.0)], [(96000.0, 1.0), (96001.0, 9.0)], ts=now), now)
    core.on_quote(quote(B, 97000.0, 97010.0, size=50.0, ts=now), now)
    assert core.open_opportunity("btc").size_base == pytest.approx(10.0)  # type: ignore[union-attr]
    core.on_quote(quote(O, 95990.0, 96002.0, size=3.0, ts=now), now)  # top moved: depth is outdated
    assert core.open_opportunity("btc").size_base == pytest.approx(3.0)  # type: ignore[union-attr]


def test_opportunity_lifecycle_opened_updated_closed_with_durations(manual_clock: ManualClock) -> None:
    core = _seed_core({})
    clock = manual_clock
    t0 = clock.time_ns()
    core.on_quote(quote(B, 96400.0, 96401.0, ts=t0), t0)
    out = core.on_quote(quote(Y, 96600.0, 96601.0, ts=t0), t0)
    assert _last(out, ArbOpportunity).phase is ArbPhase.OPENED
    clock.advance(0.5)
    t1 = clock.time_ns()
    out = core.on_quote(quote(Y, 96610.0, 96611.0, ts=t1), t1)
    upd: ArbOpportunity = _last(out, ArbOpportunity)
    assert (upd.phase, upd.sell_px, upd.opened_ts, upd.duration_ns) == (ArbPhase.UPDATED, 96610.0, t0, 500_000_000)
    out = core.on_quote(quote(Y, 96610.0, 96611.0, ts=t1), t1)
    assert _last(out, ArbOpportunity) is None  # nothing changed: no UPDATED
    clock.advance(1.0)
    t2 = clock.time_ns()
    out = core.on_quote(quote(Y, 96400.5, 96401.5, ts=t2), t2)
    closed: ArbOpportunity = _last(out, ArbOpportunity)
    assert (closed.phase, closed.opened_ts, closed.duration_ns, closed.sell_px) == (
        ArbPhase.CLOSED, t0, 1_500_000_000, 96610.0)
    assert core.open_opportunity("btc") is None


def test_refresh_drops_a_stale_venue_and_closes_its_opportunity(manual_clock: ManualClock) -> None:
    core = _seed_core({})
    t0 = manual_clock.time_ns()
    core.on_quote(quote(B, 96400.0, 96401.0, ts=t0), t0)
    core.on_quote(quote(Y, 96600.0, 96601.0, ts=t0), t0)
    assert core.refresh(t0) == []  # nothing changed
    manual_clock.advance(0.5)
    t1 = manual_clock.time_ns()
    core.on_quote(quote(B, 96400.0, 96401.0, ts=t1), t1)
    manual_clock.advance(0.7)  # bybit is now 1.2 s old, over the 1 s limit
    t2 = manual_clock.time_ns()
    out = core.refresh(t2)
    best: BestBidAsk = _last(out, BestBidAsk)
    assert best.included == (B,) and [(e.venue, e.reason) for e in best.excluded] == [(Y, ExclusionReason.STALE)]
    closed: ArbOpportunity = _last(out, ArbOpportunity)
    assert closed.phase is ArbPhase.CLOSED and closed.duration_ns == 1_200_000_000


def test_venue_state_exclusions_name_their_reason() -> None:
    core = _seed_core({})
    now = 10**18
    for v, bid, ask in ((B, 96400.0, 96401.0), (Y, 96500.0, 96501.0), (O, 96600.0, 96601.0)):
        core.on_quote(quote(v, bid, ask, ts=now), now)
    core.on_quote(quote(D, 96500.0, 96500.0, size=1e5, inst=USD, ts=now), now)
    core.on_health(VenueHealth(venue=B, status=HealthStatus.DOWN, latency_p50_us=0, latency_p99_us=0,
                               error_rate=1, reason="ws closed", ts=now), now)
    core.on_circuit(CircuitChanged(venue=Y, previous=CircuitState.CLOSED, current=CircuitState.OPEN, reason="",
                                   ts=now), now)
    out = core.on_integrity(BookIntegrity(venue=O, instrument=USDT, state=BookState.RESYNCING, reason="gap",
                                          ts=now), now)
    best: BestBidAsk = _last(out, BestBidAsk)
    assert best.included == () and best.bid_venue is None
    assert [(e.venue, e.reason) for e in best.excluded] == [
        (B, ExclusionReason.VENUE_DOWN), (Y, ExclusionReason.CIRCUIT_OPEN), (O, ExclusionReason.BOOK_NOT_LIVE),
        (D, ExclusionReason.LOCKED)]


def test_groups_never_mix() -> None:
    cfg = AggregatorConfig(groups=[
        InstrumentGroup(name="usdt", members=[(B, USDT), (Y, USDT)]),
        InstrumentGroup(name="usd", members=[(O, USD), (D, USD)]),
    ])
    reg = registry(instrument(B), instrument(Y), instrument(O, USD, inverse=True, contract_size="100"),
                   instrument(D, USD, inverse=True))
    core = AggregatorCore(cfg, reg)
    now = 10**18
    out = core.on_quote(quote(B, 90000.0, 90001.0, ts=now), now)
    out += core.on_quote(quote(D, 99000.0, 99001.0, size=1e5, inst=USD, ts=now), now)
    out += core.on_quote(quote(O, 99000.0, 99001.0, inst=USDT, ts=now), now)  # not a member: ignored
    assert [t for t, _ in out] == [topics.best("usdt"), topics.best("usd")]
    assert out[0][1].included == (B,) and out[1][1].included == (D,)
    assert core.open_opportunity("usdt") is None and core.open_opportunity("usd") is None


# ------------------------------------------------------------------------------- brute-force check
_REASONS = [None, ExclusionReason.VENUE_DOWN, ExclusionReason.CIRCUIT_OPEN, ExclusionReason.BOOK_NOT_LIVE]


@st.composite
def _venue_inputs(draw: st.DrawFn) -> dict[str, Any]:
    mid = draw(st.integers(9_000, 9_100))
    half = draw(st.integers(-2, 6))  # < 0 crossed, 0 locked
    depth = draw(st.booleans())
    n = draw(st.integers(1, 4)) if depth else 1
    sizes = st.integers(1, 40).map(lambda k: k / 4)
    bid_steps = draw(st.lists(st.integers(1, 5), min_size=n - 1, max_size=n - 1))
    ask_steps = draw(st.lists(st.integers(1, 5), min_size=n - 1, max_size=n - 1))
    bids, asks, px = [], [], float(mid - half)
    for k in range(n):
        bids.append((px, draw(sizes)))
        if k < n - 1:
            px -= bid_steps[k]
    px = float(mid + half)
    for k in range(n):
        asks.append((px, draw(sizes)))
        if k < n - 1:
            px += ask_steps[k]
    return {
        "bids": bids, "asks": asks, "depth": depth, "fee_bps": draw(st.integers(0, 8)),
        "age_ms": draw(st.sampled_from([0, 500, 999, 1000, 1001, 5000])),
        "state": draw(st.sampled_from(_REASONS + [None] * 3)), "quoted": draw(st.integers(0, 5)) > 0,
    }


def _reference(venues: list[Venue], ins: dict[Venue, dict[str, Any]], cs: dict[Venue, tuple[float, bool]],
               threshold: float, min_size: float) -> tuple[Any, ...]:
    included, excluded = [], []
    for v in venues:
        i = ins[v]
        if not i["quoted"]:
            continue
        bid, ask = i["bids"][0][0], i["asks"][0][0]
        reason = i["state"] or (ExclusionReason.STALE if i["age_ms"] > 1000 else None) or (
            ExclusionReason.CROSSED if bid > ask else ExclusionReason.LOCKED if bid == ask else None)
        (excluded.append((v, reason)) if reason else included.append(v))
    if not included:
        return tuple(included), excluded, None, None, None
    sell = min(included, key=lambda v: (-ins[v]["bids"][0][0], venues.index(v)))
    buy = min(included, key=lambda v: (ins[v]["asks"][0][0], venues.index(v)))

    def base_levels(v: Venue, side: str) -> list[Level]:
        k, inverse = cs[v]
        levels = ins[v][side] if ins[v]["depth"] else ins[v][side][:1]
        return [(p, s * k / p if inverse else s * k) for p, s in levels]

    arb = None
    if buy != sell:
        fb, fs = ins[buy]["fee_bps"] / 1e4, ins[sell]["fee_bps"] / 1e4
        asks, bids = base_levels(buy, "asks"), base_levels(sell, "bids")
        ends_a = [sum(s for _, s in asks[: k + 1]) for k in range(len(asks))]
        ends_b = [sum(s for _, s in bids[: k + 1]) for k in range(len(bids))]
        limit = min(ends_a[-1], ends_b[-1])
        size = net = prev = 0.0
        for p in sorted({e for e in ends_a + ends_b if e <= limit} | {limit}):
            if p <= prev:
                continue
            m = (prev + p) / 2
            a_px = next(px for (px, _), e in zip(asks, ends_a, strict=True) if e >= m)
            b_px = next(px for (px, _), e in zip(bids, ends_b, strict=True) if e >= m)
            unit = b_px * (1 - fs) - a_px * (1 + fb)
            if unit < threshold * a_px:
                break
            size += p - prev
            net += (p - prev) * unit
            prev = p
        a0, b0 = asks[0][0], bids[0][0]
        if b0 * (1 - fs) - a0 * (1 + fb) >= threshold * a0 and size > 0 and size >= min_size:
            arb = (buy, sell, a0, b0, size, net, (b0 * (1 - fs) - a0 * (1 + fb)) / a0 * 1e4)
    return tuple(included), excluded, sell, buy, arb


@settings(max_examples=300, deadline=None)
@given(
    ins=st.lists(_venue_inputs(), min_size=4, max_size=4),
    sizes=st.tuples(st.sampled_from(["1", "0.5", "0.25"]), st.sampled_from(["1", "0.01"]),
                    st.sampled_from(["1", "10"])),
    threshold_bps=st.integers(0, 30),
    min_size=st.sampled_from([0.0, 0.5, 2.0]),
    order=st.permutations(list(VENUES)),
)
def test_best_and_arb_match_a_brute_force_reference(
    ins: list[dict[str, Any]], sizes: tuple[str, str, str], threshold_bps: int, min_size: float, order: list[Venue]
) -> None:
    by_venue = dict(zip(VENUES, ins, strict=True))
    insts = {B: instrument(B), Y: instrument(Y, contract_size=sizes[0]), O: instrument(O, contract_size=sizes[1]),
             D: instrument(D, USD, inverse=True, contract_size=sizes[2])}
    members = [(v, insts[v].id) for v in order]
    cfg = AggregatorConfig(groups=[InstrumentGroup(name="g", members=members)],
                           taker_fee_bps={v: float(by_venue[v]["fee_bps"]) for v in VENUES},
                           stale_after_ms=1000, arb_threshold_bps=float(threshold_bps), min_size_base=min_size)
    core = AggregatorCore(cfg, registry(*insts.values()))
    now = 10**18
    for v in VENUES:
        i = by_venue[v]
        match i["state"]:
            case ExclusionReason.VENUE_DOWN:
                core.on_health(VenueHealth(venue=v, status=HealthStatus.DOWN, latency_p50_us=0, latency_p99_us=0,
                                           error_rate=0, reason="", ts=now), now)
            case ExclusionReason.CIRCUIT_OPEN:
                core.on_circuit(CircuitChanged(venue=v, previous=CircuitState.CLOSED, current=CircuitState.OPEN,
                                               reason="", ts=now), now)
            case ExclusionReason.BOOK_NOT_LIVE:
                core.on_integrity(BookIntegrity(venue=v, instrument=insts[v].id, state=BookState.SYNCING,
                                                reason="", ts=now), now)
    out: list[tuple[str, Any]] = []
    for v in order:
        i = by_venue[v]
        if not i["quoted"]:
            continue
        ts = now - i["age_ms"] * 1_000_000
        if i["depth"]:
            out += core.on_book(book(v, i["bids"], i["asks"], inst=insts[v].id, ts=ts), now)
        else:
            (bp, bs), (ap, asz) = i["bids"][0], i["asks"][0]
            out += core.on_quote(quote(v, bp, ap, size=bs, ask_size=asz, inst=insts[v].id, ts=ts), now)
    cs = {v: (float(insts[v].contract_size), insts[v].inverse) for v in VENUES}
    included, excluded, sell, buy, arb = _reference(order, by_venue, cs, threshold_bps / 1e4, min_size)
    best: BestBidAsk | None = _last(out, BestBidAsk)
    if best is None:
        assert not any(by_venue[v]["quoted"] for v in VENUES)
        return
    assert best.included == included
    assert [(e.venue, e.reason) for e in best.excluded] == excluded
    assert (best.bid_venue, best.ask_venue) == (sell, buy)
    if sell is not None:
        assert best.bid_px == by_venue[sell]["bids"][0][0] and best.ask_px == by_venue[buy]["asks"][0][0]
    opp = core.open_opportunity("g")
    if arb is None:
        assert opp is None
    else:
        assert opp is not None
        assert (opp.buy_venue, opp.sell_venue, opp.buy_px, opp.sell_px) == arb[:4]
        assert opp.size_base == pytest.approx(arb[4], rel=1e-9, abs=1e-12)
        assert opp.net_quote == pytest.approx(arb[5], rel=1e-6, abs=1e-9)
        assert opp.net_bps == pytest.approx(arb[6])
