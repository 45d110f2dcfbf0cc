"""Deribit REST: request specs (exact query, signature, weight) and response parsers."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from messages.base import (
    ClientOrderId,
    ContractType,
    InstrumentId,
    InstrumentKind,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    Venue,
)
from messages.instruments import Instrument
from messages.orders import Fill, OrderUpdate, PlaceOrder
from venues import Credentials
from venues.deribit import parse, rest, signing, wire
from venues.errors import (
    AuthError,
    DecodeError,
    InsufficientFunds,
    InvalidOrder,
    RateLimited,
    UnknownOrder,
    VenueReject,
    VenueUnavailable,
)
from venues.http import Method, Response

CREDS = Credentials("AMANDA", "AMANDASECRECT")
D = Decimal
MS = 1_000_000


def _ok(body: bytes) -> Response:
    return Response(status=200, headers={}, body=body)


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


def _instrument(raw: bytes) -> Instrument:
    inst = parse.instrument(msgspec.json.decode(raw, type=wire.InstrumentWire))
    assert inst is not None
    return inst


# -- instruments ----------------------------------------------------------------------------------------
def test_real_btc_perpetual_is_inverse_with_usd_amounts(deribit_bytes: Callable[[str], bytes]) -> None:
    inst = _instrument(deribit_bytes("rest_real_instrument_BTC_PERPETUAL.json"))
    assert inst == Instrument(id=InstrumentId("BTC-USD-PERP"), venue=Venue.DERIBIT, venue_symbol="BTC-PERPETUAL",
                              kind=InstrumentKind.PERPETUAL, base="BTC", quote="USD", settle="BTC",
                              contract_type=ContractType.INVERSE, tick_size=D("0.5"), lot_size=D("10.0"),
                              contract_size=D(1), min_qty=D("10.0"))  # fmt: skip


def test_real_btc_usdc_perpetual_is_linear_in_base_coin(deribit_bytes: Callable[[str], bytes]) -> None:
    inst = _instrument(deribit_bytes("rest_real_instrument_BTC_USDC_PERPETUAL.json"))
    assert (inst.id, inst.contract_type, inst.settle, inst.quote) == (
        "BTC-USDC-PERP",
        ContractType.LINEAR,
        "USDC",
        "USDC",
    )
    assert (inst.lot_size, inst.min_qty, inst.contract_size, inst.tick_size) == (
        D("0.001"),
        D("0.001"),
        D(1),
        D("1.0"),
    )


def test_get_instruments_response_parses_every_future(
    deribit_bytes: Callable[[str], bytes], deribit_json: Callable[[str], Any]
) -> None:
    expected = deribit_json("rest_get_instruments_response.json")["result"]
    out = rest.parse_instruments(_ok(deribit_bytes("rest_get_instruments_response.json")))
    assert [i.venue_symbol for i in out] == [e["instrument_name"] for e in expected]
    assert [i.id for i in out] == ["BTC-USD-20230929", "BTC-USD-PERP"]
    assert [i.kind for i in out] == [InstrumentKind.FUTURE, InstrumentKind.PERPETUAL]
    assert all(i.contract_type is ContractType.INVERSE and i.lot_size == D(10) for i in out)


def test_get_instruments_lists_each_books_state_and_old_listings_read_by_is_active(
    deribit_bytes: Callable[[str], bytes], deribit_json: Callable[[str], Any]
) -> None:
    expected = deribit_json("rest_get_instruments_response.json")["result"]
    states = rest.parse_instrument_states(_ok(deribit_bytes("rest_get_instruments_response.json")))
    assert states == {e["instrument_name"]: e["state"] for e in expected} == {
        "BTC-29SEP23": "open", "BTC-PERPETUAL": "open"}
    body = (b'{"jsonrpc":"2.0","id":1,"result":[' + deribit_bytes("rest_real_instrument_BTC_PERPETUAL.json")
            + b',{"instrument_name":"BTC-27DEC26","kind":"future","base_currency":"BTC","quote_currency":"USD",'
            b'"tick_size":2.5,"contract_size":10,"min_trade_amount":10,"is_active":false,"state":"settlement"},'
            b'{"instrument_name":"BTC-26JUN26","kind":"future","base_currency":"BTC","quote_currency":"USD",'
            b'"tick_size":2.5,"contract_size":10,"min_trade_amount":10,"is_active":false}]}')
    assert rest.parse_instrument_states(_ok(body)) == {
        "BTC-PERPETUAL": "open",  # the 2021 capture has no state: active reads open
        "BTC-27DEC26": "settlement", "BTC-26JUN26": "inactive"}  # fmt: skip


def test_get_instrument_option_is_linear_in_coin(deribit_bytes: Callable[[str], bytes]) -> None:
    inst = rest.parse_instrument(_ok(deribit_bytes("rest_get_instrument_response.json")))
    assert inst is not None
    assert (inst.id, inst.kind, inst.contract_type, inst.tick_size, inst.min_qty) == (
        "BTC-USD-20230113-16000-P",
        InstrumentKind.OPTION,
        ContractType.LINEAR,
        D("0.0005"),
        D("0.1"),
    )


# -- public parsers -------------------------------------------------------------------------------------
def test_server_time(deribit_bytes: Callable[[str], bytes]) -> None:
    assert rest.parse_server_time(_ok(deribit_bytes("rest_get_time_response.json"))) == 1550147385946


def test_order_book_snapshot_keeps_change_id_and_levels(
    deribit_bytes: Callable[[str], bytes], deribit_json: Callable[[str], Any]
) -> None:
    r = deribit_json("rest_get_order_book_response.json")["result"]
    snap = rest.parse_order_book(
        _ok(deribit_bytes("rest_get_order_book_response.json")), parse.SymbolMap(), 1
    )
    assert snap.sequence == r["change_id"] == 474988 and snap.instrument == "BTC-USD-PERP"
    assert snap.bids[0] == tuple(r["bids"][0]) and snap.bids[-1] == tuple(r["bids"][-1]) and snap.asks == ()
    assert snap.ts_event == r["timestamp"] * MS


def test_klines_from_parallel_arrays(
    deribit_bytes: Callable[[str], bytes], deribit_json: Callable[[str], Any]
) -> None:
    r = deribit_json("rest_get_tradingview_chart_data_response.json")["result"]
    out = rest.parse_klines(
        _ok(deribit_bytes("rest_get_tradingview_chart_data_response.json")),
        InstrumentId("BTC-USD-20190405"),
        "30",
        2,
    )
    assert [k.open_time for k in out] == [t * MS for t in r["ticks"]]
    assert [(k.open, k.high, k.low, k.close, k.volume) for k in out] == list(
        zip(r["open"], r["high"], r["low"], r["close"], r["volume"], strict=True)
    )
    assert [k.closed for k in out] == [True, False] and out[0].interval == "30m"


def test_recent_trades(deribit_bytes: Callable[[str], bytes], deribit_json: Callable[[str], Any]) -> None:
    (t,) = deribit_json("rest_get_last_trades_by_instrument_response.json")["result"]["trades"]
    (trade,) = rest.parse_trades(
        _ok(deribit_bytes("rest_get_last_trades_by_instrument_response.json")), parse.SymbolMap(), 3
    )
    assert (trade.trade_id, trade.price, trade.size, trade.side, trade.instrument) == (
        t["trade_id"],
        t["price"],
        t["amount"],
        Side.BUY,
        "BTC-USD-20260424-72000-C",
    )


# -- private parsers ------------------------------------------------------------------------------------
def test_auth_tokens_are_parsed_and_hidden(
    deribit_bytes: Callable[[str], bytes], deribit_json: Callable[[str], Any]
) -> None:
    r = deribit_json("rest_public_auth_response.json")["result"]
    tokens = rest.parse_auth(_ok(deribit_bytes("rest_public_auth_response.json")))
    assert (tokens.access_token, tokens.expires_in_s, tokens.scope) == (
        r["access_token"],
        31536000,
        "connection mainaccount",
    )
    assert r["access_token"] not in repr(tokens) and r["refresh_token"] not in str(tokens)


def test_account_summary_becomes_a_balance(
    deribit_bytes: Callable[[str], bytes], deribit_json: Callable[[str], Any]
) -> None:
    r = deribit_json("rest_private_get_account_summary_response.json")["result"]
    (b,) = rest.parse_balances(_ok(deribit_bytes("rest_private_get_account_summary_response.json")), 4)
    assert (b.asset, b.total, b.available, b.unrealized_pnl) == (
        "BTC", _dec(r["balance"]), _dec(r["available_funds"]), _dec(r["session_upl"]))
    # Deribit's own arithmetic in the example: what is free is the margin balance less the initial margin,
    # and total_pl (futures_pl + options_pl) is not the unrealised part (it was partly settled into balance).
    assert _dec(r["margin_balance"]) - _dec(r["initial_margin"]) == b.available
    assert _dec(r["total_pl"]) == _dec(r["futures_pl"]) + _dec(r["options_pl"]) != b.unrealized_pnl


def test_account_summaries_give_one_balance_per_currency() -> None:
    body = (b'{"jsonrpc":"2.0","id":1,"result":{"summaries":[{"currency":"BTC","balance":1.5,"available_funds":1.2,'
            b'"equity":1.55,"session_upl":0.05},{"currency":"USDC","balance":100,"available_funds":90.5}]}}')
    out = rest.parse_balances(_ok(body), 1)
    assert [(b.asset, b.total, b.available, b.unrealized_pnl) for b in out] == [
        ("BTC", D("1.5"), D("1.2"), D("0.05")),
        ("USDC", D(100), D("90.5"), D(0)),  # no session_upl reported: none apart
    ]


def test_positions(deribit_bytes: Callable[[str], bytes], deribit_json: Callable[[str], Any]) -> None:
    (p,) = deribit_json("rest_private_get_positions_response.json")["result"]
    (pos,) = rest.parse_positions(
        _ok(deribit_bytes("rest_private_get_positions_response.json")), parse.SymbolMap(), 5
    )
    assert (pos.instrument, pos.side, pos.size, pos.entry_price, pos.liquidation_price, pos.leverage) == (
        "BTC-USD-PERP",
        Side.BUY,
        _dec(p["size"]),
        _dec(p["average_price"]),
        _dec(p["estimated_liquidation_price"]),
        D(34),
    )


def test_buy_response_gives_the_order_then_its_fills(
    deribit_bytes: Callable[[str], bytes], deribit_json: Callable[[str], Any]
) -> None:
    r = deribit_json("rest_private_buy_response.json")["result"]
    out = rest.parse_place_order(_ok(deribit_bytes("rest_private_buy_response.json")), parse.SymbolMap(), 6)
    assert [type(m) for m in out] == [OrderUpdate, Fill]
    order, fill = out
    assert isinstance(order, OrderUpdate) and isinstance(fill, Fill)
    assert (order.venue_order_id, order.status, order.filled_qty, order.price) == (
        r["order"]["order_id"],
        OrderStatus.FILLED,
        _dec(r["order"]["filled_amount"]),
        _dec(r["order"]["price"]),
    )
    assert (fill.trade_id, fill.fee, fill.liquidity) == (r["trades"][0]["trade_id"], D("0.00007766"), "taker")


def test_a_self_match_taker_cancelled_at_placement_is_a_cancelled_order_not_an_error(
    deribit_json: Callable[[str], Any],
) -> None:
    """Deribit release of 2026-05-19: with self-match prevention in reject-taker mode the taker of
    private/buy|sell may come back cancelled (``cancel_reason`` set) instead of rejected."""
    doc = deribit_json("rest_private_buy_response.json")
    doc["result"]["trades"] = []
    # The notice names no cancel_reason value: any string is read the same way.
    doc["result"]["order"] |= {"order_state": "cancelled", "filled_amount": 0, "cancel_reason": "any_reason"}
    (order,) = rest.parse_place_order(_ok(json.dumps(doc).encode()), parse.SymbolMap(), 6)
    assert isinstance(order, OrderUpdate)
    assert (order.status, order.raw_status, order.filled_qty) == (OrderStatus.CANCELLED, "cancelled", D(0))


@pytest.mark.parametrize(
    ("name", "status", "price"),
    [
        ("rest_private_get_order_state_response.json", OrderStatus.FILLED, D("118.94")),
        ("rest_private_cancel_response.json", OrderStatus.PENDING, None),  # untriggered stop, "market_price"
    ],
)
def test_single_order_answers(deribit_bytes: Callable[[str], bytes], deribit_json: Callable[[str], Any], name: str,
                              status: OrderStatus, price: Decimal | None) -> None:  # fmt: skip
    r = deribit_json(name)["result"]
    u = rest.parse_order(_ok(deribit_bytes(name)), parse.SymbolMap(), 7)
    assert (u.venue_order_id, u.raw_status, u.status, u.price, u.quantity) == (
        r["order_id"],
        r["order_state"],
        status,
        price,
        _dec(r["amount"]),
    )


def test_open_orders(deribit_bytes: Callable[[str], bytes], deribit_json: Callable[[str], Any]) -> None:
    (r,) = deribit_json("rest_private_get_open_orders_by_instrument_response.json")["result"]
    (u,) = rest.parse_orders(
        _ok(deribit_bytes("rest_private_get_open_orders_by_instrument_response.json")), parse.SymbolMap(), 8
    )
    assert (u.venue_order_id, u.client_order_id, u.instrument, u.price) == (
        r["order_id"],
        "fooBar",
        "BTC-USD-20190215-3250-P",
        D("0.0028"),
    )


def test_cancel_count(deribit_bytes: Callable[[str], bytes]) -> None:
    assert rest.parse_cancel_count(_ok(deribit_bytes("rest_private_cancel_all_response.json"))) == 4


def _label_order(order_id: str, state: str, updated: int, label: str = "s1-42") -> dict[str, Any]:
    return {"order_id": order_id, "order_state": state, "instrument_name": "BTC-PERPETUAL", "direction": "buy",
            "amount": 100, "filled_amount": 0, "order_type": "limit", "price": 50000.0, "label": label,
            "last_update_timestamp": updated}  # fmt: skip


def test_order_by_label_prefers_the_open_order_then_the_latest() -> None:
    rows = [_label_order("1", "cancelled", 30), _label_order("2", "open", 20), _label_order("3", "filled", 10)]
    u = rest.parse_order_by_label(_ok(msgspec.json.encode({"jsonrpc": "2.0", "result": rows})), parse.SymbolMap(), 5, "s1-42")
    assert (u.venue_order_id, u.status, u.client_order_id, u.instrument) == ("2", OrderStatus.SUBMITTED, "s1-42", "BTC-USD-PERP")
    closed = [_label_order("1", "cancelled", 30), _label_order("3", "filled", 10)]
    u = rest.parse_order_by_label(_ok(msgspec.json.encode({"jsonrpc": "2.0", "result": closed})), parse.SymbolMap(), 5, "s1-42")
    assert (u.venue_order_id, u.status) == ("1", OrderStatus.CANCELLED)
    with pytest.raises(UnknownOrder, match="s1-42"):
        rest.parse_order_by_label(_ok(b'{"jsonrpc":"2.0","result":[]}'), parse.SymbolMap(), 5, "s1-42")


def test_cancel_by_label_that_cancelled_nothing_is_an_unknown_order() -> None:
    assert rest.parse_cancel_by_label(_ok(b'{"jsonrpc":"2.0","result":1}'), "s1-42") == 1
    with pytest.raises(UnknownOrder, match="s1-42"):
        rest.parse_cancel_by_label(_ok(b'{"jsonrpc":"2.0","result":0}'), "s1-42")


# -- errors ---------------------------------------------------------------------------------------------
def _error(code: int, message: str, status: int = 400, headers: dict[str, str] | None = None) -> Response:
    body = msgspec.json.encode({"jsonrpc": "2.0", "id": 1, "error": {"code": code, "message": message, "data": {"reason": "r"}},
                                "usIn": 0, "usOut": 0, "usDiff": 0, "testnet": False})  # fmt: skip
    return Response(status=status, headers=headers or {}, body=body)


@pytest.mark.parametrize(
    ("code", "message", "cls"),
    [(10009, "not_enough_funds", InsufficientFunds), (10004, "order_not_found", UnknownOrder), (13009, "unauthorized", AuthError),
     (13028, "temporarily_unavailable", VenueUnavailable)],
)  # fmt: skip
def test_json_rpc_errors_raise_typed_errors_keeping_code_and_text(
    code: int, message: str, cls: type[VenueReject]
) -> None:
    with pytest.raises(cls) as info:
        rest.parse_order(_error(code, message), parse.SymbolMap(), 0)
    assert info.value.code == str(code) and message in info.value.text and info.value.http_status == 400
    assert f"code {code}" in str(info.value)


def test_too_many_requests_keeps_retry_after() -> None:
    with pytest.raises(RateLimited) as info:
        rest.parse_server_time(_error(10028, "too_many_requests", 429, {"retry-after": "3"}))
    assert info.value.retry_after_s == 3.0


def test_non_json_5xx_and_429_map_by_status() -> None:
    with pytest.raises(VenueUnavailable):
        rest.parse_server_time(Response(status=502, headers={}, body=b"<html>bad gateway</html>"))
    with pytest.raises(RateLimited):
        rest.parse_server_time(Response(status=429, headers={"retry-after": "1"}, body=b"slow down"))
    with pytest.raises(DecodeError):
        rest.parse_server_time(_ok(b'{"jsonrpc":"2.0","id":1,"result":"noon"}'))


# -- builders -------------------------------------------------------------------------------------------
def test_signed_get_reproduces_the_signing_vector_header() -> None:
    spec = rest.account_summary("BTC", credentials=CREDS, now_ms=1576074319000, nonce="1iqt2wls")
    assert spec.target == "/api/v2/private/get_account_summary?currency=BTC"
    assert spec.headers["Authorization"] == (
        "deri-hmac-sha256 id=AMANDA,ts=1576074319000,"
        "sig=9bfbc51a2bc372d72cc396cf1a213dc78d42eb74cb7dc272351833ad0de276ab,nonce=1iqt2wls"
    )
    assert (spec.weight, spec.endpoint, spec.idempotent, spec.signed) == (
        500,
        "non_matching_engine",
        True,
        True,
    )
    assert "AMANDASECRECT" not in repr(spec)


def _perp() -> Instrument:
    return Instrument(id=InstrumentId("BTC-USD-PERP"), venue=Venue.DERIBIT, venue_symbol="BTC-PERPETUAL",
                      kind=InstrumentKind.PERPETUAL, base="BTC", quote="USD", settle="BTC",
                      contract_type=ContractType.INVERSE, tick_size=D("0.5"), lot_size=D(10), min_qty=D(10))  # fmt: skip


def _order(**kw: Any) -> PlaceOrder:
    base: dict[str, Any] = dict(venue=Venue.DERIBIT, instrument=InstrumentId("BTC-USD-PERP"),
                                client_order_id=ClientOrderId("s1-42"), side=Side.BUY, quantity=D(40), price=D("65000.5"))  # fmt: skip
    base.update(kw)
    return PlaceOrder(**base)


def _body(spec: Any) -> Any:
    """The JSON-RPC request a POST spec carries."""
    assert spec.method is Method.POST and spec.query == "" and spec.headers["Content-Type"] == "application/json"
    return json.loads(spec.body)


def test_a_placement_is_a_signed_post_carrying_the_json_rpc_request() -> None:
    spec = rest.place_order(
        _order(post_only=True, reduce_only=True), _perp(), credentials=CREDS, now_ms=1, nonce="n"
    )
    assert spec.path == "/api/v2/private/buy"
    assert spec.body == (b'{"jsonrpc":"2.0","id":1,"method":"private/buy","params":{"instrument_name":"BTC-PERPETUAL",'
                         b'"amount":40,"type":"limit","label":"s1-42","price":65000.5,"time_in_force":"good_til_cancelled",'
                         b'"post_only":true,"reject_post_only":true,"reduce_only":true}}')  # fmt: skip
    assert _body(spec)["params"]["price"] == 65000.5  # a JSON number, as Deribit's examples send it
    assert (spec.weight, spec.endpoint, spec.idempotent) == (1, "matching_engine", False)
    sig = signing.rest_signature(CREDS, 1, "n", "POST", "/api/v2/private/buy", spec.body)
    assert spec.headers["Authorization"] == f"deri-hmac-sha256 id=AMANDA,ts=1,sig={sig},nonce=n"
    # A bearer session token replaces the signature and keeps the body's content type.
    bearer = rest.with_bearer_token(spec, "tok")
    assert bearer.headers == {"Authorization": "bearer tok", "Content-Type": "application/json"}
    assert bearer.body == spec.body


def test_order_writes_for_the_socket_carry_the_same_request_with_the_reserved_id_and_no_signature() -> None:
    """With the dead-man's switch the writes go as frames on the authenticated connection (cancel-on-disconnect
    covers only the orders created via it): the same JSON-RPC request, with the id the codec reserved."""
    order = _order(post_only=True, reduce_only=True)
    http = rest.place_order(order, _perp(), credentials=CREDS, now_ms=1, nonce="n")
    ws = rest.place_order(order, _perp(), credentials=CREDS, now_ms=1, nonce="n", stream="main", request_id=77)
    assert (ws.stream, ws.request_id, ws.headers, ws.signed) == ("main", "77", {}, False)
    assert json.loads(ws.body) == json.loads(http.body) | {"id": 77}
    assert ws.body == http.body.replace(b'"id":1,', b'"id":77,')  # numbers as plain JSON numbers, as over HTTP
    assert (ws.path, ws.weight, ws.endpoint, ws.idempotent) == (http.path, 1, "matching_engine", False)
    assert "stream='main' id=77" in repr(ws) and "AMANDA" not in repr(ws)
    cancel = rest.cancel_order("BTC-1", credentials=CREDS, now_ms=1, nonce="n", stream="main", request_id=78)
    assert json.loads(cancel.body) == {"jsonrpc": "2.0", "id": 78, "method": "private/cancel",
                                       "params": {"order_id": "BTC-1"}}
    assert (cancel.stream, cancel.request_id, cancel.headers, cancel.endpoint) == ("main", "78", {}, "matching_engine")
    by_label = rest.cancel_by_client_id("s1-42", "BTC", credentials=CREDS, now_ms=1, nonce="n", stream="main",
                                        request_id=79)
    assert json.loads(by_label.body) == {"jsonrpc": "2.0", "id": 79, "method": "private/cancel_by_label",
                                         "params": {"label": "s1-42", "currency": "BTC"}}
    assert http.stream == "" and "Authorization" in http.headers  # without a stream: HTTP as before


def test_amounts_and_prices_go_as_plain_json_numbers_whatever_the_decimal_exponent() -> None:
    spec = rest.place_order(_order(quantity=D("4E+1"), price=D("6.50005E+4")), _perp(), credentials=CREDS,
                            now_ms=1, nonce="n")
    assert b'"amount":40,' in spec.body and b'"price":65000.5,' in spec.body


@pytest.mark.parametrize(
    ("tif", "wire_tif"), [(TimeInForce.IOC, "immediate_or_cancel"), (TimeInForce.FOK, "fill_or_kill")]
)
def test_market_sell_with_ioc_or_fok(tif: TimeInForce, wire_tif: str) -> None:
    order = _order(side=Side.SELL, order_type=OrderType.MARKET, price=None, time_in_force=tif)
    spec = rest.place_order(order, _perp(), credentials=CREDS, now_ms=1, nonce="n")
    assert spec.path == "/api/v2/private/sell"
    assert _body(spec)["params"] == {"instrument_name": "BTC-PERPETUAL", "amount": 40, "type": "market",
                                     "label": "s1-42", "time_in_force": wire_tif}


@pytest.mark.parametrize(
    ("kw", "text"),
    [
        ({"price": None}, "needs a price"),
        ({"order_type": OrderType.MARKET}, "takes no price"),
        ({"post_only": True, "time_in_force": TimeInForce.IOC}, "post-only"),
        ({"quantity": D(45)}, "lot size"),
        ({"client_order_id": ClientOrderId("bad id")}, "1-64 characters"),
        ({"venue": Venue.OKX}, "expected a deribit order"),
    ],
)
def test_invalid_orders_are_refused_before_signing(kw: dict[str, Any], text: str) -> None:
    with pytest.raises(InvalidOrder, match=text):
        rest.place_order(_order(**kw), _perp(), credentials=CREDS, now_ms=1, nonce="n")


def test_cancel_and_query_by_either_id() -> None:
    kw: dict[str, Any] = dict(credentials=CREDS, now_ms=1, nonce="n")
    cancel = rest.cancel_order("ETH-SLIS-12", **kw)
    assert (cancel.target, _body(cancel)["params"]) == ("/api/v2/private/cancel", {"order_id": "ETH-SLIS-12"})
    by_label = rest.cancel_by_client_id("s1-42", "BTC", **kw)
    assert (by_label.target, _body(by_label)["method"], _body(by_label)["params"]) == (
        "/api/v2/private/cancel_by_label", "private/cancel_by_label", {"label": "s1-42", "currency": "BTC"})
    assert (
        rest.query_order("ETH-331562", **kw).target == "/api/v2/private/get_order_state?order_id=ETH-331562"
    )
    assert (
        rest.query_by_client_id("s1-42", "BTC", **kw).target
        == "/api/v2/private/get_order_state_by_label?currency=BTC&label=s1-42"
    )
    assert (
        rest.open_orders("ETH-22FEB19-120-C", **kw).target
        == "/api/v2/private/get_open_orders_by_instrument?instrument_name=ETH-22FEB19-120-C"
    )
    assert rest.open_orders(**kw).target == "/api/v2/private/get_open_orders"
    assert (
        rest.positions("BTC", "future", **kw).target
        == "/api/v2/private/get_positions?currency=BTC&kind=future"
    )


def test_public_builders_match_the_documented_requests(deribit_json: Callable[[str], Any]) -> None:
    assert rest.server_time().target == "/api/v2/public/get_time"
    assert (
        rest.order_book("BTC-PERPETUAL", 5).target
        == "/api/v2/public/get_order_book?instrument_name=BTC-PERPETUAL&depth=5"
    )
    p = deribit_json("rest_get_tradingview_chart_data_request.json")["params"]
    spec = rest.klines(p["instrument_name"], p["resolution"], p["start_timestamp"], p["end_timestamp"])
    assert (
        spec.query
        == "instrument_name=BTC-5APR19&start_timestamp=1554373800000&end_timestamp=1554376800000&resolution=30"
    )
    assert rest.recent_trades("BTC-PERPETUAL", 1).query == "instrument_name=BTC-PERPETUAL&count=1"
    assert rest.instruments("BTC", "future").query == "currency=BTC&kind=future&expired=false"
    assert not rest.server_time().signed and rest.server_time().weight == 500


def test_reads_stay_signed_gets_with_a_query() -> None:
    spec = rest.open_orders(credentials=CREDS, now_ms=1, nonce="n")
    assert (spec.method, spec.body) == (Method.GET, b"")


def test_bearer_token_replaces_the_signature() -> None:
    spec = rest.with_bearer_token(rest.open_orders(credentials=CREDS, now_ms=1, nonce="n"), "tok")
    assert spec.headers == {"Authorization": "bearer tok"} and "tok" not in repr(spec)


def test_rest_auth_request_signs_with_client_signature() -> None:
    spec = rest.auth(CREDS, 1576074319000, "1iqt2wls")
    assert spec.query == ("grant_type=client_signature&client_id=AMANDA&timestamp=1576074319000&nonce=1iqt2wls&data="
                          "&signature=56590594f97921b09b18f166befe0d1319b198bbcdad7ca73382de2f88fe9aa1")  # fmt: skip


# -- documented requests: our builders send the same method and params ------------------------------------
def _wire_value(value: Any) -> str:
    """How a JSON-RPC param value reads in our GET query string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _query_of(spec: Any) -> dict[str, str]:
    from urllib.parse import parse_qsl

    pairs = parse_qsl(spec.query, keep_blank_values=True)
    assert len(pairs) == len({k for k, _ in pairs})  # no repeated key
    return dict(pairs)


def _assert_same_request(spec: Any, doc: dict[str, Any], extra: dict[str, Any] | None = None) -> None:
    """Method and every documented param equal; our only additions are ``extra``.

    A write is a POST whose body is the JSON-RPC request itself: its params must equal the documented ones
    with their JSON types (numbers stay numbers). A read's params travel in the GET query. The JSON-RPC
    ``id`` is not compared (ours is the request's timestamp).
    """
    assert spec.path == rest.API_PREFIX + doc["method"]
    if spec.method is Method.POST:
        body = _body(spec)
        assert (body["jsonrpc"], body["method"], type(body["id"])) == ("2.0", doc["method"], int)
        assert body["params"] == doc["params"] | (extra or {})
        return
    ours = _query_of(spec)
    for key, value in doc["params"].items():
        assert ours.get(key) == _wire_value(value), key
    assert {k: v for k, v in ours.items() if k not in doc["params"]} == (extra or {})


ETH_PERP = Instrument(
    id=InstrumentId("ETH-USD-PERP"), venue=Venue.DERIBIT, venue_symbol="ETH-PERPETUAL",
    kind=InstrumentKind.PERPETUAL, base="ETH", quote="USD", settle="ETH", contract_type=ContractType.INVERSE,
    tick_size=D("0.05"), lot_size=D(1), contract_size=D(1), min_qty=D(1),
)  # fmt: skip
_SIGN: dict[str, Any] = {"credentials": CREDS, "now_ms": 1576074319000, "nonce": "1iqt2wls"}


@pytest.mark.parametrize(
    ("name", "build", "extra"),
    [
        ("rest_get_time_request.json", lambda p: rest.server_time(), None),
        ("rest_get_instrument_request.json", lambda p: rest.instrument(p["instrument_name"]), None),
        # We always say expired=false (Deribit's default) so the request is explicit.
        (
            "rest_get_instruments_request.json",
            lambda p: rest.instruments(p["currency"], p["kind"]),
            {"expired": "false"},
        ),
        (
            "rest_get_last_trades_by_instrument_request.json",
            lambda p: rest.recent_trades(p["instrument_name"], p["count"]),
            None,
        ),
        (
            "rest_get_order_book_request.json",
            lambda p: rest.order_book(p["instrument_name"], p["depth"]),
            None,
        ),
        ("rest_ticker_request.json", lambda p: rest.ticker(p["instrument_name"]), None),
        ("rest_public_status_request.json", lambda p: rest.status(), None),
        ("rest_private_cancel_all_request.json", lambda p: rest.cancel_all(**_SIGN), None),
        ("rest_private_cancel_request.json", lambda p: rest.cancel_order(p["order_id"], **_SIGN), None),
        ("rest_private_get_order_state_request.json", lambda p: rest.query_order(p["order_id"], **_SIGN), None),
        (
            "rest_private_get_open_orders_by_instrument_request.json",
            lambda p: rest.open_orders(p["instrument_name"], **_SIGN),
            None,
        ),
        (
            "rest_private_get_positions_request.json",
            lambda p: rest.positions(p["currency"], p["kind"], **_SIGN),
            None,
        ),
        (
            "rest_private_get_account_summary_request.json",
            lambda p: rest.account_summary(p["currency"], p["extended"], **_SIGN),
            None,
        ),
        (
            "rest_private_edit_request.json",
            lambda p: rest.edit_order(
                p["order_id"], _dec(p["amount"]), _dec(p["price"]), p["advanced"], **_SIGN
            ),
            None,
        ),
        # Our PlaceOrder always has a time in force; Deribit's default (GTC) is sent explicitly.
        (
            "rest_private_buy_request.json",
            lambda p: rest.place_order(
                PlaceOrder(
                    venue=Venue.DERIBIT, instrument=ETH_PERP.id, client_order_id=ClientOrderId(p["label"]),
                    side=Side.BUY, order_type=OrderType(p["type"]), quantity=_dec(p["amount"]),
                ),
                ETH_PERP, **_SIGN,
            ),
            {"time_in_force": "good_til_cancelled"},
        ),
    ],
)  # fmt: skip
def test_builders_send_the_documented_method_and_params(
    deribit_json: Callable[[str], Any],
    name: str,
    build: Callable[[dict[str, Any]], Any],
    extra: dict[str, str] | None,
) -> None:
    doc = deribit_json(name)
    spec = build(doc["params"])
    _assert_same_request(spec, doc, extra)
    private = doc["method"].startswith("private/")
    assert spec.signed is private and ("Authorization" in spec.headers) is private


def test_edit_and_cancel_all_draw_on_the_matching_engine_limit() -> None:
    edit = rest.edit_order("438994", D(4), None, **_SIGN)
    assert _body(edit)["params"] == {"order_id": "438994", "amount": 4}
    assert (edit.weight, edit.endpoint, edit.idempotent) == (1, "matching_engine", False)
    cancel_all = rest.cancel_all(**_SIGN)
    assert (cancel_all.weight, cancel_all.endpoint, cancel_all.target) == (
        1, "matching_engine", "/api/v2/private/cancel_all")  # fmt: skip
    assert _query_of(rest.account_summary("BTC", **_SIGN)) == {"currency": "BTC"}


def test_auth_request_signs_instead_of_sending_the_documented_client_secret(
    deribit_json: Callable[[str], Any],
) -> None:
    doc = deribit_json("rest_public_auth_request.json")
    p = doc["params"]
    spec = rest.auth(Credentials(p["client_id"], p["client_secret"]), 1576074319000, "1iqt2wls")
    ours = _query_of(spec)
    assert spec.path == rest.API_PREFIX + doc["method"] and ours["client_id"] == p["client_id"]
    # Deliberate difference: the doc example uses grant_type=client_credentials, which puts the secret in
    # the request; we use client_signature, so timestamp/nonce/signature replace client_secret.
    assert p["grant_type"] == "client_credentials" and ours["grant_type"] == "client_signature"
    assert "client_secret" not in ours and p["client_secret"] not in spec.target
    assert set(ours) == {"grant_type", "client_id", "timestamp", "nonce", "data", "signature"}


# -- documented responses ------------------------------------------------------------------------------
def test_edit_response_becomes_the_order_update(
    deribit_bytes: Callable[[str], bytes], deribit_json: Callable[[str], Any]
) -> None:
    r = deribit_json("rest_private_edit_response.json")["result"]
    o = r["order"]
    (update,) = rest.parse_place_order(
        _ok(deribit_bytes("rest_private_edit_response.json")), parse.SymbolMap(), 9
    )
    assert r["trades"] == [] and isinstance(update, OrderUpdate)
    assert update.instrument == "BTC-USD-PERP" and o["instrument_name"] == "BTC-PERPETUAL"
    assert (update.venue_order_id, update.client_order_id, update.raw_status) == (
        o["order_id"], o["label"], o["order_state"])  # fmt: skip
    assert (update.status, update.side, update.order_type) == (
        OrderStatus.SUBMITTED, Side(o["direction"]), OrderType(o["order_type"]))  # fmt: skip
    assert (update.price, update.quantity, update.filled_qty, update.avg_price) == (
        _dec(o["price"]), _dec(o["amount"]), _dec(o["filled_amount"]), None)  # average_price 0: none yet  # fmt: skip
    assert (update.reduce_only, update.ts_event, update.ts_recv) == (
        o["reduce_only"],
        o["last_update_timestamp"] * MS,
        9,
    )


def test_status_response(deribit_bytes: Callable[[str], bytes], deribit_json: Callable[[str], Any]) -> None:
    r = deribit_json("rest_public_status_response.json")["result"]
    status = rest.parse_status(_ok(deribit_bytes("rest_public_status_response.json")))
    assert (status.locked, status.locked_currencies) == (r["locked"], r["locked_currencies"])
    newer = rest.parse_status(
        _ok(b'{"jsonrpc":"2.0","id":1,"result":{"locked":"partial","locked_currencies":["ETH"]}}')
    )
    assert (newer.locked, newer.locked_currencies) == ("partial", ["ETH"])


def test_ticker_response_becomes_the_best_bid_and_ask(
    deribit_bytes: Callable[[str], bytes], deribit_json: Callable[[str], Any]
) -> None:
    r = deribit_json("rest_ticker_response.json")["result"]
    quote = rest.parse_ticker(_ok(deribit_bytes("rest_ticker_response.json")), parse.SymbolMap(), 3)
    assert (
        quote is not None and quote.instrument == "BTC-USD-PERP" and r["instrument_name"] == "BTC-PERPETUAL"
    )
    assert (quote.bid_px, quote.bid_sz, quote.ask_px, quote.ask_sz) == (
        r["best_bid_price"], r["best_bid_amount"], r["best_ask_price"], r["best_ask_amount"])  # fmt: skip
    assert (quote.ts_event, quote.ts_recv) == (r["timestamp"] * MS, 3)
