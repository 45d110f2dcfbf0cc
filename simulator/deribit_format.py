"""Deribit v2 JSON payload builders: instruments, orders, trades, positions, books, tickers, summaries.

Invariants:
- Every price, amount and money value is a JSON number (Deribit prints no numeric strings); ids of orders
  and trades are strings; timestamps are integer epoch milliseconds; booleans are JSON booleans.
- Key sets follow shared/fixtures/wire/deribit per context: a ``private/buy`` order carries ``web`` and
  ``replaced``, ``get_order_state`` / open-order rows do not, ``user.orders`` adds ``replaced`` (and
  ``original_order_type`` for market orders); ``user.changes`` positions omit the two margin-estimate keys.
- Amount units: USD for inverse perpetuals (``BTC-PERPETUAL``), base coin for linear USDC perpetuals.
- Pure functions of their arguments: no clock, no I/O, no randomness.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from simulator.book import Level, Side
from simulator.instruments import InstrumentSpec
from simulator.matching import Order, OrderStatus, OrderType, TimeInForce

__all__ = [
    "DeribitInstrument", "deribit_instruments", "num", "instrument_json", "order_json", "order_state",
    "trade_json", "public_trade_json", "position_json", "book_levels", "grouped_levels", "portfolio_json",
    "extended_fields", "currency_json", "TIF_TO_DERIBIT", "TIF_FROM_DERIBIT", "format_order_id",
    "parse_order_id", "format_trade_id",
]

TIF_TO_DERIBIT = {
    TimeInForce.GTC: "good_til_cancelled", TimeInForce.IOC: "immediate_or_cancel",
    TimeInForce.FOK: "fill_or_kill", TimeInForce.POST_ONLY: "good_til_cancelled",
}
TIF_FROM_DERIBIT = {
    "good_til_cancelled": TimeInForce.GTC, "good_til_day": TimeInForce.GTC,
    "immediate_or_cancel": TimeInForce.IOC, "fill_or_kill": TimeInForce.FOK,
}
_PERPETUAL_EXPIRY = 32503708800000  # Deribit's "never" (3000-01-01) for perpetuals
_PRIVATE_TRADE_OFFSET = 900_000_000  # keeps private trade ids apart from the public tape's


# (tick, contract size in USD, min amount in USD) of the inverse perpetuals, as listed on the venue.
_INVERSE: dict[str, tuple[str, str, str]] = {"BTC": ("0.5", "10", "10"), "ETH": ("0.05", "1", "1")}
# (tick, contract size = min amount in coin) of the linear USDC perpetuals.
_LINEAR: dict[str, tuple[str, str]] = {
    "BTC": ("1", "0.001"), "ETH": ("0.1", "0.001"), "SOL": ("0.01", "0.1"), "XRP": ("0.0001", "1"),
    "DOGE": ("0.00001", "10"), "BNB": ("0.01", "0.01"),
}


@dataclass(frozen=True, slots=True)
class DeribitInstrument:
    """How Deribit lists one perpetual; ``spec`` is what the shared model and engine use.

    ``currency`` is the value of ``get_instruments``' ``currency`` parameter that lists the instrument
    (``BTC`` for ``BTC-PERPETUAL``, ``USDC`` for ``BTC_USDC-PERPETUAL``).
    """

    spec: InstrumentSpec
    name: str
    inverse: bool
    contract_size: Decimal
    min_trade_amount: Decimal
    base: str
    counter: str
    settle: str
    currency: str
    instrument_id: int
    creation_ms: int

    @property
    def price_index(self) -> str:
        return f"{self.base.lower()}_{self.counter.lower()}"


def deribit_instruments(underlyings: Iterable[str]) -> list[DeribitInstrument]:
    """The inverse ``<U>-PERPETUAL`` (BTC, ETH) and linear ``<U>_USDC-PERPETUAL`` of each underlying."""
    out: list[DeribitInstrument] = []
    for i, u in enumerate(underlyings):
        if u in _INVERSE:
            tick, cs, min_amt = _INVERSE[u]
            name = f"{u}-PERPETUAL"
            spec = InstrumentSpec(name, u, "USD", Decimal(tick), Decimal(cs), Decimal(1), inverse=True,
                                  min_qty=Decimal(min_amt), settle=u)
            out.append(DeribitInstrument(spec, name, True, Decimal(cs), Decimal(min_amt), u, "USD", u, u,
                                         124972 + 100 * i, 1534242287000))
        tick, cs = _LINEAR.get(u, ("0.01", "0.01"))
        name = f"{u}_USDC-PERPETUAL"
        spec = InstrumentSpec(name, u, "USDC", Decimal(tick), Decimal(cs), Decimal(1), settle="USDC")
        out.append(DeribitInstrument(spec, name, False, Decimal(cs), Decimal(cs), u, "USDC", "USDC", "USDC",
                                     211704 + 100 * i, 1646824342000))
    return out


def num(value: Decimal | float | int) -> float:
    """A JSON number as Deribit prints it (Decimal -> float; exact for tick/lot multiples)."""
    return float(value)


def _r(value: Decimal, places: int = 8) -> float:
    return float(round(value, places))


def format_order_id(inst: DeribitInstrument, order_id: int) -> str:
    """``"4000000001"`` for BTC-settled instruments, ``"ETH-4000000001"`` / ``"USDC-..."`` otherwise."""
    return str(order_id) if inst.settle == "BTC" else f"{inst.settle}-{order_id}"


def parse_order_id(raw: str) -> int | None:
    """The engine id inside a Deribit order id, or None if it is not one of ours."""
    tail = raw.rpartition("-")[2]
    return int(tail) if tail.isdigit() else None


def format_trade_id(inst: DeribitInstrument, trade_id: int, private: bool) -> str:
    tid = trade_id + (_PRIVATE_TRADE_OFFSET if private else 0)
    return str(tid) if inst.settle == "BTC" else f"{inst.settle}-{tid}"


def instrument_json(inst: DeribitInstrument, maker: Decimal, taker: Decimal, state: str = "open") -> dict[str, Any]:
    """One ``get_instruments`` element (OpenAPI example keys plus ``future_type`` / ``rfq`` as captured);
    ``state`` is the book's lifecycle state (Deribit release of 2026-01-13)."""
    kind_type = "reversed" if inst.inverse else "linear"
    return {
        "tick_size": num(inst.spec.tick), "tick_size_steps": [], "taker_commission": num(taker),
        "settlement_period": "perpetual", "settlement_currency": inst.settle,
        "quote_currency": inst.counter, "price_index": inst.price_index,
        "min_trade_amount": num(inst.min_trade_amount), "max_liquidation_commission": 0.0075,
        "max_leverage": 50 if inst.inverse else 25, "maker_commission": num(maker), "kind": "future",
        "rfq": False, "is_active": state == "open", "instrument_name": inst.name, "instrument_id": inst.instrument_id,
        "instrument_type": kind_type, "future_type": kind_type, "expiration_timestamp": _PERPETUAL_EXPIRY,
        "creation_timestamp": inst.creation_ms, "counter_currency": inst.counter,
        "contract_size": num(inst.contract_size), "block_trade_tick_size": 0.01,
        "block_trade_min_trade_amount": 200000 if inst.inverse else 25, "block_trade_commission": 0.00025,
        "base_currency": inst.base, "state": state,
    }


def currency_json(currency: str) -> dict[str, Any]:
    """One ``public/get_currencies`` element."""
    long_names = {"BTC": "Bitcoin", "ETH": "Ethereum", "USDC": "USD Coin"}
    return {
        "withdrawal_priorities": [], "withdrawal_fee": 0.0001, "min_withdrawal_fee": 0.0001,
        "min_confirmations": 1, "fee_precision": 4, "currency_long": long_names.get(currency, currency),
        "currency": currency, "coin_type": "ERC20" if currency == "USDC" else currency.upper(),
        "apr": 0.0, "network_fee": 1.5e-05, "in_cross_collateral_pool": True,
    }


def order_state(o: Order) -> str:
    """Deribit ``order_state``: open (also partially filled), filled, cancelled."""
    if o.status.is_open:
        return "open"
    return "filled" if o.status is OrderStatus.FILLED else "cancelled"


def order_json(inst: DeribitInstrument, o: Order, label: str, *, context: str, replaced: bool = False,
               cancel_reason: str = "user_request") -> dict[str, Any]:
    """An order object; ``context`` is ``buy`` (buy/sell/edit/cancel), ``state`` (get_order_state, open
    orders) or ``stream`` (user.orders / user.changes); a cancelled order carries ``cancel_reason``
    (``user_request``, ``cancel_on_disconnect``, ...)."""
    price: float | str = num(o.price) if o.price is not None else num(o.avg_price)
    out: dict[str, Any] = {}
    if context == "buy":
        out["web"] = False
    out |= {"time_in_force": "good_til_cancelled" if o.type is OrderType.MARKET else TIF_TO_DERIBIT[o.tif]}
    if context in ("buy", "stream"):
        out["replaced"] = replaced
    out |= {"reduce_only": o.reduce_only, "price": price, "post_only": o.tif is TimeInForce.POST_ONLY}
    if context == "stream" and o.type is OrderType.MARKET:
        out["original_order_type"] = "market"
    out |= {
        "order_type": o.type.value.lower(), "order_state": order_state(o), "order_id": format_order_id(inst, o.order_id),
        "max_show": num(o.qty), "last_update_timestamp": o.updated_ms, "label": label, "is_rebalance": False,
        "is_liquidation": False, "instrument_name": inst.name, "filled_amount": num(o.filled),
        "direction": o.side.value.lower(), "creation_timestamp": o.created_ms, "average_price": num(o.avg_price),
        "api": True, "amount": num(o.qty),
    }
    if o.status is OrderStatus.CANCELED:
        out["cancel_reason"] = cancel_reason
    return out


def trade_json(inst: DeribitInstrument, *, trade_id: int, seq: int, ts: int, tick_direction: int, o: Order,
               price: Decimal, amount: Decimal, fee: Decimal, maker: bool, mark: Decimal, index: float,
               profit_loss: Decimal | None = None, label: str = "") -> dict[str, Any]:
    """A private trade (``private/buy`` ``trades``, ``user.trades``; ``user.changes`` adds profit_loss).

    ``label`` is the order's label (our client order id); Deribit includes it on trades of labelled orders.
    """
    out: dict[str, Any] = {
        "trade_seq": seq, "trade_id": format_trade_id(inst, trade_id, True), "timestamp": ts,
        "tick_direction": tick_direction, "state": order_state(o), "reduce_only": o.reduce_only,
    }
    if profit_loss is not None:
        out["profit_loss"] = _r(profit_loss)
    out |= {
        "price": num(price), "post_only": o.tif is TimeInForce.POST_ONLY, "order_type": o.type.value.lower(),
        "order_id": format_order_id(inst, o.order_id), "matching_id": None, "mark_price": _r(mark, 4),
        "liquidity": "M" if maker else "T", "instrument_name": inst.name, "index_price": index,
        "fee_currency": inst.settle, "fee": _r(fee), "direction": o.side.value.lower(), "amount": num(amount),
    }
    if label:
        out["label"] = label
    return out


def public_trade_json(inst: DeribitInstrument, *, trade_id: int, ts: int, tick_direction: int, price: Decimal,
                      amount: Decimal, taker: Side, mark: Decimal, index: float, rest: bool) -> dict[str, Any]:
    """A public trade (``trades.*`` channel; REST rows add ``contracts``)."""
    out: dict[str, Any] = {
        "trade_seq": trade_id, "trade_id": format_trade_id(inst, trade_id, False), "timestamp": ts,
        "tick_direction": tick_direction, "price": num(price), "mark_price": _r(mark, 4),
        "instrument_name": inst.name, "index_price": index, "direction": taker.value.lower(), "amount": num(amount),
    }
    if rest:
        out["contracts"] = num(amount / inst.contract_size)
    return out


def position_json(inst: DeribitInstrument, *, qty: Decimal, entry: Decimal, mark: Decimal, index: float,
                  upnl: Decimal, rpnl: Decimal, leverage: int, open_orders_margin: Decimal,
                  stream: bool) -> dict[str, Any]:
    """A position (``get_positions`` row; ``user.changes`` rows omit the margin-estimate keys)."""
    size_currency = qty / mark if inst.inverse and mark else qty
    notional = abs(size_currency) if inst.inverse else abs(qty) * mark
    im = notional / leverage
    out: dict[str, Any] = {
        "average_price": _r(entry, 4), "delta": _r(size_currency, 9),
        "direction": "buy" if qty > 0 else "sell" if qty < 0 else "zero",
    }
    if not stream:
        liq = entry * (Decimal(1) - Decimal(1) / leverage if qty > 0 else Decimal(1) + Decimal(1) / leverage)
        out["estimated_liquidation_price"] = _r(liq, 2) if qty else None
    out |= {
        "floating_profit_loss": _r(upnl, 9), "index_price": index, "initial_margin": _r(im, 9),
        "instrument_name": inst.name, "interest_value": 0.0, "kind": "future", "leverage": leverage,
        "maintenance_margin": _r(im / 2, 9), "mark_price": _r(mark, 4),
    }
    if not stream:
        out["open_orders_margin"] = _r(open_orders_margin, 9)
    out |= {
        "realized_funding": 0.0, "realized_profit_loss": _r(rpnl, 9), "settlement_price": _r(mark, 4),
        "size": num(qty), "size_currency": _r(size_currency, 9), "total_profit_loss": _r(upnl + rpnl, 9),
    }
    return out


def book_levels(rows: list[Level]) -> list[list[float]]:
    """``[[price, amount], ...]`` as numbers (REST book, grouped channel)."""
    return [[num(p), num(s)] for p, s in rows]


def grouped_levels(rows: list[Level], group: Decimal | None, side: Side, depth: int) -> list[list[float]]:
    """Levels summed into ``group``-wide buckets (bids rounded down, asks up), best first, ``depth`` kept."""
    if group is None:
        return book_levels(rows[:depth])
    buckets: dict[Decimal, Decimal] = {}
    order: list[Decimal] = []
    for price, size in rows:
        units = (price / group).to_integral_value(rounding="ROUND_FLOOR" if side is Side.BUY else "ROUND_CEILING")
        key = units * group
        if key not in buckets:
            if len(order) == depth:
                break
            order.append(key)
            buckets[key] = Decimal(0)
        buckets[key] += size
    return [[num(k), num(buckets[k])] for k in order]


def portfolio_json(currency: str, *, balance: Decimal, upnl: Decimal, rpnl: Decimal, im: Decimal,
                   open_orders_margin: Decimal, delta: Decimal) -> dict[str, Any]:
    """``user.portfolio.{currency}`` data (also the non-extended core of ``get_account_summary``).

    Deribit's arithmetic (OpenAPI 2.1.1 example: 302.60065765 + 0.05921555 - 0.03258105 = 302.62729214):
    futures PnL reaches ``balance`` only at the daily settlement, so within a session ``balance`` is the
    cash less nothing but fees, ``margin_balance`` = balance + session upl + session rpl, ``equity`` =
    margin_balance + options value (none here), ``available_funds`` = margin_balance - initial margin
    (positions and open orders), ``available_withdrawal_funds`` = balance - initial margin. The twin's
    session never settles: ``balance`` is the engine's wallet (fees and realised PnL moved) less ``rpnl``.

    Args:
        balance: The engine's wallet of ``currency`` (realised PnL and fees already in it).
        upnl, rpnl: Unrealised and realised PnL of the positions settled in ``currency``.
        im, open_orders_margin: Initial margin of the positions and of the open orders.
        delta: Net delta in ``currency``.
    """
    cash = balance - rpnl
    margin_balance = cash + upnl + rpnl
    initial = im + open_orders_margin
    mm = im / 2
    avail = margin_balance - initial
    index = f"{currency.lower()}_usd"
    return {
        "delta_total_map": {index: _r(delta, 9)} if delta else {}, "margin_balance": _r(margin_balance),
        "futures_session_rpl": _r(rpnl), "options_session_rpl": 0.0, "estimated_liquidation_ratio_map": {},
        "session_upl": _r(upnl), "estimated_liquidation_ratio": 0.0, "options_gamma_map": {}, "options_vega": 0.0,
        "options_value": 0.0, "available_withdrawal_funds": _r(max(cash - initial, Decimal(0))),
        "projected_delta_total": _r(delta, 9), "maintenance_margin": _r(mm), "total_pl": _r(upnl + rpnl),
        "options_theta_map": {}, "projected_maintenance_margin": _r(mm), "available_funds": _r(avail),
        "options_delta": 0.0, "balance": _r(cash), "equity": _r(margin_balance), "futures_session_upl": _r(upnl),
        "fee_balance": 0.0, "currency": currency, "options_session_upl": 0.0,
        "projected_initial_margin": _r(initial), "options_theta": 0.0,
        "portfolio_margining_enabled": False, "cross_collateral_enabled": False, "margin_model": "segregated_sm",
        "options_vega_map": {}, "futures_pl": _r(upnl + rpnl), "options_pl": 0.0,
        "initial_margin": _r(initial), "spot_reserve": 0.0, "delta_total": _r(delta, 9),
        "options_gamma": 0.0, "session_rpl": _r(rpnl), "additional_reserve": 0.0,
    }


def extended_fields(account_id: int, created_ms: int, maker: Decimal, taker: Decimal) -> dict[str, Any]:
    """Keys ``get_account_summary`` adds with ``extended=true`` (user, limits, fee table)."""
    fee = {"default": {"type": "fixed", "taker": num(taker), "maker": num(maker)}, "block_trade": 0.3}
    return {
        "email": "twin@crossbook.invalid", "system_name": "crossbook", "username": "crossbook",
        "interuser_transfers_enabled": False, "id": account_id,
        "limits": {
            "limits_per_currency": False, "non_matching_engine": {"burst": 100, "rate": 20},
            "matching_engine": {"trading": {"total": {"burst": 250, "rate": 200}}, "cancel_all": {"burst": 250, "rate": 200}},
        },
        "login_enabled": False, "security_keys_enabled": False, "referrer_id": None, "mmp_enabled": False,
        "block_rfq_self_match_prevention": True, "creation_timestamp": created_ms,
        "self_trading_extended_to_subaccounts": False, "type": "main", "self_trading_reject_mode": "cancel_maker",
        "fees": {"btc_usd": {"perpetual": fee, "future": fee}},
    }
