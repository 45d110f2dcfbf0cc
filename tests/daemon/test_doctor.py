"""``python -m supervisor doctor``: each check's PASS, WARN and FAIL on real twins (real sockets, the real
exchange actor), the command's exit codes and JSON, and unreachable venues ending in FAIL with a reason."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.exchanges.adapter import Endpoints
from daemon.config import VenueSection
from daemon.doctor import (
    TEST_ORDER_DISCOUNT,
    Result,
    Verdict,
    doctor_venue,
    exit_code,
    probe_order_terms,
    render,
    unreadable_kind,
)
from messages import ContractType, Instrument, InstrumentId, InstrumentKind, Venue
from simulator.account import PositionSide
from simulator.binance import BinanceConfig
from simulator.latency import LatencyProfile
from simulator.matching import OrderRequest
from simulator.matching import OrderStatus as TwinStatus
from simulator.matching import OrderType as TwinOrderType
from simulator.matching import Side as TwinSide
from simulator.matching import TimeInForce as TwinTif
from simulator.okx import OkxConfig
from simulator.runner import start_twins
from tests.ports import free_port
from venues import Credentials
from venues.events import Dropped
from venues.okx.codec import OkxCodec
from venues.symbols import InstrumentRegistry, check_order_size

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _by(results: list[Result]) -> dict[str, Result]:
    return {r.check: r for r in results}


async def _doctor(twins: Any, venue: str, *, creds: Credentials | None = None, seconds: float = 1.5,
                  **section: Any) -> dict[str, Result]:
    return _by(await _doctor_list(twins, venue, creds=creds, seconds=seconds, **section))


async def _doctor_list(twins: Any, venue: str, *, creds: Credentials | None = None, seconds: float = 1.5,
                       **section: Any) -> list[Result]:
    rt = twins[venue]
    c = rt.twin.credentials
    creds = creds or Credentials(c.api_key, c.secret, c.passphrase or "")
    instruments = ["BTC-USD-PERP"] if venue == "deribit" else ["BTC-USDT-PERP"]
    sec = VenueSection(instruments=instruments, **section)
    return await doctor_venue(Venue(venue), sec, Endpoints(rest=rt.rest, ws=dict(rt.ws)), creds, seconds=seconds,
                              arm_switch=True)


@pytest.mark.anyio
@pytest.mark.parametrize("venue", ["binance", "bybit", "okx", "deribit"])
async def test_a_clean_twin_passes_every_check(venue: str) -> None:
    async with start_twins([venue], symbols=["BTC"], rate=20) as twins:
        got = await _doctor(twins, venue)
    assert {r.verdict for r in got.values()} == {Verdict.PASS}, render(list(got.values()))
    for check in ("reach rest", "clock", "auth", "balances", "position mode", "open orders", "positions",
                  "private stream", "trades"):
        assert check in got, sorted(got)
    assert any(c.startswith("book ") and "LIVE and in sequence" in r.detail for c, r in got.items())
    assert any(c.startswith("instrument ") for c in got)


@pytest.mark.anyio
async def test_a_clock_ten_seconds_off_is_a_warning_with_advice() -> None:
    async with start_twins(["binance"], symbols=["BTC"], rate=20) as twins:
        twins["binance"].twin.faults.inject("clock_skew", ms=10_000)
        got = await _doctor(twins, "binance")
    clock = got["clock"]
    assert clock.verdict is Verdict.WARN and "receive window 5000" in clock.detail
    offset = re.search(r"venue minus ours ([+-]\d+) ms", clock.detail)
    assert offset is not None and 9_000 <= int(offset.group(1)) <= 11_000, clock.detail
    assert "clock" in clock.advice
    assert got["auth"].verdict is Verdict.PASS  # crossbook corrects for it


@pytest.mark.anyio
async def test_a_wrong_key_fails_auth_in_the_venues_words_and_ours() -> None:
    async with start_twins(["binance"], symbols=["BTC"], rate=20) as twins:
        got = await _doctor(twins, "binance", creds=Credentials("not-the-key", "not-the-secret"))
    auth = got["auth"]
    assert auth.verdict is Verdict.FAIL and "ours:" in auth.detail and ("-2015" in auth.detail or "-1022" in auth.detail)
    assert "[venues.binance.credentials]" in auth.advice
    assert exit_code(list(got.values())) == 2


@pytest.mark.anyio
async def test_a_suspended_instrument_fails_and_resting_orders_are_a_warning() -> None:
    options = {"okx": {"instrument_states": {"BTC-USDT-SWAP": "suspend"}}}
    async with start_twins(["okx"], symbols=["BTC", "ETH"], rate=20, options=options) as twins:
        got = await _doctor(twins, "okx")
    inst = got["instrument BTC-USDT-PERP"]
    assert inst.verdict is Verdict.FAIL and "suspend" in inst.detail


@pytest.mark.anyio
async def test_orders_found_at_start_are_a_warning_and_hedge_mode_is_reported() -> None:
    async with start_twins(["binance"], symbols=["BTC"], rate=20, options={"binance": {"hedge_mode": True}}) as twins:
        twin = twins["binance"].twin
        bid = Decimal(twin.book_json("BTCUSDT", 1)["bids"][0][0])
        price = (bid * Decimal("0.8")).quantize(Decimal("0.1"))
        twin.engine.place(OrderRequest("BTCUSDT", TwinSide.BUY, TwinOrderType.LIMIT, Decimal("0.002"), "manual-1",
                                       price, position_side=PositionSide.LONG), twin.now_ms())
        got = await _doctor(twins, "binance")
    assert got["open orders"].verdict is Verdict.WARN and "1 found" in got["open orders"].detail
    assert got["position mode"].detail == "hedge"
    assert exit_code(list(got.values())) == 1


@pytest.mark.anyio
async def test_a_silent_stream_fails_with_the_advice_to_check_the_route() -> None:
    """The Binance twin, as the venue, says nothing on a route that does not carry a stream: the public
    route pointed at the market one leaves the book and the trades silent."""
    async with start_twins(["binance"], symbols=["BTC"], rate=20) as twins:
        rt = twins["binance"]
        ws = dict(rt.ws)
        ws["public"] = ws["market"]
        c = rt.twin.credentials
        got = _by(await doctor_venue(Venue.BINANCE, VenueSection(instruments=["BTC-USDT-PERP"]),
                                     Endpoints(rest=rt.rest, ws=ws), Credentials(c.api_key, c.secret), seconds=1.5))
    book = got["book BTC-USDT-PERP"]
    assert book.verdict is Verdict.FAIL and "never LIVE" in book.detail and "ws routes" in book.advice


@pytest.mark.anyio
async def test_a_refused_switch_fails_and_an_armed_one_passes() -> None:
    async with start_twins(["bybit"], symbols=["BTC"], rate=20, options={"bybit": {"dcp_enabled": False}}) as twins:
        got = await _doctor(twins, "bybit", dead_mans_switch_s=5.0)
    assert got["dead-man's switch"].verdict is Verdict.FAIL and "DCP" in got["dead-man's switch"].detail
    async with start_twins(["okx"], symbols=["BTC"], rate=20) as twins:
        got = await _doctor(twins, "okx", dead_mans_switch_s=10.0)
        timers = dict(twins["okx"].twin.caa.deadlines)  # the doctor leaves no countdown behind
    assert got["dead-man's switch"].verdict is Verdict.PASS and "then disarmed" in got["dead-man's switch"].detail
    assert not timers, timers


@pytest.mark.anyio
@pytest.mark.parametrize("venue", ["binance", "bybit", "okx", "deribit"])
async def test_a_venue_that_changed_is_reported_as_drift_with_an_example(venue: str) -> None:
    """The twin adds a field to every push and answer and pushes one event type no documentation lists: the
    doctor names exactly those (where, with an example), nothing else, and the session still passes."""
    async with start_twins([venue], symbols=["BTC"], rate=20) as twins:
        faults = twins[venue].twin.faults
        faults.inject("unknown_field", field="x_added_in_2026", value="surprise")
        faults.inject("unknown_event", event="x_brand_new_event")
        results = await _doctor_list(twins, venue)
    drift = [r for r in results if r.check.startswith("drift")]
    fields = [r for r in drift if r.check == "drift: unknown field"]
    events = [r for r in drift if r.check == "drift: unknown event type"]
    assert fields and events and len(fields) + len(events) == len(drift), render(drift)
    for r in fields:
        assert r.verdict is Verdict.WARN and re.search(r"[/.]x_added_in_2026$", r.detail.split(": ")[0]), r.detail
        assert '"surprise"' in r.detail
    assert len(events) == 1 and "x_brand_new_event" in events[0].detail, render(events)
    others = [r for r in results if r.verdict is not Verdict.PASS and not r.check.startswith("drift")]
    assert not others, render(others)


@pytest.mark.anyio
@pytest.mark.parametrize(("config", "verdict", "words"), [
    ({"can_withdraw": True}, Verdict.WARN, "withdrawals ENABLED"),
    ({"can_trade": False}, Verdict.FAIL, "no trading permission"),
    ({}, Verdict.PASS, "trading on, withdrawals off"),
], ids=["withdrawals", "no_trading", "well_kept"])
async def test_the_keys_permissions_are_judged(config: dict[str, bool], verdict: Verdict, words: str) -> None:
    async with start_twins(["binance"], symbols=["BTC"], rate=20,
                           options={"binance": {"config": BinanceConfig(**config)}}) as twins:
        got = await _doctor(twins, "binance")
    assert got["key permissions"].verdict is verdict and words in got["key permissions"].detail
    assert got["settings BTC-USDT-PERP"].detail.startswith("margin cross, leverage ")


@pytest.mark.anyio
@pytest.mark.parametrize("venue", ["binance", "bybit", "okx", "deribit"])
async def test_a_key_used_from_an_ip_not_on_its_allow_list_fails_with_that_advice(venue: str) -> None:
    options = {"binance": {"config": BinanceConfig(ip_allowed=False)}, "okx": {"config": OkxConfig(ip_allowed=False)},
               "bybit": {"ip_allowed": False}, "deribit": {"ip_allowed": False}}
    async with start_twins([venue], symbols=["BTC"], rate=20, options={venue: options[venue]}) as twins:
        got = await _doctor(twins, venue)
    auth = got["auth"]
    assert auth.verdict is Verdict.FAIL and "ours:" in auth.detail and "allow-list" in auth.detail, auth.detail
    assert "public IP to the key's allow-list" in auth.advice
    assert got["book BTC-USD-PERP" if venue == "deribit" else "book BTC-USDT-PERP"].verdict is Verdict.PASS


@pytest.mark.anyio
async def test_a_switch_the_venue_cannot_turn_off_is_a_warning_and_binance_is_disarmed() -> None:
    async with start_twins(["bybit"], symbols=["BTC"], rate=20) as twins:
        got = await _doctor(twins, "bybit", dead_mans_switch_s=10.0)
    switch = got["dead-man's switch"]
    assert switch.verdict is Verdict.WARN and "no way to turn it off" in switch.detail
    async with start_twins(["binance"], symbols=["BTC"], rate=20) as twins:
        got = await _doctor(twins, "binance", dead_mans_switch_s=10.0)
        countdowns = dict(twins["binance"].twin.countdowns.running)
    assert got["dead-man's switch"].verdict is Verdict.PASS and "then disarmed" in got["dead-man's switch"].detail
    assert not countdowns, countdowns


def _closed_port() -> int:
    return free_port()  # nothing listens there, and no port-0 bind can take it meanwhile


def test_unreachable_venues_fail_with_a_reason_each_and_exit_2(tmp_path: Path) -> None:
    """One venue whose host does not resolve, one whose port refuses: both end in FAIL with the reason, the
    command ends (a bounded run: the subprocess timeout) with exit 2 and writes its JSON."""
    port = _closed_port()
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"""
[venues.binance]
instruments = ["BTC-USDT-PERP"]
rest = "https://fapi.crossbook-doctor.invalid"
ws = {{ public = "wss://fstream.crossbook-doctor.invalid/public", market = "wss://fstream.crossbook-doctor.invalid/market" }}

[venues.okx]
instruments = ["BTC-USDT-PERP"]
rest = "http://127.0.0.1:{port}"
ws = {{ public = "ws://127.0.0.1:{port}/ws/v5/public" }}
""")
    out_json = tmp_path / "doctor.json"
    done = subprocess.run([sys.executable, "-m", "supervisor", "doctor", "--config", str(cfg), "--seconds", "1",
                           "--json", str(out_json)], cwd=REPO, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    doc = json.loads(out_json.read_text())
    assert doc["exit_code"] == 2
    rows = {(r["venue"], r["check"]): r for r in doc["results"]}
    assert rows[("binance", "reach rest")]["verdict"] == "FAIL"
    assert "not resolved" in rows[("binance", "reach rest")]["detail"]
    assert rows[("okx", "reach rest")]["verdict"] == "FAIL"
    assert "Refused" in rows[("okx", "reach rest")]["detail"] or "refused" in rows[("okx", "reach rest")]["detail"]
    assert rows[("okx", "session")]["detail"].startswith("not started")
    assert "binance  FAIL" in done.stdout and "okx  FAIL" in done.stdout


def test_doctor_on_the_simulated_venues_passes_and_exits_0(tmp_path: Path) -> None:
    out_json = tmp_path / "doctor.json"
    done = subprocess.run([sys.executable, "-m", "supervisor", "doctor", "--simulate", "--seconds", "2",
                           "--venues", "bybit,deribit", "--json", str(out_json)], cwd=REPO, capture_output=True,
                          text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    doc = json.loads(out_json.read_text())
    assert {r["venue"] for r in doc["results"]} == {"bybit", "deribit"}
    assert all(r["verdict"] == "PASS" for r in doc["results"])



@pytest.mark.anyio
@pytest.mark.parametrize("venue", ["binance", "bybit", "okx", "deribit"])
async def test_the_test_order_rests_post_only_far_below_and_is_cancelled_at_once(venue: str) -> None:
    async with start_twins([venue], symbols=["BTC"], rate=20) as twins:
        rt = twins[venue]
        c = rt.twin.credentials
        sec = VenueSection(instruments=["BTC-USD-PERP" if venue == "deribit" else "BTC-USDT-PERP"])
        got = _by(await doctor_venue(Venue(venue), sec, Endpoints(rest=rt.rest, ws=dict(rt.ws)),
                                     Credentials(c.api_key, c.secret, c.passphrase or ""), seconds=1.5,
                                     test_order=True))
        orders = list(rt.twin.engine.orders.values())
    order = got["test order"]
    assert order.verdict is Verdict.PASS and "post-only buy" in order.detail, order
    assert "then cancelled" in order.detail or "then cancel accepted" in order.detail, order
    assert len(orders) == 1, orders  # one order, placed once
    placed = orders[0]
    assert placed.status is TwinStatus.CANCELED and placed.filled == 0 and placed.tif is TwinTif.POST_ONLY, placed


@given(bid=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("500000"), places=2),
       tick=st.sampled_from([Decimal("0.1"), Decimal("0.5"), Decimal("0.01"), Decimal("1")]),
       lot=st.sampled_from([Decimal("0.001"), Decimal("1"), Decimal("10"), Decimal("0.01")]),
       min_notional=st.sampled_from([Decimal(0), Decimal(5), Decimal(100)]))
def test_the_test_orders_terms_are_passive_and_the_smallest_the_venue_accepts(
        bid: Decimal, tick: Decimal, lot: Decimal, min_notional: Decimal) -> None:
    inst = Instrument(venue=Venue.BINANCE, id=InstrumentId("X-USDT-PERP"), venue_symbol="XUSDT",
                      kind=InstrumentKind.PERPETUAL, base="X", quote="USDT", settle="USDT", tick_size=tick,
                      lot_size=lot, min_qty=lot, min_notional=min_notional, contract_size=Decimal(1),
                      contract_type=ContractType.LINEAR)
    price, qty = probe_order_terms(inst, bid)
    if price <= 0:
        return  # a bid below a tick: no order possible, nothing to check
    assert price <= bid * TEST_ORDER_DISCOUNT and price % tick == 0
    check_order_size(inst, qty, price)  # the venue's own minimums hold
    smaller = qty - lot
    assert smaller < lot or smaller * price < min_notional  # one lot less would be refused


@pytest.mark.anyio
async def test_on_a_real_account_a_switch_that_cannot_be_turned_off_is_never_armed() -> None:
    """--arm-switches on a real account: Bybit's DCP has no "off" by API, so the doctor does not arm it (it
    would cancel the account's orders after the doctor leaves); it says so, and the venue saw no DCP set."""
    async with start_twins(["bybit"], symbols=["BTC"], rate=20) as twins:
        rt = twins["bybit"]
        c = rt.twin.credentials
        windows = dict(rt.twin.dcp.windows)  # the account's (Bybit's default 10 s)
        got = _by(await doctor_venue(Venue.BYBIT, VenueSection(instruments=["BTC-USDT-PERP"], dead_mans_switch_s=10.0),
                                     Endpoints(rest=rt.rest, ws=dict(rt.ws)), Credentials(c.api_key, c.secret),
                                     seconds=1.0, arm_switch=True, real_account=True))
        dcp = rt.twin.dcp
        assert (dcp.windows, dcp.countdowns) == (windows, {}), dcp  # not set, and no countdown after we left
    switch = got["dead-man's switch"]
    assert switch.verdict is Verdict.WARN and "not armed" in switch.detail and "no way to turn it off" in switch.advice


def test_simulate_faults_shows_every_kind_of_result(tmp_path: Path) -> None:
    """``doctor --simulate --simulate-faults``: each canned fault (daemon/doctor_faults.py) ends in its result,
    and what is not faulted still passes."""
    out_json = tmp_path / "doctor.json"
    done = subprocess.run([sys.executable, "-m", "supervisor", "doctor", "--simulate", "--simulate-faults",
                           "--seconds", "2", "--json", str(out_json)], cwd=REPO, capture_output=True, text=True,
                          timeout=240, check=False)
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr[-2000:]
    doc = json.loads(out_json.read_text())
    got: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in doc["results"]:
        got.setdefault((r["venue"], r["check"]), []).append(r)

    def one(venue: str, check: str) -> dict[str, Any]:
        [r] = got[(venue, check)]
        return r

    assert one("binance", "clock")["verdict"] == "WARN" and "+10" in one("binance", "clock")["detail"]
    assert one("binance", "book BTC-USDT-PERP")["verdict"] == "FAIL"  # the misrouted public route is silent
    assert one("binance", "trades")["verdict"] == "PASS"
    assert one("binance", "position mode")["detail"] == "hedge"
    assert one("binance", "key permissions")["verdict"] == "WARN"
    assert all(r["detail"].split(": ")[0].endswith("/x_new_field") for r in got[("binance", "drift: unknown field")])
    assert "10010" in one("bybit", "auth")["detail"] and one("bybit", "book BTC-USDT-PERP")["verdict"] == "PASS"
    assert one("okx", "instrument BTC-USDT-PERP")["verdict"] == "FAIL"
    assert one("okx", "instrument ETH-USDT-PERP")["verdict"] == "PASS"
    assert "x-new-channel" in one("okx", "drift: unknown event type")["detail"]
    assert one("deribit", "auth")["verdict"] == "FAIL" and "13004" in one("deribit", "auth")["detail"]
    for venue in ("bybit", "deribit"):
        assert one(venue, "drift")["verdict"] == "PASS"


@pytest.mark.parametrize(("frame", "kind"), [
    (b'{"arg":{"channel":"books","instId":"BTC-USDT-SWAP"},"action":"snapshot","data":[{"bids":[],"ts":"1",'
     b'"seqId":1,"prevSeqId":-1,"checksum":0}]}', "missing field `asks` in `$.data[0]`"),
    (b'{"arg":{"channel":"books","instId":"BTC-USDT-SWAP"},"action":"snapshot","data":[{"asks":[],"bids":[],'
     b'"ts":"1","seqId":"x","prevSeqId":-1,"checksum":0}]}', "changed type: `$.data[0].seqId` expected `int | null`, got `str`"),
    (b'{"arg":', "unreadable frame"),
], ids=["field_gone", "type_changed", "not_json"])
def test_a_frame_the_codec_cannot_read_is_named_by_what_changed(frame: bytes, kind: str) -> None:
    """The OKX codec's own words on a books push whose field went away or changed type become the doctor's
    drift finding (missing field / changed type), not a bare "malformed"."""
    registry = InstrumentRegistry()
    registry.add(Instrument(venue=Venue.OKX, id=InstrumentId("BTC-USDT-PERP"), venue_symbol="BTC-USDT-SWAP",
                            kind=InstrumentKind.PERPETUAL, base="BTC", quote="USDT", settle="USDT",
                            contract_type=ContractType.LINEAR, tick_size=Decimal("0.1"), lot_size=Decimal(1)))
    codec = OkxCodec(registry)
    codec.feed(b'{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT-SWAP"},"connId":"1"}', 1)
    [dropped] = [o for o in codec.feed(frame, 2) if isinstance(o, Dropped)]
    assert unreadable_kind(dropped.error) == kind, dropped.error


@pytest.mark.anyio
async def test_a_server_time_the_venue_does_not_answer_fails_the_clock_check() -> None:
    async with start_twins(["binance"], symbols=["BTC"], rate=20) as twins:
        twins["binance"].twin.faults.inject("http_5xx", status=503)
        got = await _doctor(twins, "binance", seconds=0.5)
    assert got["clock"].verdict is Verdict.FAIL and "503" in got["clock"].detail, got["clock"]


@pytest.mark.anyio
async def test_a_book_that_arrives_late_is_a_warning() -> None:
    """Every frame 0.7 s on its way: the book is LIVE and in sequence, but slow (WARN)."""
    async with start_twins(["binance"], symbols=["BTC"], rate=20, latency=LatencyProfile(ws_out_ms=700)) as twins:
        got = await _doctor(twins, "binance", seconds=3.0)
    book = got["book BTC-USDT-PERP"]
    assert book.verdict is Verdict.WARN and "slow" in book.detail and "p99 70" in book.detail, book


@pytest.mark.anyio
async def test_trades_on_a_misrouted_market_stream_fail() -> None:
    """The market route pointed at the public one: Binance delivers aggTrade nowhere else and says nothing."""
    async with start_twins(["binance"], symbols=["BTC"], rate=20) as twins:
        rt = twins["binance"]
        ws = dict(rt.ws)
        ws["market"] = ws["public"]
        c = rt.twin.credentials
        got = _by(await doctor_venue(Venue.BINANCE, VenueSection(instruments=["BTC-USDT-PERP"]),
                                     Endpoints(rest=rt.rest, ws=ws), Credentials(c.api_key, c.secret), seconds=1.5))
    assert got["trades"].verdict is Verdict.FAIL and "ws routes" in got["trades"].advice, got["trades"]


@pytest.mark.anyio
async def test_an_account_with_nothing_free_is_a_warning() -> None:
    async with start_twins(["binance"], symbols=["BTC"], rate=20,
                           options={"binance": {"balance_usdt": Decimal(0)}}) as twins:
        got = await _doctor(twins, "binance", seconds=0.5)
    assert got["balances"].verdict is Verdict.WARN and "fund the account" in got["balances"].advice


@pytest.mark.anyio
async def test_a_test_order_the_venue_cannot_take_fails_in_its_words() -> None:
    options = {"okx": {"instrument_states": {"BTC-USDT-SWAP": "suspend"}}}
    async with start_twins(["okx"], symbols=["BTC"], rate=20, options=options) as twins:
        rt = twins["okx"]
        c = rt.twin.credentials
        got = _by(await doctor_venue(Venue.OKX, VenueSection(instruments=["BTC-USDT-PERP"]),
                                     Endpoints(rest=rt.rest, ws=dict(rt.ws)),
                                     Credentials(c.api_key, c.secret, c.passphrase or ""), seconds=1.0,
                                     test_order=True))
        sent = rt.twin.received.to_json()
    order = got["test order"]
    assert order.verdict is Verdict.FAIL and "refused" in order.detail and "suspend" in order.detail, order
    assert sent == {}  # refused before anything left
