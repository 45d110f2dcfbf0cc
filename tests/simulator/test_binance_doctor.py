"""The Binance twin for the doctor: its frames and answers read strictly (venues/binance/schema.py), the drift
faults UNKNOWN_FIELD / UNKNOWN_EVENT, GET /fapi/v1/accountConfig and /fapi/v1/symbolConfig, and
``BinanceConfig(ip_allowed=False)``.

Requests are built by the client's own builders (venues/binance/rest.py) and sent with aiohttp; frames come
from WebSocket connections opened on the client's paths (venues/binance/frames.py), raw and combined.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import aiohttp
import anyio
import pytest
from twin_helpers import SignedClient

from messages import ClientOrderId, OrderType, PlaceOrder, PositionMode, Side, Venue
from simulator.binance import BinanceConfig, BinanceTwin
from simulator.faults import FaultKind
from simulator.runner import RunningTwin, start_twins
from venues import Credentials
from venues.binance import frames, rest, schema
from venues.drift import DriftCollector, Finding
from venues.errors import VenueReject
from venues.http import RequestSpec, Response

BTC = "BTCUSDT"
MARKET_DATA = {"stream:depthUpdate", "stream:bookTicker", "stream:trade", "aggTrade", "kline", "markPriceUpdate"}
PUBLIC_STREAMS = [frames.depth_stream(BTC, 100), f"{BTC.lower()}@bookTicker", f"{BTC.lower()}@trade"]
MARKET_STREAMS = [f"{BTC.lower()}@aggTrade", f"{BTC.lower()}@kline_1m", f"{BTC.lower()}@markPrice"]


def _twin(rt: RunningTwin) -> BinanceTwin:
    assert isinstance(rt.twin, BinanceTwin)
    return rt.twin


def _creds(rt: RunningTwin) -> Credentials:
    c = rt.twin.credentials
    return Credentials(c.api_key, c.secret)


class _Probe:
    """Every frame and answer of one session, read by a DriftCollector; the kinds seen, by frame_kind."""

    def __init__(self, http: aiohttp.ClientSession, rt: RunningTwin) -> None:
        self.http, self.rt = http, rt
        self.drift = DriftCollector(schema)
        self.kinds: set[str | None] = set()
        self.sockets: list[aiohttp.ClientWebSocketResponse] = []

    async def send(self, spec: RequestSpec) -> Response:
        async with self.http.request(spec.method, self.rt.rest + spec.target, headers=spec.headers,
                                     data=spec.body or None) as r:
            body = await r.read()
            resp = Response(status=r.status, headers=dict(r.headers), body=body)
        self.drift.response(spec.path, body)
        return resp

    async def listen(self, stream: str, url: str, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        async with self.http.ws_connect(url) as ws:
            self.sockets.append(ws)
            task_status.started(ws)
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    self.kinds.add(schema.frame_kind(stream, json.loads(msg.data)))
                    self.drift.frame(stream, msg.data)

    async def wait_for(self, kinds: set[str], timeout: float = 15.0) -> None:
        await _until(lambda: kinds <= self.kinds, timeout)


async def _until(pred: Callable[[], bool], timeout: float = 10.0) -> None:
    with anyio.fail_after(timeout):
        while not pred():  # noqa: ASYNC110 - polls state that the listening tasks fill
            await anyio.sleep(0.05)


@asynccontextmanager
async def _session(rate: float = 20.0) -> AsyncIterator[tuple[RunningTwin, _Probe]]:
    """A twin with moving markets and every connection our client opens (public combined, market raw with
    live SUBSCRIBE, private raw and combined)."""
    async with start_twins(["binance"], symbols=["BTC"], rate=rate) as twins, aiohttp.ClientSession() as http:
        rt = twins["binance"]
        probe = _Probe(http, rt)
        key = rest.parse_listen_key(await probe.send(rest.create_listen_key(_creds(rt))))
        base = rt.ws["legacy"]
        async with anyio.create_task_group() as tg:
            await tg.start(probe.listen, "public", base + frames.stream_path(PUBLIC_STREAMS))
            market = await tg.start(probe.listen, "market", base + frames.stream_path([], combined=False))
            await market.send_str(json.dumps({"method": "SUBSCRIBE", "params": MARKET_STREAMS, "id": 1}))
            await market.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 2}))
            await tg.start(probe.listen, "private", base + frames.private_path(key))
            await tg.start(probe.listen, "private", f"{base}/private/stream?listenKey={key}")
            yield rt, probe
            tg.cancel_scope.cancel()


async def _trade_and_read(rt: RunningTwin, probe: _Probe) -> None:
    """Every REST read the client makes, an order placed, queried and cancelled, and one that fills."""
    creds, twin = _creds(rt), _twin(rt)

    def now() -> int:
        return twin.now_ms()

    info = await probe.send(rest.exchange_info())
    inst = next(i for i in rest.parse_instruments(info) if i.venue_symbol == BTC)
    for spec in (rest.server_time(), rest.depth(BTC, 1000), rest.klines(BTC, "1m", 10), rest.recent_trades(BTC, 10),
                 rest.balances(creds, now()), rest.positions(creds, now()), rest.position_mode(creds, now()),
                 rest.account_config(creds, now()), rest.symbol_config(BTC, creds, now()),
                 rest.countdown_cancel_all(BTC, 60_000, creds, now()), rest.countdown_cancel_all(BTC, 0, creds, now()),
                 rest.keepalive_listen_key(creds)):
        assert (await probe.send(spec)).status == 200, spec.path
    book = twin.book_json(BTC, 1)
    assert book is not None
    bid = Decimal(book["bids"][0][0])
    resting = PlaceOrder(venue=Venue.BINANCE, instrument=inst.id, client_order_id=ClientOrderId("doctor-rest"),
                         side=Side.BUY, quantity=Decimal("0.010"), price=(bid * Decimal("0.9")).quantize(Decimal(1)))
    taker = PlaceOrder(venue=Venue.BINANCE, instrument=inst.id, client_order_id=ClientOrderId("doctor-take"),
                       side=Side.BUY, quantity=Decimal("0.010"), order_type=OrderType.MARKET)
    for order in (resting, taker):
        assert (await probe.send(rest.place_order(order, inst, creds, now(), mode=PositionMode.ONE_WAY))).status == 200
    assert (await probe.send(rest.open_orders(creds, now(), BTC))).status == 200
    assert (await probe.send(rest.query_order(BTC, creds, now(), client_order_id=resting.client_order_id))).status == 200
    assert (await probe.send(rest.cancel_order(BTC, creds, now(), client_order_id=resting.client_order_id))).status == 200


@pytest.mark.anyio
async def test_a_clean_twin_with_markets_orders_and_every_user_event_raises_no_drift_finding() -> None:
    async with _session() as (rt, probe):
        await _trade_and_read(rt, probe)
        twin = _twin(rt)
        for name in ("ALGO_UPDATE", "STRATEGY_UPDATE", "GRID_UPDATE", "CONDITIONAL_ORDER_TRIGGER_REJECT",
                     "MARGIN_CALL", "ACCOUNT_CONFIG_UPDATE"):
            twin.emit_user_event(name)
        user = {"ORDER_TRADE_UPDATE", "TRADE_LITE", "ACCOUNT_UPDATE", "ALGO_UPDATE", "STRATEGY_UPDATE",
                "GRID_UPDATE", "CONDITIONAL_ORDER_TRIGGER_REJECT", "MARGIN_CALL", "ACCOUNT_CONFIG_UPDATE"}
        await probe.wait_for(MARKET_DATA | {"result"} | user | {f"stream:{e}" for e in user})
        twin.expire_listen_keys(all_keys=True)
        await probe.wait_for({"listenKeyExpired", "stream:listenKeyExpired"})
        assert None not in probe.kinds
        assert probe.drift.report() == []
        assert probe.drift.unreadable == 0
        assert probe.drift.responses == 19  # every answer above, each read strictly


def _leaf(f: Finding) -> str:
    return f.where.rpartition("/")[2].rpartition(".")[2]


@pytest.mark.anyio
async def test_unknown_field_and_unknown_event_are_reported_exactly_and_nothing_else() -> None:
    async with _session() as (rt, probe):
        twin = _twin(rt)
        await probe.wait_for(MARKET_DATA | {"result"})
        twin.faults.inject(FaultKind.UNKNOWN_FIELD, field="x_surprise", value=7)
        before = probe.drift.frames
        await _trade_and_read(rt, probe)
        await _until(lambda: probe.drift.frames >= before + 50)
        twin.faults.inject(FaultKind.UNKNOWN_EVENT, event="x_brand_new")
        await _until(lambda: len([f for f in probe.drift.report() if f.what == "unknown event type"]) >= 2)
        twin.faults.clear()
        findings = probe.drift.report()
    fields = [f for f in findings if f.what == "unknown field"]
    events = [f for f in findings if f.what == "unknown event type"]
    assert len(fields) + len(events) == len(findings)  # no unknown value, nothing else
    assert {(_leaf(f), f.example) for f in fields} == {("x_surprise", "7")}
    where = {f.where.rpartition("/")[0] if f.where.startswith("/") else f.where.partition("/")[0] for f in fields}
    # Market data in the event object (inside the combined wrapper on /public), every REST answer read.
    assert {"stream:depthUpdate", "stream:bookTicker", "aggTrade", "kline"} <= where
    assert {"/fapi/v1/depth", "/fapi/v3/balance", "/fapi/v1/order", "/fapi/v1/symbolConfig"} <= where
    assert all(f.where.endswith("/data.x_surprise") for f in fields if f.where.startswith("stream:"))
    assert not any(e in w for w in where for e in ("ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE", "TRADE_LITE"))
    # One frame per public connection (the public one is combined, the market one raw), none on user data.
    assert sorted((f.where, f.count) for f in events) == [("market", 1), ("public", 1)]
    assert all('"e":"x_brand_new"' in f.example for f in events)


@pytest.mark.anyio
async def test_the_client_codec_counts_the_unknown_event_and_drops_nothing() -> None:
    from venues.binance.codec import BinanceCodec
    from venues.symbols import InstrumentRegistry

    codec = BinanceCodec(InstrumentRegistry())
    frame = json.dumps({"stream": "btcusdt@x_brand_new", "data": {"e": "x_brand_new", "E": 1, "s": BTC}})
    assert codec.feed(frame.encode(), 0) == []
    assert codec.unknown_events == {"x_brand_new": 1}


@pytest.mark.anyio
async def test_account_config_and_symbol_config_answer_the_documented_shapes_and_follow_changes() -> None:
    async with start_twins(["binance"], symbols=["BTC", "ETH"], rate=0,
                           options={"binance": {"config": BinanceConfig(can_withdraw=False)}}) as twins, \
            aiohttp.ClientSession() as s:
        rt = twins["binance"]
        c = SignedClient(s, rt.rest, rt.twin.credentials.api_key, rt.twin.credentials.secret)
        status, body, headers = await c.request("GET", "/fapi/v1/accountConfig")
        assert status == 200 and headers["X-MBX-USED-WEIGHT-1M"] == "5"
        assert body == {"feeTier": 0, "canTrade": True, "canDeposit": True, "canWithdraw": False,
                        "dualSidePosition": False, "updateTime": 0, "multiAssetsMargin": False, "tradeGroupId": -1}
        status, body, _ = await c.request("GET", "/fapi/v1/symbolConfig")
        assert status == 200 and [r["symbol"] for r in body] == ["BTCUSDT", "ETHUSDT"]
        assert body[0] == {"symbol": "BTCUSDT", "marginType": "CROSSED", "isAutoAddMargin": False, "leverage": 20,
                           "maxNotionalValue": "10000000"}
        assert (await c.request("POST", "/fapi/v1/marginType", {"symbol": BTC, "marginType": "ISOLATED"},
                                in_body=True))[:2] == (200, {"code": 200, "msg": "success"})
        assert (await c.request("POST", "/fapi/v1/marginType", {"symbol": BTC, "marginType": "ISOLATED"},
                                in_body=True))[1] == {"code": -4046, "msg": "No need to change margin type."}
        assert (await c.request("POST", "/fapi/v1/leverage", {"symbol": BTC, "leverage": 7}, in_body=True))[0] == 200
        status, body, _ = await c.request("GET", "/fapi/v1/symbolConfig", {"symbol": BTC})
        assert [(r["symbol"], r["marginType"], r["leverage"]) for r in body] == [("BTCUSDT", "ISOLATED", 7)]
        status, body, _ = await c.request("GET", "/fapi/v1/symbolConfig", {"symbol": "NOPEUSDT"})
        assert (status, body) == (400, {"code": -1121, "msg": "Invalid symbol."})
        status, body, _ = await c.request("GET", "/fapi/v1/accountConfig", signed=False)
        assert body["code"] == -1102  # SIGNED: no timestamp, no signature


@pytest.mark.anyio
async def test_a_key_used_from_an_ip_not_on_its_list_is_refused_with_2015_on_every_signed_request() -> None:
    async with start_twins(["binance"], symbols=["BTC"], rate=0,
                           options={"binance": {"config": BinanceConfig(ip_allowed=False)}}) as twins, \
            aiohttp.ClientSession() as s:
        rt = twins["binance"]
        probe = _Probe(s, rt)
        creds = _creds(rt)
        now = _twin(rt).now_ms
        refused = {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}
        for spec in (rest.balances(creds, now()), rest.account_config(creds, now()),
                     rest.symbol_config(BTC, creds, now()), rest.countdown_cancel_all(BTC, 0, creds, now()),
                     rest.create_listen_key(creds), rest.open_orders(creds, now())):
            resp = await probe.send(spec)
            assert (resp.status, json.loads(resp.body)) == (401, refused), spec.path
            with pytest.raises(VenueReject) as err:
                rest.raise_for_error(resp)
            assert err.value.code == "-2015"
        assert (await probe.send(rest.depth(BTC, 100))).status == 200  # public data needs no key
        bad = Credentials("bad key", creds.secret)
        assert json.loads((await probe.send(rest.balances(bad, now()))).body)["code"] == -2014  # format first
        assert probe.drift.report() == []
