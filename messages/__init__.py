"""Typed messages: everything that travels on the bus.

The bus union ``BusMessage`` lists every concrete message; ``json_decoder``/``msgpack_decoder`` decode any
of them by the ``type`` tag, and ``encode_json``/``encode_msgpack`` encode them. Decoders are built once.
"""

from __future__ import annotations

from typing import Union

import msgspec

from messages.account import AccountView, Balance, Exposure, GetAccount, Position, VenueAccount
from messages.aggregate import ArbOpportunity, ArbPhase, BestBidAsk, Exclusion, ExclusionReason
from messages.base import (
    TERMINAL_STATUSES,
    BookState,
    CircuitState,
    ClientOrderId,
    ContractType,
    HealthStatus,
    InstrumentId,
    InstrumentKind,
    Message,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    Venue,
    VenueOrderId,
)
from messages.commands import (
    GetBalances,
    GetOpenOrders,
    GetPositions,
    HealthCheck,
    HealthReport,
    SubscribeMarketData,
)
from messages.control import (
    ActorFailed,
    ActorGaveUp,
    ActorRestarted,
    ActorStarted,
    ActorStopped,
    BookIntegrity,
    CircuitChanged,
    Failover,
    MailboxOverflow,
    RateLimited,
    SignalKind,
    VenueHealth,
    VenueSignal,
)
from messages.instruments import Instrument
from messages.market import BookDelta, BookSnapshot, Kline, Level, Quote, Trade
from messages.orders import (
    CancelOrder,
    Fill,
    OrderIntent,
    OrderRejected,
    OrdersAtRisk,
    OrderUpdate,
    PlaceOrder,
    QueryOrder,
)

BusMessage = Union[  # noqa: UP007 - a runtime Union object is what msgspec decoders take
    Instrument,
    Quote,
    Trade,
    BookSnapshot,
    BookDelta,
    Kline,
    Balance,
    Position,
    AccountView,
    GetAccount,
    VenueAccount,
    OrderIntent,
    PlaceOrder,
    CancelOrder,
    QueryOrder,
    OrderUpdate,
    OrderRejected,
    OrdersAtRisk,
    Fill,
    ActorStarted,
    ActorFailed,
    ActorRestarted,
    ActorGaveUp,
    ActorStopped,
    VenueHealth,
    CircuitChanged,
    Failover,
    BookIntegrity,
    MailboxOverflow,
    RateLimited,
    BestBidAsk,
    ArbOpportunity,
    GetBalances,
    GetPositions,
    GetOpenOrders,
    HealthCheck,
    HealthReport,
    SubscribeMarketData,
    VenueSignal,
]

BUS_TYPES: tuple[type[Message], ...] = BusMessage.__args__  # type: ignore[attr-defined]

json_decoder: msgspec.json.Decoder[BusMessage] = msgspec.json.Decoder(BusMessage)
msgpack_decoder: msgspec.msgpack.Decoder[BusMessage] = msgspec.msgpack.Decoder(BusMessage)
_json_encoder = msgspec.json.Encoder()
_msgpack_encoder = msgspec.msgpack.Encoder()
encode_json = _json_encoder.encode
encode_msgpack = _msgpack_encoder.encode

__all__ = [
    "BUS_TYPES",
    "BusMessage",
    "json_decoder",
    "msgpack_decoder",
    "encode_json",
    "encode_msgpack",
    "Message",
    "Venue",
    "Side",
    "OrderType",
    "TimeInForce",
    "OrderStatus",
    "TERMINAL_STATUSES",
    "CircuitState",
    "HealthStatus",
    "BookState",
    "ContractType",
    "InstrumentKind",
    "InstrumentId",
    "ClientOrderId",
    "VenueOrderId",
    "Instrument",
    "Level",
    "Quote",
    "Trade",
    "BookSnapshot",
    "BookDelta",
    "Kline",
    "Balance",
    "Position",
    "Exposure",
    "AccountView",
    "GetAccount",
    "VenueAccount",
    "OrderIntent",
    "PlaceOrder",
    "CancelOrder",
    "QueryOrder",
    "OrderUpdate",
    "OrderRejected",
    "OrdersAtRisk",
    "Fill",
    "ActorStarted",
    "ActorFailed",
    "ActorRestarted",
    "ActorGaveUp",
    "ActorStopped",
    "VenueHealth",
    "CircuitChanged",
    "Failover",
    "BookIntegrity",
    "MailboxOverflow",
    "RateLimited",
    "BestBidAsk",
    "ArbOpportunity",
    "ArbPhase",
    "Exclusion",
    "ExclusionReason",
    "GetBalances",
    "GetPositions",
    "GetOpenOrders",
    "HealthCheck",
    "HealthReport",
    "SubscribeMarketData",
    "SignalKind",
    "VenueSignal",
]
