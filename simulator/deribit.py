"""The Deribit v2 twin: state, market publishing, private event fan-out and app assembly.

Invariants:
- One account (balances in BTC, ETH and USDC) served to every configured client id; instruments are the
  inverse ``<U>-PERPETUAL`` (BTC, ETH; amounts in USD) and linear ``<U>_USDC-PERPETUAL`` of each underlying.
- Book ``change_id`` grows by a random positive jump per published change; every change notification's
  ``prev_change_id`` equals the previous notification's ``change_id`` unless a SKIP_SEQUENCE fault hid one.
- REST books and WS snapshots come from the ``BookMirror`` (the published book), so ``get_order_book``'s
  ``change_id`` always sits on the stream.
- Order ``label`` is the client order id: a non-empty label may not be reused while an order carrying it is
  open (13032); orders and their trades (``private/buy`` ``trades``, ``user.trades``, ``user.changes``) carry
  it. Orders without a label get an internal engine client id the wire never shows.
- Cancel-on-disconnect (docs.deribit.com private/enable_cancel_on_disconnect, checked 2026-12): an order
  placed over a WebSocket records the connection it was created via (``created_via``); when a connection with
  COD enabled ends in any way but ``private/logout`` (closed, reset, heartbeat test_request unanswered), the
  open orders created via it, and only those, are cancelled with ``cancel_reason`` ``cancel_on_disconnect``.
  Orders placed over HTTP or on another connection stay. Scope ``account`` also makes every new connection
  start with COD on.
- Book states (Deribit's order book lifecycle of 2026-01-13): every book starts ``open``; ``set_book_state``
  moves one (tests), lists it so in ``get_instruments`` / ``get_instrument`` / ``get_order_book``, notifies
  ``instrument.state.future.{currency|any}`` and, on entering ``delivered`` or ``inactive``, cancels
  its open orders. Only an ``open`` book takes orders and edits; cancels also in ``locked``
  (deribit_trading.py has the codes).
- JSON-RPC methods live in deribit_market.py (public) and deribit_trading.py (private), HTTP transport in
  deribit_rest.py and WebSockets in deribit_ws.py; this module owns state and wiring (those modules import
  deribit_config.py, never this module). Time is the injected clock plus any CLOCK_SKEW fault.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from aiohttp import web

from simulator import deribit_format as fmt
from simulator import deribit_rest, deribit_ws
from simulator.account import Account
from simulator.book import BookChanges, BookMirror, Depth, Level, PublicTrade, Side
from simulator.deribit_auth import CreditLimiter, DeribitError, TokenStore
from simulator.deribit_config import RESOLUTIONS, DeribitConfig
from simulator.deribit_drift import with_unknown_field
from simulator.deribit_market import index_json
from simulator.faults import Fault, FaultKind
from simulator.instruments import InstrumentSpec
from simulator.klines import KlineAggregator
from simulator.market import MarketModel
from simulator.matching import AccountEvent, MatchingEngine, Order
from simulator.twin import ErrorKind, TwinBase, TwinUrls, random_credentials, twin_app

__all__ = ["DeribitConfig", "DeribitTwin", "deribit_twin", "VENUE", "RESOLUTIONS", "BOOK_STATES"]

VENUE = "deribit"
BOOK_STATES = ("open", "locked", "settlement", "delivered", "inactive", "halted", "archivized")
"""Deribit's order book lifecycle states (release of 2026-01-13)."""


class DeribitTwin(TwinBase[DeribitConfig]):
    """Deribit v2 twin (implements ``simulator.twin.Twin``).

    Args:
        model: The shared market model (books are added for each underlying it prices).
        config: Twin knobs.
        clock_ms: Wall clock in epoch ms (injected).
        seed: Seed for ids (change-id jumps, tokens).
        monotonic: Monotonic seconds for rate-limit buckets and heartbeats (injected).
    """

    venue = VENUE

    def __init__(self, model: MarketModel, config: DeribitConfig | None = None,
                 clock_ms: Callable[[], int] | None = None, seed: int = 0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        super().__init__(model, config or DeribitConfig(), clock_ms, random.Random(seed ^ 0xDE1B),
                         lambda: random_credentials(seed ^ 0xDE, 8, 43, "-_"))
        cfg = self.config
        self.monotonic = monotonic
        self.instruments = {i.name: i for i in fmt.deribit_instruments(model.underlyings)}
        books = self.add_books(i.spec for i in self.instruments.values())
        self.engine = MatchingEngine(self.specs, books, Account(dict(cfg.balances)), maker_fee=cfg.maker_fee,
                                     taker_fee=cfg.taker_fee)
        self.depth = {s: Depth(BookMirror(b, self.rng.randint(10**10, 4 * 10**10))) for s, b in books.items()}
        self.trades: dict[str, deque[tuple[PublicTrade, int]]] = {s: deque(maxlen=2000) for s in self.specs}
        self.klines = {s: {r: KlineAggregator(ms) for r, ms in RESOLUTIONS.items()} for s in self.specs}
        self._last_px: dict[str, tuple[Decimal, int]] = {}
        self.labels: dict[int, str] = {}
        self.book_states: dict[str, str] = dict.fromkeys(self.instruments, "open")
        self.engine.on_forget.append(lambda o: self.labels.pop(o.order_id, None))
        # Cancel-on-disconnect: the WebSocket connection each order was created via (none for HTTP), why a
        # cancelled order was cancelled when it was not the user's request, and the account-scope setting.
        self.created_via: dict[int, int] = {}
        self.cancel_reasons: dict[int, str] = {}
        self.cod_account = False
        self.engine.on_forget.append(lambda o: self.created_via.pop(o.order_id, None))
        self.engine.on_forget.append(lambda o: self.cancel_reasons.pop(o.order_id, None))
        self.replaced: set[int] = set()
        self._unlabelled = 0
        self.tokens = TokenStore(random.Random(seed ^ 0x70C), cfg.token_ttl_s)
        self.limiter = CreditLimiter(cfg.limits)
        self.account_created_ms = 1687352432143
        self.hub = deribit_ws.DeribitHub(self)
        self.faults.add_listener(self._on_fault)
        self.app = twin_app(self, deribit_rest.routes(self), self.hub.routes())

    # -- Twin protocol ------------------------------------------------------------------------------------

    def now_us(self) -> int:
        """Server time in microseconds (``usIn`` / ``usOut``)."""
        return self.now_ms() * 1000 + (time.time_ns() // 1000) % 1000

    def urls(self, base_http: str, base_ws: str) -> TwinUrls:
        return TwinUrls(base_http, {"public": f"{base_ws}/ws/api/v2", "private": f"{base_ws}/ws/api/v2"})

    def _published(self, symbol: str) -> tuple[InstrumentSpec, BookMirror] | None:
        d = self.depth.get(symbol)
        return None if d is None else (self.specs[symbol], d.mirror)

    def _print_level(self, spec: InstrumentSpec, price: Decimal, size: Decimal) -> tuple[str, str]:
        return str(price), str(size)  # as the book stores them

    def error_response(self, kind: str, status: int) -> web.Response:
        err = DeribitError(10028) if kind in (ErrorKind.RATE_LIMITED, ErrorKind.BANNED) else self.server_error(status)
        return web.json_response(self.envelope(None, error=err, us_in=self.now_us(), with_id=False), status=err.status)

    async def aclose(self) -> None:
        await self.hub.close_all()

    # -- helpers used by the method handlers ---------------------------------------------------------------
    def server_error(self, status: int) -> DeribitError:
        """The error a server fault answers with: 500 internal_server_error (11094), else 13028 unavailable."""
        return DeribitError(11094 if status == 500 else 13028, status=status)

    def envelope(self, req_id: Any, *, result: Any = None, error: DeribitError | None = None,
                 us_in: int, with_id: bool = True) -> dict[str, Any]:
        """The JSON-RPC response: jsonrpc, id, result|error, usIn, usOut, usDiff, testnet."""
        us_out = max(us_in, self.now_us())
        out: dict[str, Any] = {"jsonrpc": "2.0"}
        if with_id:
            out["id"] = req_id
        if error is not None:
            out["error"] = error.to_json()
        else:
            out["result"] = with_unknown_field(self.faults, result)
        return out | {"usIn": us_in, "usOut": us_out, "usDiff": us_out - us_in, "testnet": self.config.testnet}

    def mark(self, name: str) -> Decimal:
        """Mark price: the live book's mid."""
        return self.engine.books[name].mid()

    def index_price(self, name: str) -> float:
        """The underlying's fair price (the venue's index), 2 decimals."""
        return round(self.model.fair_price(self.instruments[name].base), 2)

    def find_order(self, raw_id: Any) -> tuple[fmt.DeribitInstrument, Order]:
        """Resolve a wire order id.

        Raises:
            DeribitError: 10004 order_not_found.
        """
        oid = fmt.parse_order_id(str(raw_id))
        order = self.engine.orders.get(oid) if oid is not None else None
        if order is None:
            raise DeribitError(10004)
        inst = self.instruments[order.symbol]
        if fmt.format_order_id(inst, order.order_id) != str(raw_id):
            raise DeribitError(10004)
        return inst, order

    def engine_client_id(self, label: str) -> str:
        """The engine's client id for a wire label (unlabelled orders get a unique internal id)."""
        if label:
            return label
        self._unlabelled += 1
        return f"\x00unlabelled-{self._unlabelled}"

    def order_json(self, o: Order, context: str) -> dict[str, Any]:
        inst = self.instruments[o.symbol]
        return fmt.order_json(inst, o, self.labels.get(o.order_id, ""), context=context,
                              replaced=o.order_id in self.replaced,
                              cancel_reason=self.cancel_reasons.get(o.order_id, "user_request"))

    def tick_direction(self, name: str, price: Decimal) -> int:
        """0 plus, 1 zero-plus, 2 minus, 3 zero-minus tick, against the previous trade."""
        prev = self._last_px.get(name)
        if prev is None or price > prev[0]:
            direction = 0
        elif price < prev[0]:
            direction = 2
        else:
            direction = 1 if prev[1] in (0, 1) else 3
        self._last_px[name] = (price, direction)
        return direction

    def account_numbers(self, currency: str) -> dict[str, Decimal]:
        """Balance, PnL and margins of one currency (keyword arguments of ``fmt.portfolio_json``)."""
        acct, marks = self.engine.account, self.engine.marks()
        upnl = rpnl = im = oom = delta = Decimal(0)
        for pos in acct.positions.values():
            name = pos.symbol
            inst = self.instruments[name]
            if inst.settle != currency:
                continue
            upnl += pos.unrealized(inst.spec, marks[name])
            rpnl += pos.realized_pnl
            im += inst.spec.notional(abs(pos.qty), marks[name]) / acct.leverage if pos.qty else Decimal(0)
            delta += pos.qty / marks[name] if inst.inverse else pos.qty
        for o in self.engine.open_orders():
            inst = self.instruments[o.symbol]
            if inst.settle == currency:
                oom += inst.spec.notional(o.remaining, o.price or marks[o.symbol]) / acct.leverage
        return {"balance": acct.balances.get(currency, Decimal(0)), "upnl": upnl, "rpnl": rpnl, "im": im,
                "open_orders_margin": oom, "delta": delta}

    def portfolio(self, currency: str) -> dict[str, Any]:
        return fmt.portfolio_json(currency, **self.account_numbers(currency))

    def position(self, name: str, *, stream: bool) -> dict[str, Any]:
        inst, acct = self.instruments[name], self.engine.account
        pos = acct.position(name)
        mark = self.mark(name)
        oom = sum((inst.spec.notional(o.remaining, o.price or mark) / acct.leverage
                   for o in self.engine.open_orders(name)), Decimal(0))
        return fmt.position_json(inst, qty=pos.qty, entry=pos.entry_price, mark=mark, index=self.index_price(name),
                                 upnl=pos.unrealized(inst.spec, mark), rpnl=pos.realized_pnl, leverage=acct.leverage,
                                 open_orders_margin=oom, stream=stream)

    def set_book_state(self, name: str, state: str) -> None:
        """Move ``name``'s order book to ``state`` (one of BOOK_STATES), as Deribit's lifecycle does.

        Raises:
            ValueError: an unknown instrument or state.
        """
        if name not in self.instruments or state not in BOOK_STATES:
            msg = f"expected an instrument of {sorted(self.instruments)} and a state of {BOOK_STATES}, got {name!r} {state!r}"
            raise ValueError(msg)
        self.book_states[name] = state
        now = self.now_ms()
        if state in ("delivered", "inactive"):  # "all open orders are canceled upon entry"
            for o in self.engine.open_orders(name):
                self.engine.cancel(name, now, o.order_id)
            self.flush_user_events(now)
        inst = self.instruments[name]
        data = {"timestamp": now, "state": state, "instrument_name": name}
        for cur in (inst.currency, "any"):  # kind: the twin lists futures (perpetuals) only
            self.hub.publish(f"instrument.state.future.{cur}", data)

    # -- faults -------------------------------------------------------------------------------------------
    def _on_fault(self, fault: Fault) -> None:
        if fault.kind is FaultKind.DROP_WS:
            self.hub.drop_all()
        elif fault.kind is FaultKind.MALFORMED_FRAME:
            self.faults.consume(FaultKind.MALFORMED_FRAME)
            self.hub.mark_malformed()
        elif fault.kind is FaultKind.BAN:
            self.hub.terminate_all(DeribitError(10028))
        elif fault.kind is FaultKind.UNKNOWN_EVENT:
            self.hub.push_unknown_event()

    # -- market -------------------------------------------------------------------------------------------
    # ``on_market`` (TwinBase): per instrument book/trades/ticker/quote/chart channels, then price indexes and
    # user data.
    def _publish(self, symbol: str, ch: BookChanges, now: int) -> None:
        self._publish_book(symbol, ch, now)
        self._publish_trades(symbol, ch.trades, now)
        self.hub.publish_market_slow(symbol, now)

    def _after_step(self, now: int) -> None:
        for u in sorted({i.price_index for i in self.instruments.values()}):
            if self.hub.has(f"deribit_price_index.{u}"):
                self.hub.publish(f"deribit_price_index.{u}", index_json(self, u, now))
        self.flush_user_events(now)

    def _actions(self, current: dict[Decimal, Decimal], levels: list[Level], best_first_desc: bool) -> list[list[Any]]:
        rows = sorted(levels, key=lambda lv: lv[0], reverse=best_first_desc)
        out: list[list[Any]] = []
        for price, size in rows:
            if size == 0:
                out.append(["delete", fmt.num(price), 0.0])
            else:
                out.append(["change" if price in current else "new", fmt.num(price), fmt.num(size)])
        return out

    def _publish_book(self, name: str, ch: BookChanges, now: int) -> None:
        d = self.depth[name]
        if not (ch.bids or ch.asks):
            return
        prev = d.mirror.update_id
        new = prev + self.rng.randint(1, 60)
        bids = self._actions(d.mirror.bids_map, ch.bids, True)
        asks = self._actions(d.mirror.asks_map, ch.asks, False)
        d.mirror.apply(ch, new)
        if self.faults.consume(FaultKind.SKIP_SEQUENCE) is None:
            data = {"type": "change", "timestamp": now, "prev_change_id": prev, "instrument_name": name,
                    "change_id": new, "bids": bids, "asks": asks}
            for interval in ("raw", "100ms", "agg2"):
                self.hub.publish(f"book.{name}.{interval}", data)
        self.hub.publish_grouped(name, now)

    def _publish_trades(self, name: str, trades: list[PublicTrade], now: int) -> None:
        if not trades:
            return
        inst = self.instruments[name]
        mark, index = self.mark(name), self.index_price(name)
        rows = []
        for t in trades:
            self.trades[name].append((t, now))
            base = t.qty / t.price if inst.inverse else t.qty
            cost = t.qty if inst.inverse else t.qty * t.price
            for agg in self.klines[name].values():
                agg.add(now, t.price, base, cost, t.taker_side is Side.BUY, t.trade_id)
            rows.append(fmt.public_trade_json(inst, trade_id=t.trade_id, ts=now, tick_direction=self.tick_direction(name, t.price),
                                              price=t.price, amount=t.qty, taker=t.taker_side, mark=mark, index=index, rest=False))
        for interval in ("raw", "100ms", "agg2"):
            for channel in (f"trades.{name}.{interval}", f"trades.future.{inst.currency}.{interval}",
                            f"trades.future.any.{interval}", f"trades.any.{inst.currency}.{interval}"):
                self.hub.publish(channel, rows)
        self.hub.publish_chart(name, now)

    # -- private ------------------------------------------------------------------------------------------
    def flush_user_events(self, now: int | None = None) -> dict[int, list[dict[str, Any]]]:
        """Turn engine events into user.orders / user.trades / user.changes / user.portfolio notifications.

        Returns:
            The trade rows (``private/buy`` shape) produced per engine order id.
        """
        fills: dict[int, list[dict[str, Any]]] = {}
        per_inst: dict[str, tuple[dict[int, dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]] = {}
        currencies: set[str] = set()
        for ev in self.engine.drain_events():
            if isinstance(ev, AccountEvent):
                currencies.add(ev.asset)
                continue
            o = ev.order
            inst = self.instruments[o.symbol]
            orders, trades, changes_trades = per_inst.setdefault(o.symbol, ({}, [], []))
            oj = self.order_json(o, "stream")
            orders[o.order_id] = oj
            self.hub.publish_private("user.orders", inst, "raw", oj, only_raw=True)
            if ev.last_qty > 0:
                row = fmt.trade_json(inst, trade_id=ev.trade_id, seq=ev.trade_id, ts=ev.ts_ms,
                                     tick_direction=self.tick_direction(o.symbol, ev.last_price), o=o,
                                     price=ev.last_price, amount=ev.last_qty, fee=ev.fee, maker=ev.is_maker,
                                     mark=self.mark(o.symbol), index=self.index_price(o.symbol),
                                     label=self.labels.get(o.order_id, ""))
                fills.setdefault(o.order_id, []).append(row)
                trades.append(row)
                changes_trades.append(row | {"profit_loss": round(float(ev.realized_pnl), 8)})
        for name, (orders, trades, changes_trades) in per_inst.items():
            inst = self.instruments[name]
            self.hub.publish_private("user.orders", inst, "100ms", list(orders.values()), only_raw=False)
            if trades:
                self.hub.publish_private("user.trades", inst, "any", trades, only_raw=False)
            changes = {"trades": changes_trades, "positions": [self.position(name, stream=True)] if trades else [],
                       "orders": list(orders.values()), "instrument_name": name}
            self.hub.publish_private("user.changes", inst, "any", changes, only_raw=False)
        for cur in sorted(currencies):
            for channel in (f"user.portfolio.{cur}", f"user.portfolio.{cur.lower()}"):
                if self.hub.has(channel):
                    self.hub.publish(channel, self.portfolio(cur))
        return fills


def deribit_twin(model: MarketModel, seed: int, options: dict[str, Any]) -> DeribitTwin:
    """Registry factory: ``options`` may hold ``config`` (a ``DeribitConfig``) or its fields, and ``clock_ms``."""
    config = options.get("config") or DeribitConfig(**{k: v for k, v in options.items() if k != "clock_ms"})
    return DeribitTwin(model, config, clock_ms=options.get("clock_ms"), seed=seed)
