"""Deribit API v2 as documented: every frame and answer the client reads, for ``venues.drift.DriftCollector``.

Rules for this module:
- Written from Deribit's documentation (docs.deribit.com method and subscription reference, OpenAPI 2.1.1
  examples, read 2026-12-06; JSON-RPC API Changelog checked through the release of 2026-05-19, nothing
  later touches these shapes) and nothing else: never from the twin, never from our wire structs. A key
  the documentation lists as optional ("only for options", "present only if true") is listed: the question
  is "is this documented", not "is it always there".
- Maps keyed by a value rather than a name (``delta_total_map`` by index name, ``fees`` by index then kind,
  ``limits``' matching-engine groups, which Deribit extends per tier) are leaves: their keys are data.
- ``frame_kind`` reads a decoded frame: a ``subscription`` notification by its channel, ``heartbeat`` by its
  method, an answer by its ``error`` or, since an answer names no method, by the documented shape of its
  ``result`` (an order, a placement's ``{order, trades}``, an auth grant, ...). An undocumented method or
  channel is None (an unknown event type); an answer whose result is of no shape we read is "answer"
  (only its envelope is checked; the same answer over HTTP is checked in full by ``REST``).
- ``REST`` is keyed by request path (``/api/v2/<method>``), for answers over HTTP and for requests sent on
  the socket (``RequestSpec.stream``: same path, the answer frame as body).

Nothing here opens a socket or reads a clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from venues.drift import Shape

__all__ = ["FRAMES", "REST", "ENUMS", "frame_kind", "CHANNEL_KINDS"]


def _leaves(*keys: str) -> dict[str, Shape | None]:
    return dict.fromkeys(keys)


# -- objects --------------------------------------------------------------------------------------------
# The order object (private/buy|sell|edit ``order``, cancel, get_order_state(_by_label), get_open_orders*,
# user.orders.*, user.changes.* ``orders``). ``max_show`` is in the OpenAPI examples of every order answer.
ORDER: Shape = _leaves(
    "quote", "triggered", "mobile", "app_name", "implv", "refresh_amount", "usd", "oto_order_ids", "api",
    "average_price", "advanced", "order_id", "post_only", "filled_amount", "trigger", "trigger_order_id",
    "direction", "contracts", "is_secondary_oto", "replaced", "mmp_group", "mmp", "last_update_timestamp",
    "creation_timestamp", "cancel_reason", "mmp_cancelled", "quote_id", "order_state", "is_rebalance",
    "reject_post_only", "label", "is_liquidation", "price", "web", "time_in_force", "trigger_reference_price",
    "display_amount", "order_type", "is_primary_otoco", "original_order_type", "block_trade", "trigger_price",
    "oco_ref", "trigger_offset", "quote_set_id", "auto_replaced", "reduce_only", "amount", "risk_reducing",
    "instrument_name", "trigger_fill_condition", "primary_order_id", "max_show",
)
_ALLOCATION: Shape = {"amount": None, "fee": None, "user_id": None,
                      "client_info": _leaves("client_id", "client_link_id", "name")}
# A user trade (private/buy|sell ``trades``, user.trades.*, user.changes.* ``trades``).
USER_TRADE: Shape = {
    **_leaves(
        "trade_id", "tick_direction", "fee_currency", "api", "advanced", "order_id", "liquidity", "post_only",
        "direction", "contracts", "mmp", "fee", "quote_id", "index_price", "label", "block_trade_id", "price",
        "combo_id", "matching_id", "order_type", "profit_loss", "timestamp", "iv", "state", "underlying_price",
        "block_rfq_quote_id", "quote_set_id", "mark_price", "block_rfq_id", "combo_trade_id", "reduce_only",
        "amount", "liquidation", "trade_seq", "risk_reducing", "instrument_name", "legs",
    ),
    "trade_allocations": _ALLOCATION,
}
# A public trade (trades.* rows, public/get_last_trades_by_instrument ``trades``).
PUBLIC_TRADE: Shape = _leaves(
    "trade_seq", "trade_id", "timestamp", "tick_direction", "price", "mark_price", "iv", "instrument_name",
    "index_price", "direction", "amount", "contracts", "liquidation", "block_trade_id", "block_trade_leg_count",
    "block_rfq_id", "combo_id", "combo_trade_id",
)
INSTRUMENT: Shape = {
    **_leaves(
        "tick_size", "taker_commission", "strike", "settlement_period", "settlement_currency", "quote_currency",
        "price_index", "option_type", "min_trade_amount", "max_liquidation_commission", "max_leverage",
        "maker_commission", "kind", "is_active", "instrument_name", "instrument_id", "instrument_type",
        "expiration_timestamp", "creation_timestamp", "counter_currency", "contract_size",
        "block_trade_tick_size", "block_trade_min_trade_amount", "block_trade_commission", "base_currency",
        "state", "future_type", "rfq",
    ),
    "tick_size_steps": _leaves("above_price", "tick_size"),
}
_STATS: Shape = _leaves("volume", "volume_usd", "volume_notional", "price_change", "low", "high")
_GREEKS: Shape = _leaves("delta", "gamma", "rho", "theta", "vega")
# public/ticker and ticker.{instrument}.{interval}; public/get_order_book adds the levels and change_id.
TICKER: Shape = {
    **_leaves(
        "timestamp", "state", "settlement_price", "open_interest", "min_price", "max_price", "mark_price",
        "last_price", "instrument_name", "index_price", "funding_8h", "current_funding", "best_bid_price",
        "best_bid_amount", "best_ask_price", "best_ask_amount", "underlying_price", "underlying_index",
        "interest_rate", "bid_iv", "ask_iv", "mark_iv", "delivery_price", "estimated_delivery_price",
        "interest_value",
    ),
    "stats": _STATS,
    "greeks": _GREEKS,
}
ORDER_BOOK: Shape = {**TICKER, **_leaves("change_id", "bids", "asks")}
# private/get_account_summary (``extended`` adds the user's fields) and user.portfolio.{currency}.
_PORTFOLIO_KEYS = (
    "delta_total_map", "margin_balance", "futures_session_rpl", "options_session_rpl",
    "estimated_liquidation_ratio_map", "session_upl", "estimated_liquidation_ratio", "options_gamma_map",
    "options_vega", "options_value", "available_withdrawal_funds", "projected_delta_total", "maintenance_margin",
    "total_pl", "options_theta_map", "projected_maintenance_margin", "available_funds", "options_delta",
    "balance", "equity", "futures_session_upl", "fee_balance", "currency", "options_session_upl",
    "projected_initial_margin", "options_theta", "portfolio_margining_enabled", "cross_collateral_enabled",
    "margin_model", "options_vega_map", "futures_pl", "options_pl", "initial_margin", "spot_reserve",
    "delta_total", "options_gamma", "session_rpl", "additional_reserve", "total_equity_usd",
    "total_initial_margin_usd", "total_maintenance_margin_usd", "total_margin_balance_usd",
    "total_delta_total_usd", "locked_balance",
)
_USER_KEYS = (
    "email", "system_name", "username", "interuser_transfers_enabled", "id", "type", "creation_timestamp",
    "referrer_id", "login_enabled", "security_keys_enabled", "mmp_enabled", "self_trading_reject_mode",
    "self_trading_extended_to_subaccounts", "block_rfq_self_match_prevention", "limits", "fees",
)
PORTFOLIO: Shape = _leaves(*_PORTFOLIO_KEYS)
ACCOUNT_SUMMARY: Shape = _leaves(*_PORTFOLIO_KEYS, *_USER_KEYS)
ACCOUNT_SUMMARIES: Shape = {**_leaves(*_USER_KEYS), "summaries": ACCOUNT_SUMMARY}
POSITION: Shape = _leaves(
    "average_price", "average_price_usd", "delta", "direction", "estimated_liquidation_price",
    "floating_profit_loss", "floating_profit_loss_usd", "gamma", "index_price", "initial_margin",
    "instrument_name", "interest_value", "kind", "leverage", "maintenance_margin", "mark_price",
    "open_orders_margin", "realized_funding", "realized_profit_loss", "settlement_price", "size",
    "size_currency", "theta", "total_profit_loss", "vega",
)
AUTH: Shape = _leaves("access_token", "expires_in", "refresh_token", "scope", "enabled_features", "token_type",
                      "sid", "state")
_ERROR: Shape = _leaves("code", "message", "data")


def _answer(result: Shape | None) -> Shape:
    """A JSON-RPC answer: the envelope with ``result`` of this shape (None: a leaf: a number, "ok", a list of
    channel names) or an ``error``."""
    return {"jsonrpc": None, "id": None, "result": result, "error": _ERROR, "usIn": None, "usOut": None,
            "usDiff": None, "testnet": None}


def _notification(data: Shape | None) -> Shape:
    return {"jsonrpc": None, "method": None, "params": {"channel": None, "data": data}}


# -- frames ---------------------------------------------------------------------------------------------
# book.{instrument}.{interval}: a snapshot, then changes chained by prev_change_id.
BOOK_DATA: Shape = _leaves("type", "timestamp", "prev_change_id", "instrument_name", "change_id", "bids", "asks")
INSTRUMENT_STATE_DATA: Shape = _leaves("timestamp", "state", "instrument_name")
# incremental_ticker.{instrument}: a ticker "snapshot" first, then "change"s of the keys that changed.
INCREMENTAL_TICKER_DATA: Shape = {**TICKER, "type": None}
# {"method":"heartbeat","params":{"type":"heartbeat"|"test_request"}} after public/set_heartbeat.
HEARTBEAT_PARAMS: Shape = {"type": None}

FRAMES: Mapping[str, Shape] = {
    "book": _notification(BOOK_DATA),
    # book.{instrument}.{group}.{depth}.{interval}: a whole (grouped) book every time.
    "book.grouped": _notification(_leaves("timestamp", "instrument_name", "change_id", "bids", "asks")),
    "trades": _notification(PUBLIC_TRADE),
    "ticker": _notification(TICKER),
    "incremental_ticker": _notification(INCREMENTAL_TICKER_DATA),
    "perpetual": _notification(_leaves("index_price", "interest", "timestamp")),
    "quote": _notification(_leaves("timestamp", "instrument_name", "best_bid_price", "best_bid_amount",
                                   "best_ask_price", "best_ask_amount")),
    "chart.trades": _notification(_leaves("tick", "open", "high", "low", "close", "volume", "cost")),
    "deribit_price_index": _notification(_leaves("index_name", "price", "timestamp")),
    "instrument.state": _notification(INSTRUMENT_STATE_DATA),
    "platform_state": _notification(_leaves("price_index", "locked", "maintenance",
                                            "allow_unauthenticated_public_requests")),
    "user.orders": _notification(ORDER),
    "user.trades": _notification(USER_TRADE),
    "user.changes": _notification({"instrument_name": None, "orders": ORDER, "trades": USER_TRADE,
                                   "positions": POSITION}),
    "user.portfolio": _notification(PORTFOLIO),
    "heartbeat": {"jsonrpc": None, "method": None, "params": HEARTBEAT_PARAMS},
    # Answers on the socket, told apart by their result (see frame_kind).
    "answer": _answer(None),
    "answer/error": _answer(None),
    "answer/auth": _answer(AUTH),
    "answer/placement": _answer({"order": ORDER, "trades": USER_TRADE}),
    "answer/order": _answer(ORDER),
    "answer/orders": _answer(ORDER),
    "answer/version": _answer(_leaves("version")),
}

CHANNEL_KINDS = ("book", "book.grouped", "trades", "ticker", "incremental_ticker", "perpetual", "quote", "chart.trades", "deribit_price_index",
                 "instrument.state", "platform_state", "user.orders", "user.trades", "user.changes",
                 "user.portfolio")


def _channel_kind(channel: str) -> str | None:
    """The documented channel family of ``channel``, None for a channel Deribit does not document."""
    parts = channel.split(".")
    head, n = parts[0], len(parts)
    if head == "book":
        return "book" if n == 3 else "book.grouped" if n == 5 else None
    if head in ("trades", "ticker") and n in (3, 4):
        return head
    if head in ("quote", "incremental_ticker") and n == 2:
        return head
    if head == "perpetual" and n == 3:
        return head
    if head == "chart" and n == 4 and parts[1] == "trades":
        return "chart.trades"
    if head == "deribit_price_index" and n == 2:
        return head
    if head == "instrument" and n == 4 and parts[1] == "state":
        return "instrument.state"
    if channel == "platform_state" or (head == "platform_state" and n == 2):
        return "platform_state"
    if head == "user" and n >= 3:
        kind = f"user.{parts[1]}"
        if kind in ("user.orders", "user.trades", "user.changes") and n in (4, 5):
            return kind
        if kind == "user.portfolio" and n == 3:
            return kind
    return None


def _answer_kind(obj: dict[str, Any]) -> str:
    if "error" in obj:
        return "answer/error"
    result = obj.get("result")
    if isinstance(result, dict):
        if "access_token" in result:
            return "answer/auth"
        if "order" in result and "trades" in result:
            return "answer/placement"
        if "order_id" in result and "order_state" in result:
            return "answer/order"
        if "version" in result:
            return "answer/version"
    if isinstance(result, list) and result and all(isinstance(r, dict) and "order_state" in r for r in result):
        return "answer/orders"
    return "answer"


def frame_kind(stream: str, obj: Any) -> str | None:
    """The documented kind of a decoded Deribit frame (see the module rules); None: undocumented."""
    if not isinstance(obj, dict):
        return None
    method = obj.get("method")
    if method is None:
        return _answer_kind(obj) if ("result" in obj or "error" in obj) else None
    if method == "heartbeat":
        return "heartbeat"
    if method != "subscription":
        return None
    params = obj.get("params")
    channel = params.get("channel") if isinstance(params, dict) else None
    return _channel_kind(channel) if isinstance(channel, str) else None


# -- answers over HTTP (and requests sent on the socket), by path ------------------------------------------
_P = "/api/v2/"
REST: Mapping[str, Shape] = {
    _P + "public/get_time": _answer(None),
    _P + "public/test": _answer(_leaves("version")),
    _P + "public/status": _answer(_leaves("locked", "locked_currencies", "locked_indices")),
    _P + "public/auth": _answer(AUTH),
    _P + "public/get_instruments": _answer(INSTRUMENT),
    _P + "public/get_instrument": _answer(INSTRUMENT),
    _P + "public/get_order_book": _answer(ORDER_BOOK),
    _P + "public/ticker": _answer(TICKER),
    _P + "public/get_last_trades_by_instrument": _answer({"trades": PUBLIC_TRADE, "has_more": None}),
    _P + "public/get_tradingview_chart_data": _answer(_leaves("ticks", "open", "high", "low", "close", "volume",
                                                              "cost", "status")),
    _P + "private/get_account_summary": _answer(ACCOUNT_SUMMARY),
    _P + "private/get_account_summaries": _answer(ACCOUNT_SUMMARIES),
    _P + "private/get_positions": _answer(POSITION),
    _P + "private/buy": _answer({"order": ORDER, "trades": USER_TRADE}),
    _P + "private/sell": _answer({"order": ORDER, "trades": USER_TRADE}),
    _P + "private/edit": _answer({"order": ORDER, "trades": USER_TRADE}),
    _P + "private/cancel": _answer(ORDER),
    _P + "private/cancel_all": _answer(None),
    _P + "private/cancel_by_label": _answer(None),
    _P + "private/get_order_state": _answer(ORDER),
    _P + "private/get_order_state_by_label": _answer(ORDER),
    _P + "private/get_open_orders": _answer(ORDER),
    _P + "private/get_open_orders_by_instrument": _answer(ORDER),
    _P + "private/enable_cancel_on_disconnect": _answer(None),
    _P + "private/disable_cancel_on_disconnect": _answer(None),
    _P + "public/set_heartbeat": _answer(None),
    _P + "public/subscribe": _answer(None),
    _P + "private/subscribe": _answer(None),
}

# -- enumerations --------------------------------------------------------------------------------------------
ORDER_STATES = frozenset({"open", "filled", "rejected", "cancelled", "untriggered", "triggered"})
ORDER_TYPES = frozenset({"limit", "market", "stop_limit", "stop_market", "take_limit", "take_market",
                         "market_limit", "trailing_stop"})
TIME_IN_FORCE = frozenset({"good_til_cancelled", "good_til_day", "fill_or_kill", "immediate_or_cancel"})
DIRECTIONS = frozenset({"buy", "sell"})
# The order book lifecycle of the release of 2026-01-13 (get_instrument(s), get_order_book, ticker,
# instrument.state.*): it replaced created / started / settled / closed / deactivated / terminated.
BOOK_STATES = frozenset({"open", "locked", "settlement", "delivered", "inactive", "halted", "archivized"})
CANCEL_REASONS = frozenset({
    "user_request", "autoliquidation", "cancel_on_disconnect", "risk_mitigation", "pme_risk_reduction",
    "pme_account_locked", "position_locked", "mmp_trigger", "mmp_config_curtailment", "edit_post_only_reject",
    "oco_other_closed", "oto_primary_closed", "settlement",
})
KINDS = frozenset({"future", "option", "spot", "future_combo", "option_combo"})
_ORDER_ENUMS = {"order_state": ORDER_STATES, "order_type": ORDER_TYPES, "time_in_force": TIME_IN_FORCE,
                "direction": DIRECTIONS, "cancel_reason": CANCEL_REASONS}
_TRADE_ENUMS = {"state": ORDER_STATES | {"archive"}, "order_type": frozenset({"limit", "market", "liquidation"}),
                "direction": DIRECTIONS, "liquidity": frozenset({"M", "T"})}
_BY_SHAPE: dict[int, dict[str, frozenset[str]]] = {
    id(ORDER): _ORDER_ENUMS,
    id(USER_TRADE): _TRADE_ENUMS,
    id(PUBLIC_TRADE): {"direction": DIRECTIONS},
    id(INSTRUMENT): {"state": BOOK_STATES, "kind": KINDS},
    id(TICKER): {"state": BOOK_STATES},
    id(ORDER_BOOK): {"state": BOOK_STATES},
    id(POSITION): {"direction": DIRECTIONS | {"zero"}, "kind": KINDS},
    id(INSTRUMENT_STATE_DATA): {"state": BOOK_STATES},
    id(BOOK_DATA): {"type": frozenset({"snapshot", "change"})},
    id(INCREMENTAL_TICKER_DATA): {"type": frozenset({"snapshot", "change"}), "state": BOOK_STATES},
    id(HEARTBEAT_PARAMS): {"type": frozenset({"heartbeat", "test_request"})},
}


def _enums(shape: Shape, kind: str, path: str, out: dict[str, frozenset[str]]) -> None:
    for key, values in _BY_SHAPE.get(id(shape), {}).items():
        out[f"{kind}/{path}{key}"] = values
    for key, sub in shape.items():
        if sub is not None:
            _enums(sub, kind, f"{path}{key}.", out)


def _all_enums() -> dict[str, frozenset[str]]:
    out: dict[str, frozenset[str]] = {}
    for kind, shape in (*FRAMES.items(), *REST.items()):
        _enums(shape, kind, "", out)
    return out


ENUMS: Mapping[str, frozenset[str]] = _all_enums()
"""``"<kind or path>/<dotted key>"`` -> documented values (order state, order type, direction, time in force,
book (instrument) state, cancel reason, kind, liquidity, book notification type, heartbeat type)."""
