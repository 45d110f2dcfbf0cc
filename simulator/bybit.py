"""The Bybit v5 (linear) twin: state, market publishing and app assembly.

Invariants:
- One UNIFIED account served to every configured API key; one IP limit bucket.
- Each ``orderbook.{depth}.{symbol}`` topic is a view of the published book (``BookMirror``) cut to its
  depth: a snapshot first, then deltas of exactly the top-``depth`` levels that changed, ``u`` growing by one
  per delta and ``seq`` (cross sequence, shared by every depth of a symbol) strictly increasing. After
  ``restart_books()`` the next message of every view is a snapshot with ``u == 1``. A SKIP_SEQUENCE fault
  hides one delta (the client sees ``u`` jump by 2). Level-1 topics are snapshot-only and repeat every 3 s.
- ``tickers.{symbol}`` sends a snapshot, then deltas carrying only the fields that changed since the last
  message of that topic (plus ``symbol``).
- Instruments: ``<U>USDT`` USDT perpetuals, and with ``settle_coins`` naming USDC the ``<U>PERP`` USDC
  perpetuals too (Bybit's names; the shared market model gets their books, so they are opt-in). One UNIFIED
  account holds a wallet per settle coin.
- Position mode (docs/v5/position/position-mode.mdx): one-way by default, hedge with ``hedge=True`` or after
  ``POST /v5/position/switch-mode``. The shared engine's mode is account-wide, where Bybit's is per symbol
  or settle coin: here a switch applies to every USDT perpetual at once, and USDC perpetuals (one-way only
  on Bybit) stay one-way whatever it is. Hedge-mode positions are one per side (``positionIdx`` 1 long,
  2 short), each pushed and listed on its own.
- Realtime order queries (``/v5/order/realtime`` by id, or ``openOnly=1``) find open orders and the most
  recent ``RECENT_CLOSED`` closed ones; ``restart_books()`` (a service restart) also forgets those, after
  which a closed order is only in ``/v5/order/history`` (docs/v5/order/open-order.mdx).
- Lists page with ``limit`` and ``nextPageCursor``; ``page_size`` (0: none) caps every page below the
  venue's own limits, so tests see several pages without hundreds of orders.
- Disconnection protection (bybit_dcp.py): DCP enabled for DERIVATIVES unless ``dcp_enabled=False``; the
  set and query endpoints, the ``dcp.*`` private topics, and the trigger: every open order cancelled
  (``cancelType`` ``CancelByDCP``) once every private connection holding ``dcp.future`` has been gone for
  the window. ``dcp_tick`` fires what is overdue; market steps, REST requests, private subscribes and
  ``GET /__admin/dcp`` call it.
- REST paths live in bybit_rest.py, WebSockets in bybit_ws.py; this module owns state and wiring only. Config
  and records they share are in bybit_config.py; they type the twin as ``BybitTwinLike`` and never import this module.
  Time is the injected clock plus any CLOCK_SKEW fault.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from aiohttp import web

from simulator import bybit_format as fmt
from simulator import bybit_rest, bybit_ws
from simulator.account import Account, PositionSide
from simulator.book import BookChanges, BookMirror, Level, PublicTrade
from simulator.bybit_auth import LimitState
from simulator.bybit_config import BybitConfig, DepthView, SymbolState
from simulator.bybit_dcp import DERIVATIVES, DcpState, Fired
from simulator.faults import Fault, FaultKind
from simulator.instruments import InstrumentSpec
from simulator.klines import INTERVAL_MS, KlineAggregator
from simulator.market import MarketModel
from simulator.matching import AccountEvent, ExecType, MatchingEngine, Order, OrderEvent
from simulator.twin import ErrorKind, TwinBase, TwinUrls, random_credentials, twin_app

__all__ = ["BybitConfig", "BybitTwin", "bybit_specs", "bybit_factory", "VENUE", "DEPTHS", "KLINE_INTERVALS",
           "RECENT_CLOSED"]

VENUE = "bybit"
DEPTHS = (1, 50, 200, 1000)  # linear orderbook levels (level 500 removed for futures 2025-09-11, V5 changelog)
KLINE_INTERVALS: dict[str, str] = {
    "1": "1m", "3": "3m", "5": "5m", "15": "15m", "30": "30m", "60": "1h", "120": "2h", "240": "4h",
    "360": "6h", "720": "12h", "D": "1d", "W": "1w",
}
"""Bybit interval name -> the core aggregator's name (``M`` is not served)."""
RECENT_CLOSED = 500  # closed orders a realtime query still finds (docs/v5/order/open-order.mdx)

# (tickSize, qtyStep, minNotionalValue) per underlying, as Bybit sizes its USDT perpetuals.
_SIZING: dict[str, tuple[str, str, str]] = {
    "BTC": ("0.10", "0.001", "5"), "ETH": ("0.01", "0.01", "5"), "SOL": ("0.010", "0.1", "5"),
    "XRP": ("0.0001", "1", "5"), "DOGE": ("0.00001", "1", "5"), "BNB": ("0.10", "0.01", "5"),
}


def bybit_specs(underlyings: list[str], settle_coins: tuple[str, ...] = ("USDT",)) -> list[tuple[InstrumentSpec, Decimal]]:
    """Linear perpetual specs with their min notional value: ``<U>USDT`` per underlying for USDT, and
    ``<U>PERP`` (Bybit's USDC perpetual names) for USDC."""
    out = []
    for coin in settle_coins:
        for u in underlyings:
            tick, step, notional = _SIZING.get(u, ("0.01", "0.01", "5"))
            symbol = f"{u}USDT" if coin == "USDT" else f"{u}PERP"
            out.append((InstrumentSpec(symbol, u, coin, Decimal(tick), Decimal(step), settle=coin), Decimal(notional)))
    return out


class BybitTwin(TwinBase[BybitConfig]):
    """Bybit v5 linear twin (implements ``simulator.twin.Twin``).

    Args:
        model: The shared market model.
        config: Twin knobs.
        clock_ms: Wall clock in epoch ms (injected).
        seed: Seed for ids and sequence jumps.
    """

    venue = VENUE

    def __init__(self, model: MarketModel, config: BybitConfig | None = None,
                 clock_ms: Callable[[], int] | None = None, seed: int = 0) -> None:
        super().__init__(model, config or BybitConfig(), clock_ms, random.Random(seed ^ 0xB7B17),
                         lambda: random_credentials(seed ^ 0xB7B1, 18, 36))
        cfg = self.config
        books = self.add_sized_books(bybit_specs(model.underlyings, cfg.settle_coins))
        start = {"USDT": cfg.balance_usdt, "USDC": cfg.balance_usdc}
        account = Account({coin: start[coin] for coin in cfg.settle_coins}, hedge=cfg.hedge)
        self.engine = MatchingEngine(self.specs, books, account, maker_fee=Decimal("0.0002"), taker_fee=Decimal("0.00055"))
        self.state = {s: SymbolState(BookMirror(b), self.rng.randint(10**9, 10**10)) for s, b in books.items()}
        for st in self.state.values():
            st.mirror.update_id = self.rng.randint(10**6, 10**7)
        self.trades: dict[str, deque[tuple[PublicTrade, int, int]]] = {s: deque(maxlen=1000) for s in self.specs}
        self.klines = {s: {i: KlineAggregator(INTERVAL_MS[n]) for i, n in KLINE_INTERVALS.items()} for s in self.specs}
        self.limits = LimitState(cfg.limits)
        self.link_ids: set[tuple[str, str]] = set()
        self.extra_orders: dict[int, tuple[Order, str]] = {}  # orders the venue killed on entry (PostOnly/FOK)
        self.reject_reasons: dict[int, str] = {}
        self.cancel_types: dict[int, str] = {}  # cancelType of orders not cancelled by the user (CancelByDCP)
        self.dcp = DcpState(cfg.dcp_enabled, int(cfg.dcp_apply_delay_s * 1000))
        self.recent_closed: deque[int] = deque(maxlen=RECENT_CLOSED)  # closed order ids realtime still finds
        self._unlinked = 0  # orders placed without orderLinkId (their engine client ids: fmt.NO_LINK + n)
        self.refuse_subscribes = 0  # test knobs: refuse this many more subscribe requests / logins (bybit_ws.py)
        self.refuse_logins = 0
        self.extra_count = 0  # ids of killed orders (9_000_000_000 + n), never reused
        self.engine.on_forget.append(lambda o: self.reject_reasons.pop(o.order_id, None))
        self.engine.on_forget.append(lambda o: self.cancel_types.pop(o.order_id, None))
        self.exec_seq = self.rng.randint(10**11, 10**12)
        self.launch_ms = 1585526400000
        self.hub = bybit_ws.Hub(self)
        self.faults.add_listener(self._on_fault)
        self.app = twin_app(self, [web.post("/__admin/restart", self._admin_restart), web.get("/__admin/dcp", self._admin_dcp)],
                            bybit_rest.routes(self), self.hub.routes())

    # -- Twin protocol ------------------------------------------------------------------------------------

    def urls(self, base_http: str, base_ws: str) -> TwinUrls:
        return TwinUrls(base_http, {"public": f"{base_ws}/v5/public/linear", "private": f"{base_ws}/v5/private"})

    def _published(self, symbol: str) -> tuple[InstrumentSpec, BookMirror] | None:
        st = self.state.get(symbol.upper())
        return None if st is None else (self.specs[symbol.upper()], st.mirror)

    def error_response(self, kind: str, status: int) -> web.Response:
        now = self.now_ms()
        if kind == ErrorKind.BANNED:  # the per-IP ban: HTTP 403 "access too frequent", no envelope
            return web.Response(status=403, text="access too frequent", headers={"Timenow": str(now)})
        if kind == ErrorKind.RATE_LIMITED:  # Bybit reports UID limits in-band: HTTP 200, retCode 10006
            body = fmt.envelope({}, now, 10006, "Too many visits. Exceeded the API Rate Limit.")
            headers = {"X-Bapi-Limit": "10", "X-Bapi-Limit-Status": "0", "X-Bapi-Limit-Reset-Timestamp": str(now + 1000)}
            return web.json_response(body, status=200, headers=headers)
        return web.json_response(fmt.envelope({}, now, 10016, "Server error."), status=status)

    async def aclose(self) -> None:
        await self.hub.close_all()

    # -- faults / admin -----------------------------------------------------------------------------------
    def _on_fault(self, fault: Fault) -> None:
        if fault.kind is FaultKind.DROP_WS:
            self.hub.drop_all()
            self.faults.consume(FaultKind.DROP_WS)  # one-shot unless it has a duration
        elif fault.kind is FaultKind.MALFORMED_FRAME:
            self.hub.mark_malformed()
        elif fault.kind is FaultKind.UNKNOWN_EVENT:
            self.hub.push_unknown_event()

    def drift_field(self) -> tuple[str, Any] | None:
        """``(name, value)`` of the undocumented field an active UNKNOWN_FIELD fault adds, else None."""
        fault = self.faults.active(FaultKind.UNKNOWN_FIELD)
        if fault is None:
            return None
        return str(fault.params.get("field", "x_new_field")), fault.params.get("value", 1)

    def drifted(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A market-data push with the UNKNOWN_FIELD fault's field in its ``data`` object (or each data row)."""
        extra = self.drift_field()
        if extra is None:
            return payload
        return payload | {"data": fmt.with_field(payload.get("data"), *extra)}

    def unknown_event(self) -> dict[str, Any]:
        """A push of the topic the UNKNOWN_EVENT fault names, shaped like Bybit's public pushes."""
        fault = self.faults.active(FaultKind.UNKNOWN_EVENT)
        name = str(fault.params.get("event", "x_new_event")) if fault is not None else "x_new_event"
        return {"topic": name, "type": "snapshot", "ts": self.now_ms(), "data": {}}

    def restart_books(self) -> None:
        """Simulate a service restart: every book view's next message is a snapshot with ``u == 1``, and the
        closed orders realtime queries found are forgotten (they stay in order history)."""
        for st in self.state.values():
            for view in st.views.values():
                view.restart = True
        self.recent_closed.clear()

    async def _admin_restart(self, _: web.Request) -> web.Response:
        self.restart_books()
        return web.json_response({"restarted": sorted(self.specs)})

    async def _admin_dcp(self, _: web.Request) -> web.Response:
        """``GET /__admin/dcp``: enabled products, windows (in force and pending), running countdowns, triggers."""
        now = self.now_ms()
        self.dcp_tick(now)
        return web.json_response(self.dcp.to_json(now) | {"holders": self.hub.dcp_holders()})

    # -- disconnection protection ------------------------------------------------------------------------
    def dcp_tick(self, now: int | None = None) -> list[Fired]:
        """Fire every DCP countdown that has passed its window: the product's open orders are cancelled."""
        ts = now if now is not None else self.now_ms()
        fired = []
        for product, since, window in self.dcp.due(ts):
            ids: list[int] = []
            if product == DERIVATIVES:  # every instrument of the twin is a linear perpetual
                for order in self.engine.open_orders():
                    self.cancel_types[order.order_id] = "CancelByDCP"
                    self.engine.cancel(order.symbol, ts, order.order_id)
                    ids.append(order.order_id)
            fired.append(Fired(product, ts, since, window, tuple(ids)))
        if fired:
            self.dcp.fired.extend(fired)
            self.flush_private(ts)
        return fired

    # -- views --------------------------------------------------------------------------------------------
    def view(self, symbol: str, depth: int) -> DepthView:
        """The (lazily created) view of ``orderbook.{depth}.{symbol}``."""
        st = self.state[symbol]
        v = st.views.get(depth)
        if v is None:
            v = DepthView(depth, self.rng.randint(10**6, 10**8), dict(st.mirror.bids(depth)), dict(st.mirror.asks(depth)))
            st.views[depth] = v
        return v

    def book_message(self, symbol: str, view: DepthView, kind: str, bids: list[Level], asks: list[Level], now: int) -> dict[str, Any]:
        spec, st = self.specs[symbol], self.state[symbol]
        return {"topic": f"orderbook.{view.depth}.{symbol}", "type": kind, "ts": now,
                "data": {"s": symbol, "b": fmt.levels(spec, bids), "a": fmt.levels(spec, asks), "u": view.u, "seq": st.seq},
                "cts": now - 1}

    def snapshot_message(self, symbol: str, view: DepthView, now: int) -> dict[str, Any]:
        bids = sorted(view.bids.items(), key=lambda lv: lv[0], reverse=True)
        asks = sorted(view.asks.items(), key=lambda lv: lv[0])
        return self.book_message(symbol, view, "snapshot", bids, asks, now)

    # -- market -------------------------------------------------------------------------------------------
    # ``on_market`` (TwinBase): DCP countdowns first, then per symbol book/trade/kline/ticker topics, then
    # private topics.
    def _before_step(self, now: int) -> None:
        self.dcp_tick(now)

    def _publish(self, symbol: str, ch: BookChanges, now: int) -> None:
        self._publish_book(symbol, ch, now)
        self._publish_trades(symbol, ch.trades, now)
        self._publish_ticker(symbol, now)

    def _after_step(self, now: int) -> None:
        self.flush_private(now)

    def _publish_book(self, symbol: str, ch: BookChanges, now: int) -> None:
        st = self.state[symbol]
        st.mirror.apply(ch, st.mirror.update_id + 1)
        st.seq += self.rng.randint(1, 25)
        skip = self.faults.consume(FaultKind.SKIP_SEQUENCE) is not None if st.views else False
        for view in st.views.values():
            new_b, new_a = dict(st.mirror.bids(view.depth)), dict(st.mirror.asks(view.depth))
            if view.restart:
                view.restart, view.u, view.bids, view.asks = False, 1, new_b, new_a
                view.last_push_ms = now
                self.hub.publish(f"orderbook.{view.depth}.{symbol}", self.snapshot_message(symbol, view, now))
                continue
            d_b = sorted(_diff(view.bids, new_b).items(), key=lambda lv: lv[0], reverse=True)
            d_a = sorted(_diff(view.asks, new_a).items(), key=lambda lv: lv[0])
            repeat = view.depth == 1 and now - view.last_push_ms >= self.config.level1_repeat_ms
            if not d_b and not d_a and not repeat:
                continue
            view.bids, view.asks = new_b, new_a
            view.last_push_ms = now
            if d_b or d_a:
                view.u += 1
            if skip:
                skip = False
                continue
            topic = f"orderbook.{view.depth}.{symbol}"
            if view.depth == 1:  # level 1 is snapshot-only
                self.hub.publish(topic, self.snapshot_message(symbol, view, now))
            else:
                self.hub.publish(topic, self.book_message(symbol, view, "delta", d_b, d_a, now))

    def _publish_trades(self, symbol: str, trades: list[PublicTrade], now: int) -> None:
        if not trades:
            return
        spec, st = self.specs[symbol], self.state[symbol]
        items = []
        for t in trades:
            if st.last_trade_px is not None and t.price != st.last_trade_px:
                st.tick_dir = "PlusTick" if t.price > st.last_trade_px else "MinusTick"
            elif st.tick_dir in ("PlusTick", "MinusTick"):
                st.tick_dir = "Zero" + st.tick_dir
            st.last_trade_px = t.price
            seq = st.seq
            self.trades[symbol].append((t, now, seq))
            items.append(fmt.public_trade_json(spec, t, now - 1, st.tick_dir, seq))
            quote = t.price * t.qty * spec.contract_size
            for name, agg in self.klines[symbol].items():
                prev = agg.current
                k = agg.add(now, t.price, t.qty, quote, t.taker_side.value == "BUY", t.trade_id)
                topic = f"kline.{name}.{symbol}"
                if not self.hub.has(topic):
                    continue
                data = []
                if prev is not None and prev.open_time != k.open_time:
                    data.append(fmt.kline_json(spec, prev, name, True, now))
                data.append(fmt.kline_json(spec, k, name, False, now))
                self.hub.publish(topic, {"topic": topic, "data": data, "ts": now, "type": "snapshot"})
        topic = f"publicTrade.{symbol}"
        if self.hub.has(topic):
            self.hub.publish(topic, {"topic": topic, "type": "snapshot", "ts": now, "data": items})

    def ticker_fields(self, symbol: str, now: int) -> dict[str, str]:
        """The full linear ticker (``tickers`` topic snapshot / REST row), all strings."""
        spec, st = self.specs[symbol], self.state[symbol]
        mark = spec.price_down(self.engine.books[symbol].mid())
        day = [(t, ts) for t, ts, _ in self.trades[symbol] if ts > now - 86_400_000]
        hour = [(t, ts) for t, ts in day if ts > now - 3_600_000]
        last = day[-1][0].price if day else mark
        first = day[0][0].price if day else last
        vol = sum((t.qty for t, _ in day), Decimal(0))
        turnover = sum((t.qty * t.price * spec.contract_size for t, _ in day), Decimal(0))
        bb, ba = st.mirror.bids(1), st.mirror.asks(1)
        return {
            "symbol": symbol, "tickDirection": st.tick_dir,
            "price24hPcnt": str(((last - first) / first).quantize(Decimal("0.000001"))) if first else "0",
            "lastPrice": fmt.px(spec, last), "prevPrice24h": fmt.px(spec, first),
            "highPrice24h": fmt.px(spec, max((t.price for t, _ in day), default=last)),
            "lowPrice24h": fmt.px(spec, min((t.price for t, _ in day), default=last)),
            "prevPrice1h": fmt.px(spec, hour[0][0].price if hour else last), "markPrice": fmt.px(spec, mark),
            "indexPrice": fmt.px(spec, mark), "openInterest": "0", "openInterestValue": "0",
            "turnover24h": fmt.money(turnover), "volume24h": fmt.qty(spec, vol), "fundingIntervalHour": "8",
            "fundingCap": "0.005", "nextFundingTime": str(now - now % 28_800_000 + 28_800_000), "fundingRate": "0.0001",
            "bid1Price": fmt.px(spec, bb[0][0]) if bb else "", "bid1Size": fmt.qty(spec, bb[0][1]) if bb else "",
            "ask1Price": fmt.px(spec, ba[0][0]) if ba else "", "ask1Size": fmt.qty(spec, ba[0][1]) if ba else "",
            "preOpenPrice": "", "preQty": "", "curPreListingPhase": "",
        }

    def ticker_snapshot(self, symbol: str, now: int) -> dict[str, Any]:
        """The snapshot a new ``tickers`` subscriber gets: the topic's last published state."""
        st = self.state[symbol]
        if st.ticker is None:
            st.ticker = self.ticker_fields(symbol, now)
        return {"topic": f"tickers.{symbol}", "type": "snapshot", "data": dict(st.ticker), "cs": st.seq, "ts": now}

    def _publish_ticker(self, symbol: str, now: int) -> None:
        st, topic = self.state[symbol], f"tickers.{symbol}"
        if st.ticker is None or not self.hub.has(topic):
            return
        new = self.ticker_fields(symbol, now)
        delta = {k: v for k, v in new.items() if st.ticker.get(k) != v}
        if not delta:
            return
        st.ticker = new
        self.hub.publish(topic, {"topic": topic, "type": "delta", "data": {"symbol": symbol} | delta, "cs": st.seq, "ts": now})

    # -- private ------------------------------------------------------------------------------------------
    def flush_private(self, now: int | None = None) -> None:
        """Turn engine events into ``order`` / ``execution`` / ``position`` / ``wallet`` pushes."""
        ts = now if now is not None else self.now_ms()
        for ev in self.engine.drain_events():
            if isinstance(ev, OrderEvent):
                spec = self.specs[ev.order.symbol]
                reason = self.reject_reasons.get(ev.order.order_id, "EC_NoError")
                if not ev.order.status.is_open:
                    self.recent_closed.append(ev.order.order_id)
                cancel_type = self.cancel_types.get(ev.order.order_id, "CancelByUser")
                self.hub.publish_private("order", [fmt.ws_order_json(spec, ev.order, reason, cancel_type)], ts)
                if ev.exec_type is ExecType.TRADE:
                    self.exec_seq += 1
                    exec_id = fmt.trade_uuid(f"exec/{ev.order.symbol}", ev.trade_id)
                    mark = self.engine.books[spec.symbol].mid()
                    self.hub.publish_private("execution", [fmt.execution_json(spec, ev, mark, exec_id, self.exec_seq)], ts)
            elif isinstance(ev, AccountEvent):
                self.hub.publish_private("position", [self.position_item(ev.symbol, ev.position_side, ws=True)], ts)
                self.hub.publish_private("wallet", [self.wallet_item()], ts)

    def publish_killed(self, order: Order, reason: str) -> None:
        """Push an order the venue accepted and cancelled at once (PostOnly crossing, FOK unfillable)."""
        self.recent_closed.append(order.order_id)
        self.hub.publish_private("order", [fmt.ws_order_json(self.specs[order.symbol], order, reason)], self.now_ms())

    def next_unlinked(self) -> int:
        """A number for the engine client id of an order placed without ``orderLinkId`` (never reused)."""
        self._unlinked += 1
        return self._unlinked

    def hedged(self, symbol: str) -> bool:
        """Whether ``symbol`` is in hedge mode: the account's mode, USDC perpetuals always one-way."""
        return self.engine.account.hedge and self.specs[symbol].settle_asset != "USDC"

    def position_sides(self, symbol: str) -> tuple[PositionSide, ...]:
        """The positions a symbol has in its mode: LONG and SHORT in hedge mode, else the net one."""
        return (PositionSide.LONG, PositionSide.SHORT) if self.hedged(symbol) else (PositionSide.BOTH,)

    def position_item(self, symbol: str, side: PositionSide, *, ws: bool) -> dict[str, Any]:
        spec = self.specs[symbol]
        acct = self.engine.account
        pos = acct.position(symbol, side)
        mark = self.engine.books[symbol].mid()
        args = (side, pos.qty, pos.entry_price, mark, pos.realized_pnl, pos.unrealized(spec, mark), acct.leverage,
                pos.updated_ms or self.now_ms(), self.state[symbol].seq)
        return fmt.ws_position_json(spec, *args) if ws else fmt.position_json(spec, *args)

    def wallet_item(self) -> dict[str, Any]:
        acct, marks = self.engine.account, self.engine.marks()
        coins = []
        for coin, wallet in acct.balances.items():
            upnl = sum((p.unrealized(self.specs[p.symbol], marks[p.symbol]) for p in acct.positions.values()
                        if self.specs[p.symbol].settle_asset == coin), Decimal(0))
            pos_im = acct.margin_used(self.specs, marks, coin)
            ord_im = sum((self.specs[o.symbol].notional(o.remaining, o.price or marks[o.symbol]) / acct.leverage
                          for o in self.engine.open_orders() if self.specs[o.symbol].settle_asset == coin), Decimal(0))
            realised = sum((p.realized_pnl for p in acct.positions.values() if self.specs[p.symbol].settle_asset == coin),
                           Decimal(0))
            coins.append((coin, wallet, upnl, pos_im, ord_im, realised))
        return fmt.wallet_json(coins)


def _diff(old: dict[Decimal, Decimal], new: dict[Decimal, Decimal]) -> dict[Decimal, Decimal]:
    """Level changes turning ``old`` into ``new`` (size 0 deletes)."""
    out = {p: s for p, s in new.items() if old.get(p) != s}
    for p in old:
        if p not in new:
            out[p] = Decimal(0)
    return out


def bybit_factory(model: MarketModel, seed: int, options: dict[str, Any]) -> BybitTwin:
    """Registry entry: ``options`` may hold ``config`` (a ``BybitConfig``), ``clock_ms``, or BybitConfig fields."""
    config = options.get("config") or BybitConfig(**{k: v for k, v in options.items() if k != "clock_ms"})
    return BybitTwin(model, config, clock_ms=options.get("clock_ms"), seed=seed)
