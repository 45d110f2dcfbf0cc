"""The OKX v5 SWAP twin: state, market publishing and app assembly.

Invariants:
- Instruments: ``<U>-USDT-SWAP`` (linear, ctVal in base coin, settles USDT) for every underlying of the model,
  plus ``BTC-USD-SWAP`` / ``ETH-USD-SWAP`` (inverse, ctVal in USD, settle in the coin). Sizes are contracts.
- One account, served to every configured API key (one-way ``net`` positions, cross margin).
- ``books`` seqIds grow by a random positive jump per published event; every update's ``prevSeqId`` equals
  the previous event's ``seqId`` unless a SKIP_SEQUENCE fault hid an event. The ``checksum`` is the CRC32 of
  the top 25 levels of the published book (``BookMirror``) after the event, unless CORRUPT_CHECKSUM fired.
- All REST paths live in okx_rest.py, all WebSocket handling in okx_ws.py; this module owns state and wiring.
  Server time is the injected clock plus any CLOCK_SKEW fault.
"""

from __future__ import annotations

import functools
import random
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from typing import Any

from aiohttp import web

from simulator import okx_format as fmt
from simulator.account import Account
from simulator.book import BookChanges, BookMirror, PublicTrade
from simulator.faults import Fault, FaultController, FaultKind
from simulator.instruments import InstrumentSpec
from simulator.klines import INTERVAL_MS, KlineAggregator
from simulator.market import MarketModel
from simulator.matching import AccountEvent, ExecType, MatchingEngine, Order, OrderEvent
from simulator.okx_auth import RATE_LIMIT_MSG, LimitState, RateLimits
from simulator.twin import Credentials, ErrorKind, TwinUrls, admin_routes, book_json, fault_middleware

__all__ = ["OkxConfig", "OkxTwin", "okx_specs", "okx_twin_factory", "VENUE"]

VENUE = "okx"

# (tick, ctVal) of the linear USDT swaps, as the live venue sizes them.
_LINEAR: dict[str, tuple[str, str]] = {
    "BTC": ("0.1", "0.01"), "ETH": ("0.01", "0.1"), "SOL": ("0.01", "1"), "XRP": ("0.0001", "100"),
    "DOGE": ("0.00001", "1000"), "BNB": ("0.01", "0.01"),
}
# (tick, ctVal in USD) of the inverse USD swaps served.
_INVERSE: dict[str, tuple[str, str]] = {"BTC": ("0.1", "100"), "ETH": ("0.01", "10")}


def okx_specs(underlyings: list[str]) -> list[InstrumentSpec]:
    """Linear ``-USDT-SWAP`` specs for every underlying, then inverse ``-USD-SWAP`` for BTC and ETH."""
    out = []
    for u in underlyings:
        tick, ct = _LINEAR.get(u, ("0.01", "1"))
        out.append(InstrumentSpec(f"{u}-USDT-SWAP", u, "USDT", Decimal(tick), Decimal(1), Decimal(ct), settle="USDT"))
    for u in underlyings:
        if u in _INVERSE:
            tick, ct = _INVERSE[u]
            out.append(InstrumentSpec(f"{u}-USD-SWAP", u, "USD", Decimal(tick), Decimal(1), Decimal(ct), inverse=True, settle=u))
    return out


@dataclass(frozen=True, slots=True)
class OkxConfig:
    """Knobs of the OKX twin (all have venue-realistic defaults).

    ``timestamp_window_s``: allowed REST/login clock difference (30 s live). ``idle_timeout_s``: a WebSocket
    with no traffic either way for this long is closed (30 s live). ``balances``: initial wallet per currency.
    """

    credentials: tuple[Credentials, ...] = ()
    limits: RateLimits = field(default_factory=RateLimits)
    timestamp_window_s: float = 30.0
    idle_timeout_s: float = 30.0
    balances: Mapping[str, Decimal] = field(default_factory=lambda: {
        "USDT": Decimal(100_000), "BTC": Decimal(2), "ETH": Decimal(40)})
    leverage: int = 20
    send_queue: int = 10_000
    uid: str = "614488474791936"


@dataclass(slots=True)
class _Depth:
    mirror: BookMirror
    seq: int
    last_bbo: tuple[Any, ...] = ()


class OkxTwin:
    """OKX v5 SWAP twin (implements ``simulator.twin.Twin``).

    Args:
        model: The shared market model (books are added for each instrument).
        config: Twin knobs.
        clock_ms: Wall clock in epoch ms (injected).
        seed: Seed for ids (seqId jumps, generated credentials, connection ids).
    """

    venue = VENUE

    def __init__(self, model: MarketModel, config: OkxConfig | None = None,
                 clock_ms: Callable[[], int] | None = None, seed: int = 0) -> None:
        from simulator import okx_rest, okx_ws  # local: they import this module's types

        cfg = config or OkxConfig()
        if not cfg.credentials:
            rng_key = random.Random(seed ^ 0x0C5)
            hexd = "0123456789abcdef"
            key = "-".join("".join(rng_key.choice(hexd) for _ in range(n)) for n in (8, 4, 4, 4, 12))
            secret = "".join(rng_key.choice("0123456789ABCDEF") for _ in range(32))
            cfg = replace(cfg, credentials=(Credentials(key, secret, "Twin-Passphrase1"),))
        self.config = cfg
        self.credentials = cfg.credentials[0]
        self.keys = {c.api_key: c for c in cfg.credentials}
        self.model = model
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self.rng = random.Random(seed ^ 0x0C51)
        self.faults = FaultController()
        self.specs: dict[str, InstrumentSpec] = {}
        for spec in okx_specs(model.underlyings):
            model.add_book(VENUE, spec)
            self.specs[spec.symbol] = spec
        books = {s: model.book(VENUE, s) for s in self.specs}
        self.engine = MatchingEngine(self.specs, books, Account(dict(cfg.balances), leverage=cfg.leverage),
                                     first_order_id=680_800_019_749_904_384)
        self.depth = {s: _Depth(BookMirror(b), self.rng.randint(10**9, 10**10)) for s, b in books.items()}
        for d in self.depth.values():
            d.mirror.update_id = d.seq
        self.trades: dict[str, deque[tuple[PublicTrade, int]]] = {s: deque(maxlen=1000) for s in self.specs}
        self.klines = {s: {bar: KlineAggregator(INTERVAL_MS[k]) for bar, k in fmt.BARS.items()} for s in self.specs}
        self.order_meta: dict[int, fmt.OrderMeta] = {}
        self.last_fill: dict[int, fmt.LastFill] = {}
        self.engine.on_forget.append(self._forget)
        self.limits = LimitState(cfg.limits)
        self.list_time_ms = 1611916828000
        self.streams = okx_ws.OkxStreams(self)
        self.faults.add_listener(self._on_fault)
        app = web.Application(middlewares=[fault_middleware(self)])
        app.add_routes(admin_routes(self))
        app.add_routes(self.streams.routes())
        app.add_routes(okx_rest.routes(self))
        self.app = app

    # -- Twin protocol ------------------------------------------------------------------------------------
    def now_ms(self) -> int:
        """Server time: the injected clock plus any CLOCK_SKEW fault."""
        return self._clock_ms() + int(self.faults.param(FaultKind.CLOCK_SKEW, "ms", 0))

    def urls(self, base_http: str, base_ws: str) -> TwinUrls:
        return TwinUrls(base_http, {p: f"{base_ws}/ws/v5/{p}" for p in ("public", "business", "private")})

    def book_json(self, symbol: str, depth: int) -> dict[str, Any] | None:
        d = self.depth.get(symbol.upper())
        if d is None:
            return None
        return book_json([(fmt.num(p), fmt.num(s)) for p, s in d.mirror.bids(depth)],
                         [(fmt.num(p), fmt.num(s)) for p, s in d.mirror.asks(depth)], d.mirror.update_id)

    def error_response(self, kind: str, status: int) -> web.Response:
        if kind in (ErrorKind.RATE_LIMITED, ErrorKind.BANNED):  # OKX documents no timed IP ban: its 50011 / 429
            return web.json_response({"code": "50011", "msg": RATE_LIMIT_MSG, "data": []}, status=429)
        if status == 500:
            return web.json_response({"code": "50026", "msg": "System error. Try again later", "data": []}, status=500)
        body = {"code": "50001", "msg": "Service temporarily unavailable. Please try again later.", "data": []}
        return web.json_response(body, status=status)

    async def aclose(self) -> None:
        await self.streams.close_all()

    # -- faults -------------------------------------------------------------------------------------------
    def _on_fault(self, fault: Fault) -> None:
        if fault.kind is FaultKind.DROP_WS:
            if fault.until is None:
                self.faults.consume(FaultKind.DROP_WS)
            self.streams.drop_all()
        elif fault.kind is FaultKind.MALFORMED_FRAME:
            if fault.until is None:
                self.faults.consume(FaultKind.MALFORMED_FRAME)
            self.streams.mark_malformed()

    # -- helpers used by REST and WS -----------------------------------------------------------------------
    def last_price(self, symbol: str) -> Decimal:
        trades = self.trades[symbol]
        return trades[-1][0].price if trades else self.engine.books[symbol].mid().quantize(self.specs[symbol].tick)

    def mark(self, symbol: str) -> Decimal:
        return self.engine.books[symbol].mid().quantize(self.specs[symbol].tick / 10)

    def usd_price(self, ccy: str) -> Decimal:
        """USD value of one unit of ``ccy`` (stablecoins 1, coins from their linear swap mark)."""
        if ccy in ("USDT", "USDC", "USD"):
            return Decimal(1)
        sym = f"{ccy}-USDT-SWAP"
        return self.mark(sym) if sym in self.specs else Decimal(0)

    def _forget(self, order: Order) -> None:
        self.order_meta.pop(order.order_id, None)
        self.last_fill.pop(order.order_id, None)

    def order_json(self, order_id: int) -> dict[str, Any]:
        o = self.engine.orders[order_id]
        return fmt.order_details(self.specs[o.symbol], o, self.order_meta.get(order_id, fmt.OrderMeta()),
                                 self.last_fill.get(order_id), self.engine.account.leverage)

    def book_update(self, symbol: str, seq: int, prev: int, bids: list[list[str]], asks: list[list[str]],
                    ts: int, check: int) -> dict[str, Any]:
        """One ``books`` data row."""
        return {"asks": asks, "bids": bids, "ts": str(ts), "checksum": check, "prevSeqId": prev, "seqId": seq}

    # -- market -------------------------------------------------------------------------------------------
    def on_market(self, changes: dict[str, BookChanges], now_ms: int) -> None:
        """Publish one model step: match resting orders, books/books5/bbo-tbt/trades/tickers/candles, private."""
        now = now_ms + int(self.faults.param(FaultKind.CLOCK_SKEW, "ms", 0))
        for symbol, ch in changes.items():
            self.engine.on_market(symbol, now)
            extra = self.engine.books[symbol].drain_changes()
            if extra:
                ch = ch.merged(extra)
            self._publish(symbol, ch, now)
        self.flush_user_events(now)

    def _publish(self, symbol: str, ch: BookChanges, now: int) -> None:
        spec, d = self.specs[symbol], self.depth[symbol]
        if ch.bids or ch.asks:
            prev = d.seq
            d.seq = prev + self.rng.randint(1, 12)
            d.mirror.apply(ch, d.seq)
            check = fmt.checksum(fmt.levels(d.mirror.bids(25)), fmt.levels(d.mirror.asks(25)))
            if self._fires(FaultKind.CORRUPT_CHECKSUM, symbol):
                check = check - 1 if check > -(1 << 31) else check + 1
            row = self.book_update(symbol, d.seq, prev, fmt.levels(ch.bids), fmt.levels(ch.asks), now, check)
            if not self._fires(FaultKind.SKIP_SEQUENCE, symbol):
                self.streams.publish("books", symbol, [row], action="update")
            self.streams.publish("books5", symbol, lambda: [{
                "asks": fmt.levels(d.mirror.asks(5)), "bids": fmt.levels(d.mirror.bids(5)), "instId": symbol,
                "ts": str(now), "seqId": d.seq}])
            bb, ba = d.mirror.bids(1), d.mirror.asks(1)
            bbo = (tuple(bb), tuple(ba))
            if bbo != d.last_bbo and bb and ba:
                d.last_bbo = bbo
                self.streams.publish("bbo-tbt", symbol, lambda: [{
                    "asks": fmt.levels(ba), "bids": fmt.levels(bb), "ts": str(now), "seqId": d.seq}])
                self.streams.publish("tickers", symbol, lambda: [self.ticker(symbol, now)])
        for t in ch.trades:
            self.trades[symbol].append((t, now))
            quote = spec.notional(t.qty, t.price) if spec.inverse else t.qty * spec.contract_size * t.price
            self.streams.publish("trades", symbol, functools.partial(_one, fmt.trade_row, spec, t, now, push=True))
            for bar, agg in self.klines[symbol].items():
                k = agg.add(now, t.price, t.qty, quote, t.taker_side.value == "BUY", t.trade_id)
                self.streams.publish(f"candle{bar}", symbol, functools.partial(_one, fmt.candle_row, spec, k, False))

    def _fires(self, kind: FaultKind, symbol: str) -> bool:
        """Consume a one-shot book fault for ``symbol`` (its ``symbol`` param, if any, picks the instrument)."""
        fault = self.faults.active(kind)
        if fault is None or fault.params.get("symbol", symbol) != symbol:
            return False
        return self.faults.consume(kind) is not None

    def ticker(self, symbol: str, now: int) -> dict[str, Any]:
        """The ticker row of ``symbol`` right now (REST and the ``tickers`` channel)."""
        spec, d = self.specs[symbol], self.depth[symbol]
        day = [(t, ts) for t, ts in self.trades[symbol] if ts > now - 86_400_000]
        last = self.last_price(symbol)
        last_sz = day[-1][0].qty if day else Decimal(0)
        open0 = next((t.price for t, ts in day if ts >= now - now % 86_400_000), last)
        utc8 = now - (now + 8 * 3_600_000) % 86_400_000
        open8 = next((t.price for t, ts in day if ts >= utc8), last)
        return fmt.ticker_row(spec, d.mirror.bids(1)[0], d.mirror.asks(1)[0], last, last_sz, day, open0, open8, now)

    def flush_user_events(self, now: int | None = None) -> None:
        """Turn engine events into ``orders`` / ``positions`` / ``account`` pushes on the private streams."""
        for ev in self.engine.drain_events():
            if isinstance(ev, OrderEvent):
                o, this_fill = ev.order, None
                if ev.exec_type is ExecType.TRADE:
                    this_fill = fmt.LastFill(ev.last_price, ev.last_qty, ev.trade_id, ev.ts_ms, ev.fee,
                                             ev.realized_pnl, ev.is_maker)
                    self.last_fill[o.order_id] = this_fill
                meta = self.order_meta.get(o.order_id, fmt.OrderMeta())
                row = fmt.order_push(self.specs[o.symbol], o, meta, self.last_fill.get(o.order_id),
                                     self.engine.account.leverage, this_fill, self.last_price(o.symbol),
                                     "14" if ev.exec_type is ExecType.EXPIRED else "")
                self.streams.publish_private("orders", o.symbol, [row])
            elif isinstance(ev, AccountEvent):
                self.streams.publish_private("positions", ev.symbol, None)
                self.streams.publish_private("account", ev.symbol, None)


def _one(build: Callable[..., Any], *args: Any, **kwargs: Any) -> list[Any]:
    """A one-row ``data`` list built lazily (only when someone subscribed)."""
    return [build(*args, **kwargs)]


def okx_twin_factory(model: MarketModel, seed: int, options: dict[str, Any]) -> OkxTwin:
    """Registry factory: ``options`` may hold ``config`` (an ``OkxConfig``), ``clock_ms``, or OkxConfig fields."""
    names = {f.name for f in fields(OkxConfig)}
    config = options.get("config") or OkxConfig(**{k: v for k, v in options.items() if k in names})
    return OkxTwin(model, config, clock_ms=options.get("clock_ms"), seed=seed)
