"""Deribit WebSocket frames match the documented requests (ids aside) and channel names are exact."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from venues.deribit import frames
from venues.errors import ConfigError


@pytest.mark.parametrize(
    ("name", "frame"),
    [
        (
            "ws_public_subscribe_request.json",
            lambda rid: frames.subscribe_frame(rid, ["deribit_price_index.btc_usd"]),
        ),
        (
            "ws_private_subscribe_request.json",
            lambda rid: frames.subscribe_frame(rid, ["deribit_price_index.btc_usd"], private=True),
        ),
        (
            "ws_public_unsubscribe_request.json",
            lambda rid: frames.unsubscribe_frame(rid, ["deribit_price_index.btc_usd"]),
        ),
        ("ws_public_test_request.json", frames.test_frame),
        ("ws_set_heartbeat_request.json", lambda rid: frames.set_heartbeat_frame(rid, 30)),
        ("ws_public_hello_request.json", lambda rid: frames.hello_frame(rid, "My Trading Software", "1.0.2")),
        (
            "ws_private_enable_cancel_on_disconnect_request.json",
            lambda rid: frames.cancel_on_disconnect_frame(rid, "account"),
        ),
    ],
)
def test_frames_equal_the_documented_requests(
    deribit_json: Callable[[str], Any], name: str, frame: Callable[[int], bytes]
) -> None:
    expected = deribit_json(name)
    assert msgspec.json.decode(frame(expected["id"])) == expected


@pytest.mark.parametrize(
    ("name", "channel"),
    [
        ("ws_book_100ms_subscribe_request.json", frames.book_channel("BTC-PERPETUAL")),
        ("ws_ticker_subscribe_request.json", frames.ticker_channel("BTC-PERPETUAL")),
        ("ws_trades_subscribe_request.json", frames.trades_channel("BTC-PERPETUAL")),
        ("ws_quote_subscribe_request.json", frames.quote_channel("BTC-PERPETUAL")),
        ("ws_user_orders_raw_subscribe_request.json", frames.user_orders_channel("BTC-PERPETUAL")),
        (
            "ws_user_changes_subscribe_request.json",
            frames.user_changes_channel("BTC-PERPETUAL", frames.Interval.MS100),
        ),
        (
            "ws_user_trades_subscribe_request.json",
            frames.user_trades_channel("BTC-PERPETUAL", frames.Interval.MS100),
        ),
    ],
)
def test_channel_builders_give_the_documented_names(
    deribit_json: Callable[[str], Any], name: str, channel: str
) -> None:
    assert deribit_json(name)["params"]["channels"] == [channel]


def test_own_channel_names() -> None:
    assert frames.grouped_book_channel("ETH-PERPETUAL", "none", 10) == "book.ETH-PERPETUAL.none.10.100ms"
    assert frames.chart_channel("BTC-PERPETUAL", "1") == "chart.trades.BTC-PERPETUAL.1"
    assert frames.user_portfolio_channel("BTC") == "user.portfolio.btc"
    assert frames.book_channel("BTC-PERPETUAL", frames.Interval.RAW) == "book.BTC-PERPETUAL.raw"


def test_own_subscribe_frame_bytes_are_compact_json_rpc() -> None:
    assert frames.subscribe_frame(7, ["book.BTC-PERPETUAL.100ms"]) == (
        b'{"jsonrpc":"2.0","id":7,"method":"public/subscribe","params":{"channels":["book.BTC-PERPETUAL.100ms"]}}'
    )


def test_heartbeat_interval_below_ten_seconds_is_refused() -> None:
    with pytest.raises(ConfigError, match=">= 10 s, got 5"):
        frames.set_heartbeat_frame(1, 5)


def _fill(template: str, **values: str) -> str:
    """The doc writes channel parameters as ``(name)``; put concrete values in their place."""
    for key, value in values.items():
        template = template.replace(f"({key})", value)
    assert "(" not in template, template
    return template


@pytest.mark.parametrize(
    ("name", "values", "channel"),
    [
        (
            "ws_book_grouped_subscribe_request.json",
            {"group": "none", "depth": "10"},
            frames.grouped_book_channel("BTC-PERPETUAL", "none", 10),
        ),
        ("ws_chart_trades_subscribe_request.json", {"resolution": "60"}, frames.chart_channel("BTC-PERPETUAL", "60")),
        (
            "ws_user_orders_kind_currency_subscribe_request.json",
            {"kind": "future", "currency": "BTC"},
            frames.user_orders_kind_channel("future", "BTC", frames.Interval.MS100),
        ),
        ("ws_user_portfolio_subscribe_request.json", {"currency": "btc"}, frames.user_portfolio_channel("BTC")),
        # Channels we subscribe to by name but do not turn into messages (the codec ignores them).
        ("ws_incremental_ticker_subscribe_request.json", {}, "incremental_ticker.BTC-PERPETUAL"),
        ("ws_perpetual_subscribe_request.json", {}, "perpetual.BTC-PERPETUAL.100ms"),
        ("ws_platform_state_subscribe_request.json", {}, "platform_state"),
        ("ws_instrument_state_subscribe_request.json", {"kind": "future", "currency": "btc"}, "instrument.state.future.btc"),
    ],
)  # fmt: skip
def test_subscribe_frames_equal_the_documented_channel_requests(
    deribit_json: Callable[[str], Any], name: str, values: dict[str, str], channel: str
) -> None:
    doc = deribit_json(name)
    (template,) = doc["params"]["channels"]
    assert _fill(template, **values) == channel
    # The doc sends these with public/subscribe (also the user.* ones); the frame builder does the same
    # when private=False. DeribitCodec.subscribe picks private/subscribe for user.* channels.
    sent = msgspec.json.decode(frames.subscribe_frame(doc["id"], [channel]))
    assert sent == {**doc, "params": {"channels": [channel]}}
    assert (sent["jsonrpc"], sent["method"], sent["id"]) == (doc["jsonrpc"], doc["method"], doc["id"])


def test_kind_currency_user_channels_follow_the_user_orders_pattern() -> None:
    assert frames.user_trades_kind_channel("any", "any") == "user.trades.any.any.raw"
    assert frames.user_changes_kind_channel("future", "BTC", frames.Interval.MS100) == "user.changes.future.BTC.100ms"
    assert frames.user_orders_kind_channel("any", "any").replace("orders", "trades") == frames.user_trades_kind_channel("any", "any")
