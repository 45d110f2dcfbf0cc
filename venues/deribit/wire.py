"""Deribit API v2 wire structs: shaped exactly like the venue's JSON-RPC 2.0 payloads.

Rules for this module:
- Field names are Deribit's own; only the fields crossbook uses are declared (msgspec skips the rest).
- Market data uses floats (``strict=False`` decoders also accept numeric strings); order and account
  fields use Decimal, decoded straight from the JSON number text.
- ``array_like=True`` only where Deribit sends arrays: book levels ``["new", price, amount]`` and
  ``[price, amount]``.
- Decoders are built once, here, at import time. Wire structs have no methods and never reach the bus.

Every WebSocket frame is one of:
- a notification ``{"jsonrpc":"2.0","method":"subscription","params":{"channel":..,"data":..}}``,
- a heartbeat ``{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"heartbeat"|"test_request"}}``,
- a response ``{"jsonrpc":"2.0","id":N,"result":..}`` or ``{"jsonrpc":"2.0","id":N,"error":{..}}``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Generic, TypeVar

import msgspec

__all__ = [
    "RpcError",
    "Envelope",
    "EnvelopeParams",
    "BookLevel",
    "PriceLevel",
    "BookChange",
    "GroupedBook",
    "TopOfBook",
    "PublicTrade",
    "Candle",
    "Order",
    "UserTrade",
    "PositionWire",
    "Portfolio",
    "Changes",
    "InstrumentWire",
    "InstrumentState",
    "OrderBookResult",
    "ChartData",
    "LastTrades",
    "PlatformStatus",
    "PlaceResult",
    "AuthResult",
    "AccountSummaries",
    "Notification",
    "RpcResponse",
    "ErrorEnvelope",
    "ENVELOPE",
    "ERROR_ENVELOPE",
    "NO_RAW",
]

T = TypeVar("T")

NO_RAW = msgspec.Raw(b"")
"""Default for Raw fields: an empty Raw means "the key was absent" (``null`` arrives as Raw(b"null"))."""


# -- JSON-RPC envelope ------------------------------------------------------------------------------
class RpcError(msgspec.Struct):
    code: int  # Deribit error code, e.g. 10028 too_many_requests, 13009 unauthorized
    message: str  # the short error name, e.g. "not_enough_funds"
    data: msgspec.Raw = NO_RAW  # optional details, e.g. {"reason": "...", "param": "price"}


class EnvelopeParams(msgspec.Struct):
    channel: str = ""  # subscription channel, e.g. "book.BTC-PERPETUAL.100ms"
    data: msgspec.Raw = NO_RAW  # the channel's payload, decoded later with the channel's decoder
    type: str = ""  # heartbeat kind: "heartbeat" or "test_request"


class Envelope(msgspec.Struct):
    """Any frame, decoded shallowly: payloads stay Raw until their type is known."""

    id: int | str | None = None  # the request id we allocated (responses only)
    method: str = ""  # "subscription" or "heartbeat" for server-initiated frames
    params: EnvelopeParams | None = None
    result: msgspec.Raw = NO_RAW
    error: RpcError | None = None


class ErrorEnvelope(msgspec.Struct):
    """Just the error part of a REST answer (used when the HTTP status says something went wrong)."""

    error: RpcError | None = None


class RpcResponse(msgspec.Struct, Generic[T]):
    """A JSON-RPC response with a typed result (REST answers)."""

    result: T | None = None
    error: RpcError | None = None
    id: int | str | None = None


class _Params(msgspec.Struct, Generic[T], gc=False):
    channel: str
    data: T


class Notification(msgspec.Struct, Generic[T], gc=False):
    """A whole subscription frame with a typed payload: one decode per frame on the hot path."""

    params: _Params[T]


# -- market data ------------------------------------------------------------------------------------
BookLevel = tuple[str, float, float]
"""One level of book.{instrument}.{interval}: ``["new"|"change"|"delete", price, amount]`` (amount is 0
with "delete"; USD for inverse futures, base coin for linear and options). A plain tuple: it goes
straight into ``L2Book.apply_tagged`` without a conversion pass."""


class PriceLevel(msgspec.Struct, array_like=True):
    """One level of a grouped book or a REST book: ``[price, amount]``."""

    price: float
    amount: float


# gc=False on the book structs: decoded JSON cannot form cycles; untracked structs decode ~10 % faster.
class BookChange(msgspec.Struct, gc=False):
    """book.{instrument}.{raw|100ms|agg2}: first a "snapshot", then "change"s chained by change ids."""

    type: str  # "snapshot" or "change"
    timestamp: int  # ms
    instrument_name: str
    change_id: int
    bids: list[BookLevel]
    asks: list[BookLevel]
    prev_change_id: int = -1  # absent on snapshots; must equal the previous change_id otherwise


class GroupedBook(msgspec.Struct):
    """book.{instrument}.{group}.{depth}.{interval}: a full snapshot every time."""

    timestamp: int  # ms
    instrument_name: str
    change_id: int
    bids: list[PriceLevel]
    asks: list[PriceLevel]


class TopOfBook(msgspec.Struct):
    """The best-bid/ask fields shared by ticker.{instrument}.{interval} and quote.{instrument}."""

    timestamp: int  # ms
    instrument_name: str
    best_bid_price: float | None = None  # null or 0 when that side is empty
    best_bid_amount: float = 0.0
    best_ask_price: float | None = None
    best_ask_amount: float = 0.0


class PublicTrade(msgspec.Struct):
    """One element of trades.{instrument}.{interval} and public/get_last_trades_by_instrument."""

    trade_id: str
    instrument_name: str
    timestamp: int  # ms
    price: float
    amount: float
    direction: str  # "buy" or "sell": the taker's side


class Candle(msgspec.Struct):
    """chart.trades.{instrument}.{resolution}: the current candle, resent as it changes."""

    tick: int  # candle open time, ms
    open: float
    high: float
    low: float
    close: float
    volume: float  # in base currency
    cost: float = 0.0  # in quote currency (USD for inverse)


# -- private ----------------------------------------------------------------------------------------
class Order(msgspec.Struct):
    """An order as user.orders.*, user.changes.* and the private/* order methods send it."""

    order_id: str
    order_state: str  # open, untriggered, triggered, filled, cancelled, rejected (see codes.py)
    instrument_name: str
    direction: str  # "buy" or "sell"
    amount: Decimal  # USD for inverse futures, base coin otherwise
    order_type: str  # limit, market, stop_limit, stop_market, take_limit, take_market, trailing_stop...
    last_update_timestamp: int  # ms
    price: msgspec.Raw = NO_RAW  # a number, or the string "market_price" for trigger market orders
    filled_amount: Decimal = Decimal(0)  # absent on untriggered orders
    average_price: Decimal | None = None
    label: str = ""  # our client order id ("" when none)
    reduce_only: bool = False
    post_only: bool = False
    time_in_force: str = ""  # good_til_cancelled, good_til_day, fill_or_kill, immediate_or_cancel
    cancel_reason: str = ""  # user_request, cancel_on_disconnect, mmp_trigger, settlement, ...


class UserTrade(msgspec.Struct):
    """One of our executions (user.trades.*, user.changes.*, private/buy's ``trades``)."""

    trade_id: str
    order_id: str
    instrument_name: str
    timestamp: int  # ms
    direction: str
    price: Decimal
    amount: Decimal
    fee: Decimal = Decimal(0)
    fee_currency: str = ""
    liquidity: str = ""  # "M" maker, "T" taker
    label: str = ""


class PositionWire(msgspec.Struct):
    """private/get_positions element and user.changes.* ``positions`` element."""

    instrument_name: str
    direction: str  # "buy", "sell" or "zero"
    size: Decimal  # signed: negative when short; USD for inverse futures
    average_price: Decimal = Decimal(0)
    floating_profit_loss: Decimal = Decimal(0)
    leverage: Decimal | None = None
    estimated_liquidation_price: Decimal | None = None


class Portfolio(msgspec.Struct):
    """user.portfolio.{currency} data and private/get_account_summary(ies) entries.

    Deribit books futures PnL into ``balance`` at the daily settlement (08:00 UTC); between settlements it
    sits in ``session_upl`` / ``session_rpl``: margin_balance = balance + futures_session_upl +
    futures_session_rpl, available_funds = margin_balance - initial_margin (the OpenAPI 2.1.1 example).
    """

    currency: str
    balance: Decimal  # cash balance: no unrealised PnL (nor the session's realised PnL before settlement)
    available_funds: Decimal  # margin balance less initial margin: what can open new positions
    equity: Decimal = Decimal(0)  # margin balance + options value
    session_upl: Decimal = Decimal(0)  # unrealised PnL since the last settlement (futures + options)


class Changes(msgspec.Struct):
    """user.changes.{instrument|kind.currency}.{interval}: orders, trades and positions together."""

    trades: list[UserTrade] = []
    positions: list[PositionWire] = []
    orders: list[Order] = []


# -- REST results -----------------------------------------------------------------------------------
class InstrumentWire(msgspec.Struct):
    """public/get_instruments element and public/get_instrument result."""

    instrument_name: str
    kind: str  # future, option, spot, future_combo, option_combo
    base_currency: str
    quote_currency: str
    tick_size: Decimal
    contract_size: Decimal  # inverse futures: USD per contract (10); linear: base per contract
    min_trade_amount: Decimal
    counter_currency: str = ""
    settlement_currency: str = ""  # absent in the 2021 capture of BTC-PERPETUAL
    settlement_period: str = ""  # "perpetual", "month", "week", "day"
    instrument_type: str = ""  # "reversed" (inverse) or "linear" (current API)
    future_type: str = ""  # older name of instrument_type
    is_active: bool = True
    state: str = ""  # book lifecycle (2026-01-13): open, locked, settlement, delivered, inactive, halted, archivized
    expiration_timestamp: int = 0  # ms
    option_type: str = ""  # "call" or "put"
    strike: Decimal | None = None


class InstrumentState(msgspec.Struct):
    """instrument.state.{kind}.{currency} data: an instrument's book moved to ``state``."""

    instrument_name: str
    state: str
    timestamp: int = 0  # ms


class OrderBookResult(msgspec.Struct):
    """public/get_order_book result; ``change_id`` lines it up with the book.* stream."""

    instrument_name: str
    timestamp: int
    change_id: int
    bids: list[PriceLevel]
    asks: list[PriceLevel]


class ChartData(msgspec.Struct):
    """public/get_tradingview_chart_data result: candles as parallel arrays."""

    ticks: list[int]  # open times, ms
    open: list[float]
    high: list[float]
    low: list[float]
    close: list[float]
    volume: list[float]
    status: str = "ok"  # "ok" or "no_data"


class LastTrades(msgspec.Struct):
    trades: list[PublicTrade]
    has_more: bool = False


class PlatformStatus(msgspec.Struct, frozen=True):
    """public/status result. ``locked`` is a bool in older answers, "true"/"partial"/"false" in newer ones."""

    locked: bool | str = False
    locked_currencies: list[str] = []


class PlaceResult(msgspec.Struct):
    """private/buy, private/sell and private/edit result."""

    order: Order
    trades: list[UserTrade] = []


class AuthResult(msgspec.Struct):
    """public/auth result. Tokens are secrets: never log this struct."""

    access_token: str
    refresh_token: str
    expires_in: int  # seconds
    scope: str = ""
    token_type: str = "bearer"


class MarginModel(msgspec.Struct):
    """The margin keys of a private/get_account_summary result (the doctor's read of the account's settings)."""

    currency: str = ""
    margin_model: str = ""  # cross_pm, cross_sm, segregated_pm, segregated_sm (private/change_margin_model)
    portfolio_margining_enabled: bool | None = None
    cross_collateral_enabled: bool | None = None


class AccountSummaries(msgspec.Struct):
    """private/get_account_summaries result."""

    summaries: list[Portfolio]


ENVELOPE = msgspec.json.Decoder(Envelope)
ERROR_ENVELOPE = msgspec.json.Decoder(ErrorEnvelope)
