"""BinanceSession: the position mode read at start and re-read after -4061, streams by category, balance reads."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from messages import AccountConfig, Balance, InstrumentId, PositionMode, Venue
from venues import Credentials
from venues.binance import BinanceCodec, frames
from venues.binance.codec import BalancesChanged
from venues.binance.session import BinanceSession, SessionOptions
from venues.http import Method, Response
from venues.session import Fetch, Send, SetTimer
from venues.symbols import InstrumentRegistry

CREDS = Credentials("key-abcdef", "secret")
WS = {"public": "wss://h/public", "market": "wss://h/market", "private": "wss://h/private"}
BTC = InstrumentId("BTC-USDT-PERP")
SUSHI = InstrumentId("SUSHI-USDT-PERP")
NOW = 1_700_000_000_000


def session(registry: InstrumentRegistry, creds: Credentials | None = CREDS, **kw: Any) -> BinanceSession:
    return BinanceSession(BinanceCodec(registry), registry, SessionOptions(WS, **kw), creds)


def ok(body: bytes) -> Response:
    return Response(status=200, headers={}, body=body)


def subscribed_names(outs: list[Any]) -> dict[str, list[str]]:
    """Stream names per connection, read back from the SUBSCRIBE frames."""
    names: dict[str, list[str]] = {}
    for out in outs:
        assert isinstance(out, Send)
        request = json.loads(out.frame)
        assert request["method"] == "SUBSCRIBE"
        names.setdefault(out.stream, []).extend(request["params"])
    return names


# -- position mode ---------------------------------------------------------------------------------------
def test_the_position_mode_is_read_at_start_and_published(registry: InstrumentRegistry) -> None:
    s = session(registry)
    assert s.position_mode is PositionMode.ONE_WAY  # until known
    fetch, watch = s.start(NOW)
    assert isinstance(fetch, Fetch) and watch == SetTimer(key="position_mode_watch", after_s=1.0)
    assert (fetch.spec.method, fetch.spec.path, fetch.spec.weight) == (Method.GET, "/fapi/v1/positionSide/dual", 30)
    (config,) = s.response(fetch.key, ok(b'{"dualSidePosition":true}'), NOW + 5)
    assert config == AccountConfig(venue=Venue.BINANCE, position_mode=PositionMode.HEDGE, ts=(NOW + 5) * 1_000_000,
                                   detail="dualSidePosition=true")
    assert s.position_mode is PositionMode.HEDGE


def test_a_one_way_account_is_published_too_and_nothing_is_read_without_credentials(
    registry: InstrumentRegistry,
) -> None:
    s = session(registry)
    fetch, _ = s.start(NOW)
    assert isinstance(fetch, Fetch)
    (config,) = s.response(fetch.key, ok(b'{"dualSidePosition":false}'), NOW)
    assert isinstance(config, AccountConfig) and config.position_mode is PositionMode.ONE_WAY
    assert session(registry, creds=None).start(NOW) == []


def test_a_refused_position_side_makes_the_mode_watch_read_the_mode_again(registry: InstrumentRegistry) -> None:
    s = session(registry, mode_check_s=0.5)
    fetch, watch = s.start(NOW)
    assert isinstance(fetch, Fetch) and isinstance(watch, SetTimer)
    s.response(fetch.key, ok(b'{"dualSidePosition":false}'), NOW)
    assert s.timer(watch.key, NOW + 500) == [watch]  # nothing refused: the watch only re-arms
    s.position_side_refused("Order's position side does not match user's setting.")
    again, rearmed = s.timer(watch.key, NOW + 1000)
    assert isinstance(again, Fetch) and again.spec.path == "/fapi/v1/positionSide/dual" and rearmed == watch
    assert s.timer(watch.key, NOW + 1500) == [watch]  # read once per refusal
    assert s.response(again.key, ok(b'{"dualSidePosition":false}'), NOW + 2) == []  # unchanged: nothing new
    (config,) = s.response(again.key, ok(b'{"dualSidePosition":true}'), NOW + 3)
    assert isinstance(config, AccountConfig) and config.position_mode is PositionMode.HEDGE
    assert s.position_mode is PositionMode.HEDGE


# -- streams by category ---------------------------------------------------------------------------------
def test_every_subscription_goes_out_on_the_connection_of_its_category(registry: InstrumentRegistry) -> None:
    s = session(registry, klines=("1m", "1h"))
    assert [(spec.name, spec.private) for spec in s.streams()] == [
        ("public", False),
        ("market", False),
        ("private", True),
    ]
    s.subscribe([BTC, SUSHI], NOW)
    by_stream = subscribed_names(s.connected("public", NOW) + s.connected("market", NOW))
    assert by_stream == {
        "public": ["btcusdt@depth@100ms", "sushiusdt@depth@100ms"],
        "market": ["btcusdt@aggTrade", "btcusdt@kline_1m", "btcusdt@kline_1h",
                   "sushiusdt@aggTrade", "sushiusdt@kline_1m", "sushiusdt@kline_1h"],
    }
    for stream, names in by_stream.items():
        assert all(frames.route_for(n) == stream for n in names)
    # Instruments added later go out on the connections that are up, each on its own category.
    late = subscribed_names(s.subscribe([InstrumentId("ADA-USDT-PERP")], NOW))
    assert late == {"public": ["adausdt@depth@100ms"], "market": ["adausdt@aggTrade", "adausdt@kline_1m",
                                                                  "adausdt@kline_1h"]}


def test_without_trades_or_klines_there_is_no_market_connection(registry: InstrumentRegistry) -> None:
    s = session(registry, creds=None, trades=False)
    assert [spec.name for spec in s.streams()] == ["public"]
    s.subscribe([BTC], NOW)
    assert subscribed_names(s.connected("public", NOW)) == {"public": ["btcusdt@depth@100ms"]}


# -- balances --------------------------------------------------------------------------------------------
def test_an_account_update_schedules_one_balance_read_that_publishes_available_balance(
    registry: InstrumentRegistry, wire_bytes: Callable[[str], bytes], wire_json: Callable[[str], Any]
) -> None:
    s = session(registry, balance_refresh_s=0.25)
    changed = BalancesChanged(assets=("USDT",))
    assert s.on_event(changed, "private", NOW) == [SetTimer(key="balances", after_s=0.25)]
    assert s.on_event(changed, "private", NOW) == []  # a burst of fills costs one read
    (fetch,) = s.timer("balances", NOW + 250)
    assert isinstance(fetch, Fetch) and (fetch.spec.path, fetch.spec.weight) == ("/fapi/v3/balance", 5)
    (row,) = wire_json("rest_balance_v3_response.json")
    (balance,) = s.response(fetch.key, ok(wire_bytes("rest_balance_v3_response.json")), NOW + 260)
    assert isinstance(balance, Balance)
    assert (balance.total, balance.available, balance.unrealized_pnl) == (
        Decimal(row["balance"]),
        Decimal(row["availableBalance"]),
        Decimal(row["crossUnPnl"]),
    )
    assert s.on_event(changed, "private", NOW + 300) == [SetTimer(key="balances", after_s=0.25)]  # next burst
