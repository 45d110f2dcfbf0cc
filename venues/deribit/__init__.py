"""Deribit API v2 (JSON-RPC 2.0) sans-IO codec.

Nothing in this package opens a socket or reads a clock. Modules: wire (structs shaped like Deribit's
JSON), parse (wire -> messages), frames (WebSocket requests and channel names), rest (request specs and
response parsers), signing (client_signature and deri-hmac-sha256), codes (status, error and client-id
rules), codec (DeribitCodec: feed frames, keep books), session (DeribitSession: what the one connection
remembers: login, heartbeat, subscriptions, book resubscribes, session refresh; and the learnt order ids).
PROTOCOL.md beside them lists Deribit's dated changes since 2025 and what this code does about each.
"""

from __future__ import annotations

from venues.deribit.codec import DeribitCodec, Output, SettingAnswered
from venues.deribit.codes import (
    make_client_order_id,
    make_error,
    order_status,
    validate_client_order_id,
)
from venues.deribit.frames import (
    Interval,
    book_channel,
    chart_channel,
    grouped_book_channel,
    instrument_state_channel,
    quote_channel,
    ticker_channel,
    trades_channel,
    user_changes_channel,
    user_orders_channel,
    user_portfolio_channel,
    user_trades_channel,
)
from venues.deribit.parse import SymbolMap, unified_id
from venues.deribit.rest import AuthTokens, Endpoint, with_bearer_token
from venues.deribit.session import DeribitSession, OrderIds

__all__ = [
    "DeribitCodec",
    "DeribitSession",
    "OrderIds",
    "Output",
    "SettingAnswered",
    "Endpoint",
    "AuthTokens",
    "with_bearer_token",
    "SymbolMap",
    "unified_id",
    "Interval",
    "book_channel",
    "grouped_book_channel",
    "trades_channel",
    "ticker_channel",
    "quote_channel",
    "chart_channel",
    "user_orders_channel",
    "user_trades_channel",
    "user_changes_channel",
    "user_portfolio_channel",
    "instrument_state_channel",
    "order_status",
    "make_error",
    "make_client_order_id",
    "validate_client_order_id",
]
