"""OKX WS request frames: exact bytes for subscribe/unsubscribe, endpoints per channel, text ping."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from venues.okx import frames
from venues.okx.frames import Channel, SubscriptionArg

OkxJson = Callable[[str], Any]


def test_subscribe_frame_matches_the_documented_request(okx_json: OkxJson) -> None:
    frame = frames.subscribe([SubscriptionArg(channel=Channel.BOOKS, instId="BTC-USDT")], request_id="1512")
    assert json.loads(frame) == okx_json("okx/ws_books_subscribe_request.json")
    candle = frames.subscribe(
        [SubscriptionArg(channel=frames.candle_channel("1D"), instId="BTC-USDT")], "1512"
    )
    assert json.loads(candle) == okx_json("okx/ws_candle_subscribe_request.json")
    orders = frames.subscribe(
        [SubscriptionArg(channel=Channel.ORDERS, instType="FUTURES", instId="BTC-USD-200329")], "1512"
    )
    assert json.loads(orders) == okx_json("okx/ws_orders_subscribe_request.json")


def test_frames_are_compact_and_omit_empty_fields() -> None:
    args = [
        SubscriptionArg(channel=Channel.BOOKS, instId="BTC-USDT-SWAP"),
        SubscriptionArg(channel=Channel.TRADES, instId="BTC-USDT-SWAP"),
    ]
    assert frames.subscribe(args) == (
        b'{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT-SWAP"},'
        b'{"channel":"trades","instId":"BTC-USDT-SWAP"}]}'
    )
    assert (
        frames.unsubscribe(args[:1], "7")
        == b'{"op":"unsubscribe","args":[{"channel":"books","instId":"BTC-USDT-SWAP"}],"id":"7"}'
    )
    assert frames.PING == b"ping"


def test_candles_and_trades_all_live_on_business_and_private_channels_on_private() -> None:
    assert frames.path_for("candle1m") == "/ws/v5/business"
    assert frames.path_for(Channel.TRADES_ALL) == "/ws/v5/business"
    assert frames.path_for(Channel.ORDERS) == "/ws/v5/private"
    assert frames.path_for(Channel.BOOKS) == "/ws/v5/public"
