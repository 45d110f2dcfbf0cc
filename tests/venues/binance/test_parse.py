"""Every Binance fixture file parsed and checked field by field against the file; plus own payloads."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from messages import (
    Balance,
    ClientOrderId,
    ContractType,
    Fill,
    InstrumentId,
    InstrumentKind,
    Kline,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Position,
    Quote,
    Side,
    Trade,
    Venue,
    VenueOrderId,
)
from venues.binance import BinanceCodec, parse, rest, wire
from venues.binance.codec import BalancesChanged
from venues.http import Response
from venues.symbols import InstrumentRegistry

MS = 1_000_000
TS = 42


def ok(body: bytes) -> Response:
    return Response(status=200, headers={}, body=body)


# -- WebSocket fixtures ------------------------------------------------------------------------------------
def test_real_book_ticker_becomes_a_quote_with_the_frames_values(
    registry: InstrumentRegistry, wire_bytes: Callable[[str], bytes], wire_json: Callable[[str], Any]
) -> None:
    d = wire_json("ws_bookticker_real.json")["data"]
    (quote,) = BinanceCodec(registry).feed(wire_bytes("ws_bookticker_real.json"), TS)
    assert quote == Quote(
        venue=Venue.BINANCE,
        instrument=InstrumentId("SUSHI-USDT-PERP"),
        bid_px=float(d["b"]),
        bid_sz=float(d["B"]),
        ask_px=float(d["a"]),
        ask_sz=float(d["A"]),
        ts_event=d["T"] * MS,
        ts_recv=TS,
    )
    assert (quote.bid_px, quote.ask_px) == (7.611, 7.612)


def test_real_agg_trade_becomes_a_buy_trade_because_the_buyer_was_taker(
    registry: InstrumentRegistry, wire_bytes: Callable[[str], bytes], wire_json: Callable[[str], Any]
) -> None:
    d = wire_json("ws_aggtrade_real.json")["data"]
    (trade,) = BinanceCodec(registry).feed(wire_bytes("ws_aggtrade_real.json"), TS)
    assert d["m"] is False
    assert trade == Trade(
        venue=Venue.BINANCE,
        instrument=InstrumentId("CTK-USDT-PERP"),
        price=float(d["p"]),
        size=float(d["q"]),
        side=Side.BUY,
        trade_id=str(d["a"]),
        ts_event=d["T"] * MS,
        ts_recv=TS,
    )


def test_real_open_kline_is_not_closed(
    registry: InstrumentRegistry, wire_bytes: Callable[[str], bytes], wire_json: Callable[[str], Any]
) -> None:
    d = wire_json("ws_kline_real.json")["data"]
    k = d["k"]
    (kline,) = BinanceCodec(registry).feed(wire_bytes("ws_kline_real.json"), TS)
    assert kline == Kline(
        venue=Venue.BINANCE,
        instrument=InstrumentId("CTK-USDT-PERP"),
        interval=k["i"],
        open_time=k["t"] * MS,
        close_time=k["T"] * MS,
        open=float(k["o"]),
        high=float(k["h"]),
        low=float(k["l"]),
        close=float(k["c"]),
        volume=float(k["v"]),
        closed=k["x"],
        ts_event=d["E"] * MS,
        ts_recv=TS,
    )
    assert kline.closed is False


def test_doc_depth_update_decodes_with_every_sequence_field(
    wire_bytes: Callable[[str], bytes], wire_json: Callable[[str], Any]
) -> None:
    d = wire_json("ws_depth_update.json")
    ev = wire.EVENT_DECODER.decode(wire_bytes("ws_depth_update.json"))
    assert isinstance(ev, wire.DepthUpdate)
    assert (ev.E, ev.T, ev.s, ev.U, ev.u, ev.pu) == (d["E"], d["T"], d["s"], d["U"], d["u"], d["pu"])
    assert ev.b == ((float(d["b"][0][0]), float(d["b"][0][1])),)
    assert ev.a == ((float(d["a"][0][0]), float(d["a"][0][1])),)


def test_doc_order_trade_update_becomes_an_order_update_without_fill(
    registry: InstrumentRegistry, wire_bytes: Callable[[str], bytes], wire_json: Callable[[str], Any]
) -> None:
    o = wire_json("ws_user_order_trade_update.json")["o"]
    out = BinanceCodec(registry).feed(wire_bytes("ws_user_order_trade_update.json"), TS)
    (update,) = out  # x=NEW: no Fill
    assert update == OrderUpdate(
        venue=Venue.BINANCE,
        instrument=InstrumentId("BTC-USDT-PERP"),
        client_order_id=o["c"],
        venue_order_id=VenueOrderId(str(o["i"])),
        status=OrderStatus.SUBMITTED,
        raw_status=o["X"],
        side=Side.SELL,
        order_type=OrderType.MARKET,  # TRAILING_STOP_MARKET executes at market
        quantity=Decimal(o["q"]),
        filled_qty=Decimal(o["z"]),
        avg_price=None,
        price=None,
        ts_event=o["T"] * MS,
        ts_recv=TS,
        reduce_only=o["R"],
    )


def test_trade_execution_yields_order_update_and_fill(registry: InstrumentRegistry) -> None:
    frame = (
        b'{"e":"ORDER_TRADE_UPDATE","E":1700000000001,"T":1700000000000,"o":{"s":"BTCUSDT","c":"cb-1","S":"BUY",'
        b'"o":"LIMIT","f":"GTC","q":"0.010","p":"30000.10","ap":"30000.10","x":"TRADE","X":"PARTIALLY_FILLED",'
        b'"i":991,"l":"0.004","z":"0.004","L":"30000.10","N":"USDT","n":"0.024","T":1700000000000,"t":77,'
        b'"m":true,"R":true}}'
    )
    update, fill = BinanceCodec(registry).feed(frame, TS)
    assert isinstance(update, OrderUpdate) and isinstance(fill, Fill)
    assert update.status is OrderStatus.PARTIALLY_FILLED and update.raw_status == "PARTIALLY_FILLED"
    assert (update.filled_qty, update.avg_price, update.price) == (
        Decimal("0.004"),
        Decimal("30000.10"),
        Decimal("30000.10"),
    )
    assert (update.last_fill_qty, update.last_fill_px, update.reduce_only) == (
        Decimal("0.004"),
        Decimal("30000.10"),
        True,
    )
    assert fill == Fill(
        venue=Venue.BINANCE,
        instrument=InstrumentId("BTC-USDT-PERP"),
        client_order_id=ClientOrderId("cb-1"),
        venue_order_id=VenueOrderId("991"),
        trade_id="77",
        side=Side.BUY,
        price=Decimal("30000.10"),
        quantity=Decimal("0.004"),
        fee=Decimal("0.024"),
        fee_asset="USDT",
        liquidity="maker",
        ts_event=1700000000000 * MS,
        ts_recv=TS,
    )


def test_doc_account_update_becomes_positions_and_a_balance_read_never_cw_as_available(
    registry: InstrumentRegistry, wire_bytes: Callable[[str], bytes], wire_json: Callable[[str], Any]
) -> None:
    d = wire_json("ws_user_account_update.json")
    out = BinanceCodec(registry).feed(wire_bytes("ws_user_account_update.json"), TS)
    # "cw" is the cross wallet balance, not free margin: no Balance comes from this event, only the notice
    # that makes the session read availableBalance over REST.
    assert not [m for m in out if isinstance(m, Balance)]
    assert [m for m in out if isinstance(m, BalancesChanged)] == [
        BalancesChanged(assets=tuple(b["a"] for b in d["a"]["B"]))
    ]
    positions = [m for m in out if isinstance(m, Position)]
    assert all(p.ts_event == d["E"] * MS for p in positions)
    assert [(p.instrument, p.side, p.size, p.entry_price, p.unrealized_pnl) for p in positions] == [
        (InstrumentId("BTC-USDT-PERP"), Side.BUY, Decimal("0"), Decimal("0.00000"), Decimal("0")),
        (
            InstrumentId("BTC-USDT-PERP"),
            Side.BUY,
            Decimal("20"),
            Decimal("6563.66500"),
            Decimal("2850.21200"),
        ),
        (
            InstrumentId("BTC-USDT-PERP"),
            Side.SELL,
            Decimal("10"),
            Decimal("6563.86000"),
            Decimal("-1423.15600"),
        ),
    ]


# ALGO_UPDATE as the USD-M docs print it (user-data-streams/Event-Algo-Order-Update, read 2026-12), and the
# same order once triggered and filled in the matching engine.
ALGO_UPDATE_DOC = (
    b'{"e":"ALGO_UPDATE","T":1750515742297,"E":1750515742303,"o":{"caid":"Q5xaq5EGKgXXa0fD7fs0Ip",'
    b'"aid":2148719,"at":"CONDITIONAL","o":"TAKE_PROFIT","s":"BNBUSDT","S":"SELL","ps":"BOTH","f":"GTC",'
    b'"q":"0.01","X":"CANCELED","ai":"","ap":"0.00000","aq":"0.00000","act":"0","tp":"750","p":"750",'
    b'"V":"EXPIRE_MAKER","wt":"CONTRACT_PRICE","pm":"NONE","cp":false,"pP":false,"R":false,"tt":0,"gtd":0,'
    b'"rm":"Reduce Only reject"}}'
)
ALGO_UPDATE_FILLED = (
    b'{"e":"ALGO_UPDATE","T":1750515800000,"E":1750515800004,"o":{"caid":"cb-stop-1","aid":2148720,'
    b'"at":"CONDITIONAL","o":"STOP_MARKET","s":"BTCUSDT","S":"SELL","ps":"LONG","f":"GTC","q":"0.020",'
    b'"X":"FINISHED","ai":"8886999","ap":"29950.10","aq":"0.020","act":"MARKET","tp":"29960","p":"0",'
    b'"V":"NONE","wt":"MARK_PRICE","pm":"NONE","cp":false,"pP":true,"R":true,"tt":1750515799990,"gtd":0}}'
)


def test_doc_algo_update_becomes_an_order_update_keyed_by_its_client_algo_id(registry: InstrumentRegistry) -> None:
    (update,) = BinanceCodec(registry).feed(ALGO_UPDATE_DOC, TS)
    assert update == OrderUpdate(
        venue=Venue.BINANCE,
        instrument=InstrumentId("BNB-USDT-PERP"),  # not in the registry: derived from the symbol
        client_order_id=ClientOrderId("Q5xaq5EGKgXXa0fD7fs0Ip"),
        venue_order_id=VenueOrderId("2148719"),
        status=OrderStatus.CANCELLED,
        raw_status="CANCELED",
        side=Side.SELL,
        order_type=OrderType.LIMIT,  # TAKE_PROFIT rests at its limit price once triggered
        quantity=Decimal("0.01"),
        filled_qty=Decimal("0.00000"),
        avg_price=None,
        price=Decimal("750"),
        ts_event=1750515742303 * MS,
        ts_recv=TS,
    )


def test_a_finished_algo_order_reports_the_matching_engine_fill(registry: InstrumentRegistry) -> None:
    codec = BinanceCodec(registry)
    (update,) = codec.feed(b'{"stream":"key","data":' + ALGO_UPDATE_FILLED + b"}", TS)
    assert isinstance(update, OrderUpdate)
    assert (update.client_order_id, update.status, update.order_type, update.reduce_only) == (
        "cb-stop-1",
        OrderStatus.FILLED,
        OrderType.MARKET,
        True,
    )
    assert (update.filled_qty, update.avg_price, update.price) == (Decimal("0.020"), Decimal("29950.10"), None)
    assert codec.ignored == {}


def test_an_algo_update_without_a_client_id_is_not_ours_and_is_counted_as_ignored(
    registry: InstrumentRegistry,
) -> None:
    codec = BinanceCodec(registry)
    frame = ALGO_UPDATE_DOC.replace(b'"caid":"Q5xaq5EGKgXXa0fD7fs0Ip"', b'"caid":""')
    assert codec.feed(frame, TS) == []
    assert codec.ignored == {"ALGO_UPDATE": 1}


# -- REST fixtures ------------------------------------------------------------------------------------------
def test_real_depth_snapshot_keeps_first_and_last_levels(
    wire_bytes: Callable[[str], bytes], wire_json: Callable[[str], Any]
) -> None:
    d = wire_json("rest_depth_snapshot_real_SUSHIUSDT.json")
    snap = rest.parse_depth(ok(wire_bytes("rest_depth_snapshot_real_SUSHIUSDT.json")), InstrumentId("S"), TS)
    assert snap.sequence == d["lastUpdateId"] == 600859605926
    assert snap.ts_event == d["T"] * MS
    assert (len(snap.bids), len(snap.asks)) == (len(d["bids"]), len(d["asks"]))
    for side, raw in ((snap.bids, d["bids"]), (snap.asks, d["asks"])):
        assert side[0] == (float(raw[0][0]), float(raw[0][1]))
        assert side[-1] == (float(raw[-1][0]), float(raw[-1][1]))
    assert snap.bids[0] == (7.611, 6.0) and snap.asks[-1] == (9.122, 2.0)


def test_doc_depth_response_parses(
    wire_bytes: Callable[[str], bytes], wire_json: Callable[[str], Any]
) -> None:
    d = wire_json("rest_depth_response.json")
    snap = rest.parse_depth(wire_bytes("rest_depth_response.json"), InstrumentId("BTC-USDT-PERP"), TS)
    assert snap.sequence == d["lastUpdateId"]
    assert snap.bids == ((float(d["bids"][0][0]), float(d["bids"][0][1])),)
    assert snap.asks == ((float(d["asks"][0][0]), float(d["asks"][0][1])),)


def test_doc_klines_rows_become_klines(
    wire_bytes: Callable[[str], bytes], wire_json: Callable[[str], Any]
) -> None:
    (row,) = wire_json("rest_klines_response.json")
    (k,) = rest.parse_klines(ok(wire_bytes("rest_klines_response.json")), InstrumentId("X"), "1m", TS)
    assert (k.open_time, k.close_time) == (row[0] * MS, row[6] * MS)
    assert (k.open, k.high, k.low, k.close, k.volume) == tuple(float(v) for v in row[1:6])
    assert k.interval == "1m" and k.closed is False  # its close time is not before ts_recv=42 ns


def test_doc_recent_trades_become_trades(
    wire_bytes: Callable[[str], bytes], wire_json: Callable[[str], Any]
) -> None:
    (t,) = wire_json("rest_recent_trades_response.json")
    (trade,) = rest.parse_trades(ok(wire_bytes("rest_recent_trades_response.json")), InstrumentId("X"), TS)
    assert (trade.trade_id, trade.price, trade.size, trade.ts_event) == (
        str(t["id"]),
        float(t["price"]),
        float(t["qty"]),
        t["time"] * MS,
    )
    assert trade.side is Side.SELL  # isBuyerMaker: the aggressor sold


def test_doc_balance_v3_becomes_balance(
    wire_bytes: Callable[[str], bytes], wire_json: Callable[[str], Any]
) -> None:
    (b,) = wire_json("rest_balance_v3_response.json")
    (bal,) = rest.parse_balances(ok(wire_bytes("rest_balance_v3_response.json")), TS)
    assert bal == Balance(
        venue=Venue.BINANCE,
        asset=b["asset"],
        total=Decimal(b["balance"]),  # the wallet balance, 122607.35...
        available=Decimal(b["availableBalance"]),  # free margin, 23.72...
        ts_event=b["updateTime"] * MS,
        ts_recv=TS,
        unrealized_pnl=Decimal(b["crossUnPnl"]),
    )
    assert bal.total != Decimal(b["crossWalletBalance"])  # the doc's wallet is not the cross wallet


def test_balance_v3_fields_keep_one_meaning_each() -> None:
    body = (
        b'[{"accountAlias":"SgsR","asset":"USDT","balance":"1000.5","crossWalletBalance":"900.5",'
        b'"crossUnPnl":"-12.25","availableBalance":"640.125","maxWithdrawAmount":"640.125",'
        b'"marginAvailable":true,"updateTime":1700000000000}]'
    )
    (bal,) = rest.parse_balances(ok(body), TS)
    assert (bal.total, bal.available, bal.unrealized_pnl) == (Decimal("1000.5"), Decimal("640.125"), Decimal("-12.25"))


def test_doc_hedge_mode_positions_keep_their_sides(
    registry: InstrumentRegistry, wire_bytes: Callable[[str], bytes], wire_json: Callable[[str], Any]
) -> None:
    long_, short = wire_json("rest_position_risk_v3_hedge_response.json")
    codec = BinanceCodec(registry)
    p1, p2 = rest.parse_positions(
        ok(wire_bytes("rest_position_risk_v3_hedge_response.json")), TS, codec.instrument_id
    )
    assert (p1.instrument, p1.side, p1.size, p1.entry_price, p1.unrealized_pnl, p1.liquidation_price) == (
        InstrumentId("ADA-USDT-PERP"),
        Side.BUY,
        Decimal(long_["positionAmt"]),
        Decimal(long_["entryPrice"]),
        Decimal(long_["unRealizedProfit"]),
        None,  # "0" means no liquidation price
    )
    # COMPUSDT is not in the registry: its unified id is derived from the symbol
    assert (p2.instrument, p2.side, p2.size, p2.liquidation_price, p2.ts_event) == (
        InstrumentId("COMP-USDT-PERP"),
        Side.SELL,
        Decimal("1.000"),
        Decimal(short["liquidationPrice"]),
        short["updateTime"] * MS,
    )


def test_doc_new_order_response_becomes_order_update(
    wire_bytes: Callable[[str], bytes], wire_json: Callable[[str], Any]
) -> None:
    d = wire_json("rest_new_order_response.json")
    update = rest.parse_order(ok(wire_bytes("rest_new_order_response.json")), TS)
    assert (update.venue_order_id, update.client_order_id, update.status, update.raw_status) == (
        str(d["orderId"]),
        d["clientOrderId"],
        OrderStatus.SUBMITTED,
        "NEW",
    )
    assert (update.instrument, update.side, update.quantity, update.filled_qty, update.avg_price) == (
        InstrumentId("BTC-USDT-PERP"),
        Side.BUY,
        Decimal(d["origQty"]),
        Decimal(0),
        None,
    )
    assert update.ts_event == d["updateTime"] * MS and update.price is None


def test_doc_cancel_order_response_is_cancelled(
    wire_bytes: Callable[[str], bytes], wire_json: Callable[[str], Any]
) -> None:
    d = wire_json("rest_cancel_order_response.json")
    update = rest.parse_order(ok(wire_bytes("rest_cancel_order_response.json")), TS)
    assert (update.venue_order_id, update.client_order_id, update.status, update.raw_status) == (
        "283194212",
        d["clientOrderId"],
        OrderStatus.CANCELLED,
        "CANCELED",
    )
    assert (update.quantity, update.order_type, update.reduce_only) == (
        Decimal("11"),
        OrderType.MARKET,
        False,
    )


def test_real_exchange_info_becomes_btcusdt_instrument_with_its_filters(
    wire_bytes: Callable[[str], bytes], wire_json: Callable[[str], Any]
) -> None:
    (sym,) = wire_json("rest_exchange_info_real_trimmed.json")["symbols"]
    filters = {f["filterType"]: f for f in sym["filters"]}
    (inst,) = rest.parse_instruments(ok(wire_bytes("rest_exchange_info_real_trimmed.json")))
    assert (inst.id, inst.venue_symbol, inst.kind, inst.contract_type) == (
        InstrumentId("BTC-USDT-PERP"),
        sym["symbol"],
        InstrumentKind.PERPETUAL,
        ContractType.LINEAR,
    )
    assert (inst.base, inst.quote, inst.settle) == (sym["baseAsset"], sym["quoteAsset"], sym["marginAsset"])
    assert inst.tick_size == Decimal(filters["PRICE_FILTER"]["tickSize"]) == Decimal("0.01")
    assert inst.lot_size == Decimal(filters["LOT_SIZE"]["stepSize"]) == Decimal("0.001")
    assert inst.min_qty == Decimal(filters["LOT_SIZE"]["minQty"])
    assert inst.min_notional == Decimal(filters["MIN_NOTIONAL"]["notional"]) == Decimal(5)
    assert inst.contract_size == Decimal(1)


def test_quarterly_contract_gets_a_dated_unified_id() -> None:
    body = json.dumps(
        {
            "serverTime": 1,
            "symbols": [
                {
                    "symbol": "BTCUSDT_240628",
                    "contractType": "CURRENT_QUARTER",
                    "status": "TRADING",
                    "baseAsset": "BTC",
                    "quoteAsset": "USDT",
                    "marginAsset": "USDT",
                    "deliveryDate": 1719561600000,
                    "filters": [
                        {"filterType": "PRICE_FILTER", "tickSize": "0.10"},
                        {"filterType": "LOT_SIZE", "stepSize": "0.001", "minQty": "0.001"},
                    ],
                },
                {
                    "symbol": "OLDUSDT",
                    "contractType": "PERPETUAL",
                    "status": "SETTLING",
                    "baseAsset": "OLD",
                    "quoteAsset": "USDT",
                    "marginAsset": "USDT",
                    "filters": [],
                },
            ],
        }
    ).encode()
    (inst,) = rest.parse_instruments(ok(body))
    assert (inst.id, inst.kind, inst.tick_size) == (
        InstrumentId("BTC-USDT-20240628"),
        InstrumentKind.FUTURE,
        Decimal("0.10"),
    )
    assert parse.instrument_id_for("BTCUSDT_240628") == inst.id
