"""Binance WebSocket frames, stream names and the /public, /market, /private routing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from venues.binance import frames
from venues.errors import ConfigError


def test_subscribe_frame_has_the_documented_shape(wire_json: Callable[[str], Any]) -> None:
    doc = wire_json("ws_subscribe_request.json")
    assert json.loads(frames.subscribe(doc["params"], doc["id"])) == doc


def test_frames_without_fixtures() -> None:
    assert frames.subscribe(["btcusdt@depth@100ms"], 1) == (
        b'{"method":"SUBSCRIBE","params":["btcusdt@depth@100ms"],"id":1}'
    )
    assert frames.unsubscribe(["btcusdt@aggTrade"], 2) == (
        b'{"method":"UNSUBSCRIBE","params":["btcusdt@aggTrade"],"id":2}'
    )
    assert frames.list_subscriptions(3) == b'{"method":"LIST_SUBSCRIPTIONS","params":[],"id":3}'


def test_stream_names_are_lower_case() -> None:
    assert frames.depth_stream("BTCUSDT") == "btcusdt@depth@100ms"
    assert frames.depth_stream("BTCUSDT", 250) == "btcusdt@depth"
    assert frames.book_ticker_stream("BTCUSDT") == "btcusdt@bookTicker"
    assert frames.agg_trade_stream("BTCUSDT") == "btcusdt@aggTrade"
    assert frames.trade_stream("BTCUSDT") == "btcusdt@trade"
    assert frames.kline_stream("BTCUSDT", "1m") == "btcusdt@kline_1m"
    assert frames.mark_price_stream("BTCUSDT") == "btcusdt@markPrice@1s"
    with pytest.raises(ConfigError, match="got 50"):
        frames.depth_stream("BTCUSDT", 50)


def test_book_streams_and_raw_trades_route_to_public_and_the_rest_to_market() -> None:
    book = [frames.depth_stream("BTCUSDT"), frames.book_ticker_stream("ETHUSDT"), frames.trade_stream("BTCUSDT")]
    assert frames.stream_path(book) == (
        "/public/stream?streams=btcusdt@depth@100ms/ethusdt@bookTicker/btcusdt@trade"
    )
    assert (
        frames.stream_path([frames.kline_stream("BTCUSDT", "1m")], combined=False)
        == "/market/ws/btcusdt@kline_1m"
    )
    assert frames.stream_path([frames.agg_trade_stream("BTCUSDT"), frames.mark_price_stream("BTCUSDT")]) == (
        "/market/stream?streams=btcusdt@aggTrade/btcusdt@markPrice@1s"
    )
    assert frames.private_path("abc") == "/private/ws?listenKey=abc"
    with pytest.raises(ConfigError, match="must share one route"):
        frames.stream_path([frames.depth_stream("BTCUSDT"), frames.agg_trade_stream("BTCUSDT")])


@pytest.mark.parametrize(
    ("stream", "route"),
    [
        ("btcusdt@depth", frames.Route.PUBLIC),
        ("btcusdt@depth@100ms", frames.Route.PUBLIC),
        ("btcusdt@depth20@500ms", frames.Route.PUBLIC),
        ("btcusdt@rpiDepth@500ms", frames.Route.PUBLIC),
        ("btcusdt@bookTicker", frames.Route.PUBLIC),
        ("!bookTicker", frames.Route.PUBLIC),
        ("btcusdt@trade", frames.Route.PUBLIC),  # not @aggTrade: raw trades are delivered on /public
        ("btcusdt@aggTrade", frames.Route.MARKET),
        ("btcusdt@kline_1m", frames.Route.MARKET),
        ("btcusdt_perpetual@continuousKline_1m", frames.Route.MARKET),
        ("btcusdt@markPrice@1s", frames.Route.MARKET),
        ("!markPrice@arr", frames.Route.MARKET),
        ("btcusdt@miniTicker", frames.Route.MARKET),
        ("!ticker@arr", frames.Route.MARKET),
        ("btcusdt@forceOrder", frames.Route.MARKET),
        ("!contractInfo", frames.Route.MARKET),
    ],
)
def test_every_stream_type_has_its_category(stream: str, route: frames.Route) -> None:
    assert frames.route_for(stream) is route


def test_an_unknown_stream_type_is_refused_rather_than_sent_where_it_would_go_quiet() -> None:
    with pytest.raises(ConfigError, match="unknown stream type 'somethingnew'"):
        frames.route_for("btcusdt@somethingNew")
    with pytest.raises(ConfigError, match="unknown stream type"):
        frames.stream_path(["btcusdt"])
