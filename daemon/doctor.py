"""``python -m supervisor doctor``: can this config trade today? A preflight per venue, within a time budget.

Checks, per enabled venue (each PASS, WARN or FAIL, with one line of advice for anything but PASS):

- ``reach <url>``: the REST host and every WebSocket route the venue uses resolve and accept a TCP (and TLS)
  connection;
- ``clock``: the venue's server time against ours, judged against the venue's receive window (crossbook
  corrects for the offset, other tools on the host may not);
- ``instrument <id>``: listed by the venue, with its tick and lot, and open for trading;
- ``book <id>``: goes LIVE under the venue's sequencing rule and stays in sequence for ``--seconds``, with
  the message rate and the event-to-receipt latency;
- ``trades`` / ``klines``: arrive when configured (a misrouted stream is silent, never an error);
- with credentials: ``auth`` (in the venue's words and ours), ``balances``, ``position mode``, ``open
  orders`` and ``positions`` found at start (what the daemon would adopt), ``private stream``, and
  ``dead-man's switch`` (armed by the venue) when configured.

Nothing is traded. An unreachable venue ends in FAIL with its reason within the budget, never in a hang.
Exit code: 0 all PASS, 1 warnings only, 2 any FAIL. ``--json PATH`` writes every result for scripts.
"""

from __future__ import annotations

import argparse
import enum
import importlib
import json
import math
import random
import re
import socket
import ssl
import sys
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from decimal import ROUND_CEILING, Decimal
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import anyio
import msgspec

from actors import topics
from actors.bus import Bus
from actors.clock import LiveClock
from actors.exchanges.adapter import Endpoints, VenueAdapter
from actors.exchanges.base import ExchangeActor, ExchangeConfig
from daemon.config import Config, VenueSection, credentials_for, default_config, load_config
from daemon.wiring import adapter_for
from messages import (
    Balance,
    BookIntegrity,
    BookState,
    CancelOrder,
    ClientOrderId,
    ContractType,
    DeadMansSwitch,
    GetBalances,
    GetOpenOrders,
    GetPositions,
    Instrument,
    InstrumentId,
    Kline,
    OrderUpdate,
    PlaceOrder,
    Quote,
    Side,
    SwitchState,
    Trade,
    Venue,
)
from venues import Credentials
from venues.drift import DriftCollector, VenueSchema
from venues.errors import AuthError, ConfigError, CrossbookError, TimestampError, VenueReject
from venues.http import Response
from venues.symbols import InstrumentRegistry, round_price, round_qty

__all__ = ["Verdict", "Result", "run_doctor", "doctor_venue", "RECV_WINDOW_MS"]

RECV_WINDOW_MS = {Venue.BINANCE: 5_000, Venue.BYBIT: 5_000, Venue.OKX: 30_000, Venue.DERIBIT: 60_000}
"""How far a signed request's timestamp may be from the venue's clock (Binance recvWindow default, Bybit
X-BAPI-RECV-WINDOW default, OKX's 30 s, Deribit's 60 s for REST signatures)."""

REACH_BUDGET_S = 5.0  # name resolution + TCP (+ TLS) per URL
START_BUDGET_S = 20.0  # the venue session started (instruments loaded, streams up)
LATENCY_WARN_MS = 500.0  # event-to-receipt p99 above this: a WARN (far host, overloaded machine; the health
# monitor's degraded threshold)


class Verdict(enum.StrEnum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"


class Result(msgspec.Struct, frozen=True, kw_only=True):
    venue: str
    check: str
    verdict: Verdict
    detail: str
    advice: str = ""
    ms: float = 0.0


def _ok(venue: Venue, check: str, detail: str, t0: float) -> Result:
    return Result(venue=venue.value, check=check, verdict=Verdict.PASS, detail=detail, ms=_since(t0))


def _warn(venue: Venue, check: str, detail: str, advice: str, t0: float) -> Result:
    return Result(venue=venue.value, check=check, verdict=Verdict.WARN, detail=detail, advice=advice, ms=_since(t0))


def _fail(venue: Venue, check: str, detail: str, advice: str, t0: float) -> Result:
    return Result(venue=venue.value, check=check, verdict=Verdict.FAIL, detail=detail[:300], advice=advice,
                  ms=_since(t0))


def _since(t0: float) -> float:
    return round((time.monotonic() - t0) * 1000, 1)


# -- reach ------------------------------------------------------------------------------------------
async def check_reach(venue: Venue, name: str, url: str) -> Result:
    """DNS, then TCP, then TLS for https/wss, each within the budget."""
    t0 = time.monotonic()
    parts = urlsplit(url)
    host = parts.hostname or ""
    secure = parts.scheme in ("https", "wss")
    port = parts.port or (443 if secure else 80)
    check = f"reach {name}"
    where = f"{host}:{port}"
    advice_dns = f"check the host name in [venues.{venue.value}] (rest / ws) and this machine's DNS"
    try:
        with anyio.fail_after(REACH_BUDGET_S):
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except TimeoutError:
        return _fail(venue, check, f"{where}: name resolution took more than {REACH_BUDGET_S:g} s", advice_dns, t0)
    except OSError as exc:
        return _fail(venue, check, f"{where}: name not resolved ({exc})", advice_dns, t0)
    if not infos:
        return _fail(venue, check, f"{where}: no address", advice_dns, t0)
    advice_tcp = f"{where} is not reachable from here: a firewall, a proxy, a maintenance window or a wrong port"
    try:
        with anyio.fail_after(REACH_BUDGET_S):
            ctx = ssl.create_default_context() if secure else None
            stream = await anyio.connect_tcp(host, port, ssl_context=ctx, tls_standard_compatible=False) if ctx \
                else await anyio.connect_tcp(host, port)
            await stream.aclose()
    except TimeoutError:
        return _fail(venue, check, f"{where}: no TCP{'/TLS' if secure else ''} answer within {REACH_BUDGET_S:g} s",
                     advice_tcp, t0)
    except (OSError, ssl.SSLError) as exc:
        cause = exc.__cause__ if isinstance(exc.__cause__, OSError) else exc  # anyio: "All connection attempts failed"
        return _fail(venue, check, f"{where}: {type(cause).__name__}: {cause}", advice_tcp, t0)
    return _ok(venue, check, f"{where} reached{' (TLS)' if secure else ''}", t0)


# -- one venue ----------------------------------------------------------------------------------------
class _Watch:
    """What a venue session publishes while the doctor watches (a real event subscription on its own bus)."""

    def __init__(self, bus: Bus, venue: Venue) -> None:
        self.sub = bus.subscribe_events(f"md.*.{venue.value}.>", name="doctor:md", capacity=1_000_000)
        self.integrity = bus.subscribe_events(topics.book_integrity(venue, "*"), name="doctor:books",
                                              capacity=100_000)
        self.quotes: dict[InstrumentId, int] = {}
        self.bid: dict[InstrumentId, float] = {}  # the last best bid (the test order's reference)
        self.trades: dict[InstrumentId, int] = {}
        self.klines: dict[InstrumentId, int] = {}
        self.lat_ms: list[float] = []
        self.live: set[InstrumentId] = set()
        self.resyncs: dict[InstrumentId, list[str]] = {}
        self.switch = bus.subscribe_events(topics.switch(venue), name="doctor:switch", capacity=1_000)
        self.switch_state: SwitchState | None = None

    async def switch_settled(self) -> None:
        """Until the venue's switch is ARMED or REFUSED (its DeadMansSwitch messages, as they come)."""
        rx = self.switch.receiver
        assert rx is not None
        while self.switch_state not in (SwitchState.ARMED, SwitchState.REFUSED):
            msg = await rx.receive()
            if isinstance(msg, DeadMansSwitch):
                self.switch_state = msg.state

    def drain(self) -> None:
        for sub in (self.sub, self.integrity):
            rx = sub.receiver
            assert rx is not None
            while rx.has_items():
                self._take(rx.receive_nowait())

    def _take(self, msg: Any) -> None:
        match msg:
            case Quote(instrument=i, ts_event=te, ts_recv=tr, bid_px=bid):
                self.quotes[i] = self.quotes.get(i, 0) + 1
                if bid > 0:
                    self.bid[i] = bid
                if te > 0:
                    self.lat_ms.append((tr - te) / 1e6)
            case Trade(instrument=i):
                self.trades[i] = self.trades.get(i, 0) + 1
            case Kline(instrument=i):
                self.klines[i] = self.klines.get(i, 0) + 1
            case BookIntegrity(instrument=i, state=BookState.LIVE):
                self.live.add(i)
            case BookIntegrity(instrument=i, state=BookState.RESYNCING, reason=why) if i in self.live:
                self.resyncs.setdefault(i, []).append(why)

    def close(self) -> None:
        self.sub.cancel()
        self.integrity.cancel()
        self.switch.cancel()


async def doctor_venue(venue: Venue, section: VenueSection, endpoints: Endpoints | None,
                       credentials: Credentials | None, *, seconds: float, arm_switch: bool = False,
                       test_order: bool = False, real_account: bool = False) -> list[Result]:
    """Every check of one venue, within about ``seconds`` + the start budget.

    ``arm_switch``: arm a configured dead-man's switch to see the venue accept it, then turn it off again
    where the venue allows (not by default on a real account: turning a switch off also turns off the one a
    running daemon holds on the same account and symbols; never on a ``real_account`` whose venue cannot turn
    it off by request). ``test_order``: place one post-only buy far below the market and cancel it at once.
    """
    adapter = adapter_for(venue, InstrumentRegistry(), endpoints, section)
    ep: Endpoints = adapter.endpoints
    urls = {"rest": ep.rest, **{f"ws {k}": v for k, v in _ws_used(adapter, ep).items()}}
    results: list[Result] = []
    async with anyio.create_task_group() as tg:
        reach: dict[str, Result] = {}

        async def one(name: str, url: str) -> None:
            reach[name] = await check_reach(venue, name, url)

        for name, url in urls.items():
            tg.start_soon(one, name, url)
    results += [reach[n] for n in urls]
    if reach["rest"].verdict is Verdict.FAIL:
        t0 = time.monotonic()
        results.append(_fail(venue, "session", "not started: the REST host is not reachable",
                             "fix reach rest first", t0))
        return results
    results += await _clock(venue, adapter, ep)
    if section.dead_mans_switch_s and arm_switch and real_account and not adapter.switch_off_by_api:
        t0 = time.monotonic()
        results.append(_warn(venue, "dead-man's switch", f"{section.dead_mans_switch_s:g} s configured, not armed",
                             f"{venue.value} offers no way to turn it off by API: armed from the doctor, it would "
                             "cancel the account's orders once the doctor exits; the daemon refuses to start if "
                             "the venue refuses it", t0))
        section = msgspec.structs.replace(section, dead_mans_switch_s=0.0)
    elif section.dead_mans_switch_s and not arm_switch:
        t0 = time.monotonic()
        results.append(_warn(venue, "dead-man's switch", f"{section.dead_mans_switch_s:g} s configured, not checked",
                             "run the doctor with --arm-switches while no daemon trades on this account (turning "
                             "the doctor's switch off turns the daemon's off too); the daemon refuses to start if "
                             "the venue refuses it", t0))
        section = msgspec.structs.replace(section, dead_mans_switch_s=0.0)
    results += await _session(venue, section, endpoints, credentials, seconds, test_order)
    return results


def _ws_used(adapter: VenueAdapter, ep: Endpoints) -> dict[str, str]:
    """The WebSocket routes the venue's session opens with this config (its streams), by name."""
    session = adapter.session(Credentials("doctor", "doctor", "doctor"), lambda: "doctor")  # every stream
    names = [s.name for s in session.streams()]
    return {n: ep.ws[n] for n in names if n in ep.ws} or dict(ep.ws)


async def _clock(venue: Venue, adapter: VenueAdapter, ep: Endpoints) -> list[Result]:
    t0 = time.monotonic()
    spec = adapter.server_time_request()
    try:
        async with aiohttp.ClientSession() as http:
            with anyio.fail_after(REACH_BUDGET_S):
                sent = time.time() * 1000
                async with http.request(spec.method, ep.rest + spec.target, headers=spec.headers,
                                        data=spec.body or None) as r:
                    body = await r.read()
                    status, headers = r.status, dict(r.headers)
                received = time.time() * 1000
        server = adapter.parse_server_time(Response(status=status, headers=headers, body=body))
    except (TimeoutError, aiohttp.ClientError, OSError, CrossbookError, msgspec.MsgspecError) as exc:
        return [_fail(venue, "clock", f"server time not read: {type(exc).__name__}: {exc}",
                      "the venue's public REST does not answer as documented: see reach rest", t0)]
    offset = server - (sent + received) / 2
    window = RECV_WINDOW_MS.get(venue, 5_000)
    detail = f"venue minus ours {offset:+.0f} ms (receive window {window} ms, round trip {received - sent:.0f} ms)"
    if abs(offset) <= window / 2:
        return [_ok(venue, "clock", detail, t0)]
    return [_warn(venue, "clock", detail, "crossbook corrects for the offset, but fix this host's clock (chrony / "
                  "systemd-timesyncd): signed requests of other tools will be refused", t0)]


class _StrictActor(ExchangeActor):
    """The venue's real exchange actor, with every frame and answer also read strictly (drift) and the first
    example of each unreadable frame kept."""

    def __init__(self, *args: Any, drift: DriftCollector | None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.drift = drift
        self.drop_examples: dict[str, str] = {}
        if drift is not None:
            self.observe_response = lambda spec, resp: drift.response(spec.path, resp.body)

    def on_frame(self, st: Any, data: str | bytes, ts: int) -> None:
        if self.drift is not None:
            self.drift.frame(st.spec.name, data)
        super().on_frame(st, data, ts)

    def _on_dropped(self, reason: str, error: str, stream: str) -> None:
        self.drop_examples.setdefault(reason, f"{stream}: {error}"[:200])
        super()._on_dropped(reason, error, stream)


def _schema(venue: Venue) -> VenueSchema | None:
    """The venue's documented shapes (venues/<venue>/schema.py), or None where none is written yet."""
    try:
        module: Any = importlib.import_module(f"venues.{venue.value}.schema")
    except ModuleNotFoundError:
        return None
    schema: VenueSchema = module
    return schema


async def _session(venue: Venue, section: VenueSection, endpoints: Endpoints | None,
                   credentials: Credentials | None, seconds: float, test_order: bool = False) -> list[Result]:
    """Run the venue's real exchange actor for ``seconds`` and judge what it does; when the keys are refused,
    judge the market data again without them."""
    results: list[Result] = []
    refused = False
    t0 = time.monotonic()
    bus = Bus()
    watch = _Watch(bus, venue)
    adapter = adapter_for(venue, InstrumentRegistry(), endpoints, section)
    schema = _schema(venue)
    drift = DriftCollector(schema) if schema is not None else None
    actor = _StrictActor(adapter, ExchangeConfig(instruments=list(section.instruments), depth_levels=0,
                                                 connect_timeout_s=START_BUDGET_S),
                         bus=bus, credentials=credentials, clock=LiveClock(), rng=random.Random(),
                         name=f"doctor.{venue.value}", drift=drift)
    try:
        async with anyio.create_task_group() as tg:
            try:
                with anyio.fail_after(START_BUDGET_S + 5):
                    ref = await tg.start(actor.run)
            except Exception as exc:  # noqa: BLE001 - the reason is the result
                results += _start_failed(venue, section, credentials, exc, t0)
                refused = credentials is not None and results[-1].check == "auth"
            else:
                results += await _judge(venue, section, actor, ref, watch, seconds, credentials, test_order, t0)
            tg.cancel_scope.cancel()
    finally:
        watch.close()
        bus.close()
    if refused:  # the market data needs no keys: judge it without them
        results += await _session(venue, section, endpoints, None, seconds)
    return results


async def _judge(venue: Venue, section: VenueSection, actor: _StrictActor, ref: Any, watch: _Watch, seconds: float,
                 credentials: Credentials | None, test_order: bool, t0: float) -> list[Result]:
    """What a started session does in ``seconds``: instruments, market data, the private side, drift."""
    results = _instruments(venue, section, actor, t0)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await anyio.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        watch.drain()
    watch.drain()
    results += _market(venue, section, actor, watch, seconds, t0)
    if credentials is not None:
        results += await _private(venue, section, actor, ref, watch, test_order, t0)
    results += _drift(venue, actor, t0)
    return results


_MISSING = re.compile(r"missing required field `([^`]+)`(?: - at `([^`]+)`)?")
_TYPE = re.compile(r"Expected `([^`]+)`, got `([^`]+)`(?: - at `([^`]+)`)?")


def unreadable_kind(error: str) -> str:
    """What a frame the codec could not read says of the venue, from the decoder's words: a field it needs
    is gone ("missing field `asks` in `$.data[0]`"), a field changed type ("changed type: `$.data[0].seqId`
    expected `int | null`, got `str`"), or the
    frame is not what the venue sends at all ("unreadable frame")."""
    if m := _MISSING.search(error):
        return f"missing field `{m.group(1)}`" + (f" in `{m.group(2)}`" if m.group(2) else "")
    if m := _TYPE.search(error):
        return "changed type: " + (f"`{m.group(3)}` " if m.group(3) else "") + \
            f"expected `{m.group(1)}`, got `{m.group(2)}`"
    return "unreadable frame"


_EVENT_DROPS = frozenset({"unknown_topic", "unknown channel"})
"""Codec drop reasons for a frame of a type the codec does not read (Bybit's topic, Deribit's channel)."""


def _drift(venue: Venue, actor: _StrictActor, t0: float) -> list[Result]:
    """What the documentation does not know (the first sign that the venue changed), and frames the codec
    could not read at all."""
    out: list[Result] = []
    for reason, n in sorted(actor.dropped.items()):
        if reason in _EVENT_DROPS and actor.drift is not None:
            continue  # a frame of a type we do not know: the drift reading below names it
        example = actor.drop_examples.get(reason, "")
        out.append(_fail(venue, f"drift: {unreadable_kind(example)}", f"{n} frame(s) unreadable ({reason}): {example}",
                         "the venue changed a field crossbook reads: compare with its change log", t0))
    drift = actor.drift
    if drift is None:
        out.append(_warn(venue, "drift", "no documented schema for this venue: frames not read strictly",
                         f"write venues/{venue.value}/schema.py", t0))
        return out
    findings = drift.report()
    for f in findings:
        out.append(_warn(venue, f"drift: {f.what}", f"{f.where}: {f.example} ({f.count}x)",
                         "the venue changed (see its change log): crossbook ignores it until told", t0))
    if not findings:
        out.append(_ok(venue, "drift", f"{drift.frames} frames and {drift.responses} answer(s) read strictly: nothing "
                       "the documentation does not list", t0))
    return out


def _start_failed(venue: Venue, section: VenueSection, credentials: Credentials | None, exc: BaseException,
                  t0: float) -> list[Result]:
    err = exc.exceptions[0] if isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1 else exc
    text = f"{type(err).__name__}: {err}"
    if isinstance(err, AuthError | TimestampError) or (isinstance(err, VenueReject) and credentials is not None
                                                      and _auth_like(err)):
        return [_fail(venue, "auth", f"{text} ({_auth_kind(err)})", _auth_advice(venue, err), t0)]
    if isinstance(err, ConfigError) or "instrument" in str(err).lower():
        return [_fail(venue, "instruments", text, f"check [venues.{venue.value}] instruments against the venue's "
                      "listing", t0)]
    return [_fail(venue, "session", f"not started: {text}", "see the reach and clock checks above", t0)]


def _auth_like(err: VenueReject) -> bool:
    t = err.text.lower()
    return any(w in t for w in ("key", "sign", "auth", "permission", "ip", "passphrase", "timestamp"))


_CAUSE_WORDS = {
    "key": "a bad API key", "secret": "bad signature (wrong secret)", "passphrase": "wrong passphrase",
    "ip": "this IP not on the key's allow-list", "permission": "the key lacks a permission",
    "timestamp": "timestamp outside the receive window",
}
_AUTH_CODES: dict[str, tuple[str, ...]] = {
    # Venue codes whose meaning is known exactly (the venues' error catalogues): the possible causes.
    "-2015": ("key", "ip", "permission"),  # "Invalid API-key, IP, or permissions for action."
    "-2014": ("key",), "-1022": ("secret",), "-1021": ("timestamp",),
    "50110": ("ip",), "50111": ("key",), "50113": ("secret",), "50105": ("passphrase",),
    "10003": ("key",), "10004": ("secret",), "10005": ("permission",), "10010": ("ip",),
    "13004": ("key", "secret"), "13009": ("key", "secret"),
    "13021": ("ip", "permission"),  # "forbidden": not allowed from here or not within the key's scope
}


def _auth_causes(err: VenueReject) -> tuple[str, ...]:
    """Our reading of an authentication refusal: the venue's code where its meaning is known, else the words
    of its message (punctuation stripped: "API-key, IP, or permissions")."""
    known = _AUTH_CODES.get(str(err.code))
    if known is not None:
        return known
    words = set(re.findall(r"[a-z]+", f"{err.code} {err.text}".lower()))
    if isinstance(err, TimestampError) or words & {"timestamp", "recvwindow", "recv"}:
        return ("timestamp",)
    if words & {"ip", "whitelist", "allowlist"}:
        return ("ip",)
    if "passphrase" in words:
        return ("passphrase",)
    if words & {"signature", "sign"}:
        return ("secret",)
    if words & {"permission", "permissions", "forbidden"}:
        return ("permission",)
    return ("key",)


def _auth_kind(err: VenueReject) -> str:
    causes = [_CAUSE_WORDS[c] for c in _auth_causes(err)]
    return "ours: " + (causes[0] if len(causes) == 1 else ", ".join(causes[:-1]) + " or " + causes[-1]
                       + f" ({err.venue or 'the venue'} does not say which)")


def _auth_advice(venue: Venue, err: VenueReject) -> str:
    advice = {
        "ip": f"add this machine's public IP to the key's allow-list on {venue.value}'s site",
        "timestamp": "fix this host's clock (chrony / systemd-timesyncd)",
        "permission": f"enable trading (and reading) for the key on {venue.value}'s site",
    }
    creds = (f"check the key / secret{' / passphrase' if venue is Venue.OKX else ''} environment variables named in "
             f"[venues.{venue.value}.credentials] (and that the key is for this environment: live or testnet)")
    out = [advice.get(c, creds) for c in _auth_causes(err)]
    return "; ".join(dict.fromkeys(out))


def _instruments(venue: Venue, section: VenueSection, actor: ExchangeActor, t0: float) -> list[Result]:
    out: list[Result] = []
    for iid in section.instruments:
        inst = actor.registry.get(venue, InstrumentId(iid))
        detail = f"{inst.venue_symbol}: tick {inst.tick_size}, lot {inst.lot_size}"
        if inst.min_notional:
            detail += f", min notional {inst.min_notional}"
        ok, state = actor.adapter.tradable(InstrumentId(iid))
        if not ok:
            out.append(_fail(venue, f"instrument {iid}", f"{detail}; state {state!r}: no new orders",
                             "wait for the venue to reopen it, or trade another instrument", t0))
        else:
            out.append(_ok(venue, f"instrument {iid}", detail + (f"; {state}" if state else ""), t0))
    return out


def _market(venue: Venue, section: VenueSection, actor: ExchangeActor, watch: _Watch, seconds: float,
            t0: float) -> list[Result]:
    out: list[Result] = []
    stats = actor.stats()
    rate = stats.frames / seconds if seconds > 0 else 0.0
    lat = sorted(watch.lat_ms)
    p50 = lat[len(lat) // 2] if lat else math.nan
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else math.nan
    for iid in map(InstrumentId, section.instruments):
        check = f"book {iid}"
        quotes = watch.quotes.get(iid, 0)
        detail = f"{quotes} quotes in {seconds:g} s; {rate:.1f} msg/s on the venue; latency p50 {p50:.0f} / p99 {p99:.0f} ms"
        if not actor.adapter.book_state_live(iid) and iid not in watch.live:
            out.append(_fail(venue, check, f"never LIVE in {seconds:g} s ({detail})",
                             "the book stream is silent or out of sequence: check the ws routes of "
                             f"[venues.{venue.value}] and the reach checks", t0))
        elif watch.resyncs.get(iid):
            why = watch.resyncs[iid]
            out.append(_warn(venue, check, f"LIVE, but {len(why)} resync(s): {why[0][:80]} ({detail})",
                             "gaps on this network: a closer host or a steadier link", t0))
        elif p99 > LATENCY_WARN_MS:
            out.append(_warn(venue, check, f"LIVE and in sequence; slow: {detail}",
                             "run closer to the venue, or check this machine's load and clock", t0))
        else:
            out.append(_ok(venue, check, f"LIVE and in sequence; {detail}", t0))
    if section.trades:
        got = sum(watch.trades.values())
        silent = [i for i in section.instruments if not watch.trades.get(InstrumentId(i))]
        if not got:
            out.append(_fail(venue, "trades", f"no trade in {seconds:g} s on any instrument",
                             "the trade stream is silent: a misrouted WebSocket path delivers nothing; check "
                             f"the ws routes of [venues.{venue.value}] (or trades = false)", t0))
        elif silent:
            out.append(_warn(venue, "trades", f"{got} trades; none for {', '.join(silent)} in {seconds:g} s",
                             "a quiet market, or a longer --seconds", t0))
        else:
            out.append(_ok(venue, "trades", f"{got} trades in {seconds:g} s", t0))
    if section.klines:
        got = sum(watch.klines.values())
        if got:
            out.append(_ok(venue, "klines", f"{got} klines ({', '.join(section.klines)}) in {seconds:g} s", t0))
        else:
            out.append(_fail(venue, "klines", f"no kline ({', '.join(section.klines)}) in {seconds:g} s",
                             "check the kline intervals and the venue's kline route", t0))
    return out


async def _private(venue: Venue, section: VenueSection, actor: ExchangeActor, ref: Any, watch: _Watch,
                   test_order: bool, t0: float) -> list[Result]:
    out: list[Result] = []
    try:
        balances: list[Balance] = await ref.ask(GetBalances(venue=venue), timeout=REACH_BUDGET_S * 2)
    except VenueReject as exc:
        out.append(_fail(venue, "auth", f"{type(exc).__name__}: {exc} ({_auth_kind(exc)})",
                         _auth_advice(venue, exc), t0))
        return out
    except Exception as exc:  # noqa: BLE001 - the reason is the result
        out.append(_fail(venue, "auth", f"balances not read: {type(exc).__name__}: {exc}", "retry; see reach", t0))
        return out
    out.append(_ok(venue, "auth", "signed requests accepted", t0))
    free = {b.asset: b.available for b in balances}
    if any(v > 0 for v in free.values()):
        out.append(_ok(venue, "balances", ", ".join(f"{a} {v} free" for a, v in sorted(free.items()) if v), t0))
    else:
        out.append(_warn(venue, "balances", "no free margin in any settle currency",
                         f"fund the account on {venue.value} before trading", t0))
    out.append(_ok(venue, "position mode", actor.position_mode.value, t0))
    for check, cmd in (("open orders", GetOpenOrders(venue=venue)), ("positions", GetPositions(venue=venue))):
        try:
            found: list[Any] = await ref.ask(cmd, timeout=REACH_BUDGET_S * 2)
        except Exception as exc:  # noqa: BLE001
            out.append(_fail(venue, check, f"not read: {type(exc).__name__}: {exc}", "retry; see auth", t0))
            continue
        if found:
            out.append(_warn(venue, check, f"{len(found)} found: the daemon will adopt and reconcile them",
                             "cancel / close them on the venue first if they are not meant for crossbook", t0))
        else:
            out.append(_ok(venue, check, "none", t0))
    private = [s for s in actor.streams.values() if s.spec.private]
    if private and all(s.connected for s in private):
        out.append(_ok(venue, "private stream", f"{', '.join(s.spec.name for s in private)} connected and "
                       "authenticated", t0))
    elif private:
        down = [s.spec.name for s in private if not s.connected]
        out.append(_fail(venue, "private stream", f"{', '.join(down)} not connected",
                         "check the private ws route and the key's permissions", t0))
    out += await _facts(venue, section, actor, t0)
    if test_order:
        out.append(await _test_order(venue, section, actor, ref, watch, t0))
    switch = actor.session.switch
    if section.dead_mans_switch_s and switch is not None:
        with anyio.move_on_after(REACH_BUDGET_S):
            await watch.switch_settled()
        if not switch.armed:
            out.append(_fail(venue, "dead-man's switch", f"{switch.state.value}: {switch.detail}",
                             f"the venue must allow it (see its settings) or set [venues.{venue.value}] "
                             "dead_mans_switch_s = 0", t0))
        else:
            switch.stand_down()  # no refresh may land after the disarm
            with anyio.move_on_after(REACH_BUDGET_S):
                await actor.rest.idle()  # a refresh already sent: let it land first
            out.append(await _disarm(venue, section, actor, switch.detail, t0))
    return out


TEST_ORDER_DISCOUNT = Decimal("0.8")  # the test buy rests at 80 % of the best bid: far from any fill


def probe_order_terms(inst: Instrument, bid: Decimal) -> tuple[Decimal, Decimal]:
    """(price, quantity) of the doctor's test order: a buy at ``TEST_ORDER_DISCOUNT`` of the bid, rounded
    passively to the tick, of the smallest quantity the venue accepts there (its lot and minimums)."""
    price = round_price(inst, bid * TEST_ORDER_DISCOUNT, Side.BUY)
    qty = max(inst.lot_size, inst.min_qty)
    if price > 0 and inst.contract_type is ContractType.LINEAR and inst.min_notional > 0:
        lots = (inst.min_notional / (price * inst.contract_size * inst.lot_size)).to_integral_value(ROUND_CEILING)
        qty = max(qty, lots * inst.lot_size)
    return price, round_qty(inst, qty)


async def _test_order(venue: Venue, section: VenueSection, actor: ExchangeActor, ref: Any, watch: _Watch,
                      t0: float) -> Result:
    """One post-only buy far below the market, cancelled at once: the whole order path, nothing traded."""
    iid = InstrumentId(section.instruments[0])
    bid = watch.bid.get(iid)
    if bid is None:
        return _fail(venue, "test order", f"not placed: no quote of {iid} seen", "see the book check", t0)
    inst = actor.registry.get(venue, iid)
    price, qty = probe_order_terms(inst, Decimal(str(bid)))
    if price <= 0:
        return _fail(venue, "test order", f"not placed: the bid {bid:g} is below a tick of {iid} at 80 %",
                     "see the book check", t0)
    cid = actor.adapter.make_client_order_id(f"doctor{time.time_ns() % 10**12}")
    order = PlaceOrder(venue=venue, instrument=iid, client_order_id=ClientOrderId(cid), side=Side.BUY, quantity=qty,
                       price=price, post_only=True)
    what = f"post-only buy {qty} {iid} at {price} (bid {bid:g})"
    try:
        placed: OrderUpdate = await ref.ask(order, timeout=REACH_BUDGET_S * 2)
    except Exception as exc:  # noqa: BLE001 - the reason is the result
        return _fail(venue, "test order", f"{what} refused: {type(exc).__name__}: {exc}",
                     "read the venue's words: permissions, margin, minimum size, instrument state", t0)
    try:
        cancelled: OrderUpdate | None = await ref.ask(CancelOrder(venue=venue, instrument=iid,
                                                                  client_order_id=ClientOrderId(cid)),
                                                      timeout=REACH_BUDGET_S * 2)
    except Exception as exc:  # noqa: BLE001
        return _fail(venue, "test order", f"{what} {placed.status.value}, but the cancel failed: "
                     f"{type(exc).__name__}: {exc}", f"cancel {cid} on {venue.value} by hand", t0)
    after = cancelled.status.value if cancelled is not None else "cancel accepted"
    if placed.filled_qty:
        return _warn(venue, "test order", f"{what} FILLED {placed.filled_qty} before the cancel",
                     "the book moved through 80 % of the bid: close the position by hand", t0)
    return _ok(venue, "test order", f"{what}: {placed.status.value}, then {after}", t0)


async def _facts(venue: Venue, section: VenueSection, actor: ExchangeActor, t0: float) -> list[Result]:
    """The key's permissions and each instrument's margin mode and leverage, as the venue states them."""
    out: list[Result] = []
    adapter = actor.adapter
    try:
        spec = adapter.key_permissions(actor)
        if spec is None:
            out.append(_warn(venue, "key permissions", "the venue offers no read of them from this host",
                             f"check the key's permissions on {venue.value}'s site: trading on, withdrawals off", t0))
        else:
            key = adapter.parse_key_permissions(await actor.rest.request(spec))
            ip = {None: "", True: "; IP-restricted", False: "; not IP-restricted"}[key.ip_restricted]
            if not key.can_trade:
                out.append(_fail(venue, "key permissions", f"no trading permission ({key.detail})",
                                 f"enable trading for this key on {venue.value}'s site", t0))
            elif key.can_withdraw:
                out.append(_warn(venue, "key permissions", f"trading on, withdrawals ENABLED{ip} ({key.detail})",
                                 "a trading key should not withdraw: turn withdrawals off for it", t0))
            else:
                out.append(_ok(venue, "key permissions", f"trading on, withdrawals off{ip} ({key.detail})", t0))
    except (CrossbookError, msgspec.MsgspecError) as exc:
        out.append(_fail(venue, "key permissions", f"not read: {type(exc).__name__}: {exc}", "see auth", t0))
    for iid in map(InstrumentId, section.instruments):
        check = f"settings {iid}"
        try:
            specs = adapter.instrument_settings(iid, actor)
            if not specs:
                continue
            facts = adapter.parse_instrument_settings(iid, [await actor.rest.request(s) for s in specs])
        except (CrossbookError, msgspec.MsgspecError) as exc:
            out.append(_fail(venue, check, f"not read: {type(exc).__name__}: {exc}", "see auth", t0))
            continue
        lev = f", leverage {facts.leverage}" if facts.leverage else ""
        out.append(_ok(venue, check, f"margin {facts.margin_mode}{lev}" + (f" ({facts.detail})" if facts.detail else ""),
                       t0))
    return out


async def _disarm(venue: Venue, section: VenueSection, actor: ExchangeActor, detail: str, t0: float) -> Result:
    """An armed switch is turned off again, so the doctor's exit cancels nothing (where the venue allows)."""
    armed = f"armed ({section.dead_mans_switch_s:g} s): {detail}"
    try:
        specs = actor.adapter.disarm_switch(actor)
        if specs is None:
            return _warn(venue, "dead-man's switch", f"{armed}; the venue offers no way to turn it off by API",
                         "it fires when the doctor's connection closes: run the doctor with no resting orders", t0)
        for spec in specs:
            await actor.rest.request(spec, urgent=True)
    except (CrossbookError, msgspec.MsgspecError) as exc:
        return _fail(venue, "dead-man's switch", f"{armed}; turning it off failed: {type(exc).__name__}: {exc}",
                     "check the venue's switch setting by hand: it may still be armed", t0)
    return _ok(venue, "dead-man's switch", f"{armed}; then disarmed ({len(specs)} request(s))", t0)


# -- the command --------------------------------------------------------------------------------------
def render(results: Sequence[Result]) -> str:
    lines: list[str] = []
    for venue in dict.fromkeys(r.venue for r in results):
        rows = [r for r in results if r.venue == venue]
        worst = _worst(rows)
        lines.append(f"{venue}  {worst.value}")
        for r in rows:
            lines.append(f"  {r.verdict.value:<5} {r.check:<28} {r.detail}")
            if r.advice:
                lines.append(f"  {'':<5} {'':<28} -> {r.advice}")
        lines.append("")
    return "\n".join(lines)


def _worst(results: Sequence[Result]) -> Verdict:
    verdicts = {r.verdict for r in results}
    return Verdict.FAIL if Verdict.FAIL in verdicts else Verdict.WARN if Verdict.WARN in verdicts else Verdict.PASS


def exit_code(results: Sequence[Result]) -> int:
    return {Verdict.PASS: 0, Verdict.WARN: 1, Verdict.FAIL: 2}[_worst(results)]


async def _doctor(args: argparse.Namespace, cfg: Config) -> list[Result]:
    venues = cfg.enabled_venues()
    if args.venues:
        wanted = {v.strip() for v in args.venues.split(",") if v.strip()}
        venues = {v: s for v, s in venues.items() if v.value in wanted}
    endpoints: dict[Venue, Endpoints] = {}
    creds: dict[Venue, Credentials | None] = {v: credentials_for(v.value, s) for v, s in venues.items()}
    results: dict[Venue, list[Result]] = {}
    async with AsyncExitStack() as stack:
        if args.simulate:
            from daemon import doctor_faults
            from simulator.runner import start_twins

            faults = bool(args.simulate_faults)
            symbols = sorted({i.split("-", 1)[0] for s in venues.values() for i in s.instruments}) or ["BTC"]
            options = doctor_faults.TWIN_OPTIONS if faults else {}
            twins = await stack.enter_async_context(start_twins(
                [v.value for v in venues], seed=args.seed, symbols=symbols, rate=args.rate,
                options={v.value: dict(options[v.value]) for v in venues if v.value in options}))
            for name, rt in twins.running.items():
                ep = Endpoints(rest=rt.rest, ws=dict(rt.ws))
                c = rt.twin.credentials
                key = Credentials(c.api_key, c.secret, c.passphrase or "")
                if faults:
                    doctor_faults.inject(name, rt.twin)
                    ep, key = doctor_faults.endpoints(name, ep), doctor_faults.credentials(name, key)
                endpoints[Venue(name)], creds[Venue(name)] = ep, key

        async def one(venue: Venue, section: VenueSection) -> None:
            results[venue] = await doctor_venue(venue, section, endpoints.get(venue), creds.get(venue),
                                                seconds=args.seconds, arm_switch=bool(args.simulate or args.arm_switches),
                                                test_order=bool(args.place_test_order),
                                                real_account=not args.simulate)

        async with anyio.create_task_group() as tg:
            for venue, section in venues.items():
                tg.start_soon(one, venue, section)
    return [r for v in venues for r in results[v]]


def run_doctor(args: argparse.Namespace) -> int:
    if args.simulate_faults and not args.simulate:
        print("crossbook doctor: --simulate-faults needs --simulate (faults are played by the twins)", file=sys.stderr)
        return 2
    try:
        cfg = load_config(args.config) if args.config else default_config()
        for venue, section in cfg.enabled_venues().items():
            adapter_for(venue, InstrumentRegistry(), None, section)
            if not args.simulate:
                credentials_for(venue.value, section)
    except ConfigError as exc:
        print(f"crossbook doctor: config error: {exc}", file=sys.stderr)
        return 2
    results = anyio.run(_doctor, args, cfg)
    print(render(results), flush=True)
    if args.json:
        doc = {"config": args.config or "<built-in default>", "simulate": bool(args.simulate),
               "simulate_faults": bool(args.simulate_faults), "place_test_order": bool(args.place_test_order),
               "seconds": args.seconds, "exit_code": exit_code(results),
               "results": msgspec.to_builtins(list(results))}
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
    return exit_code(results)
