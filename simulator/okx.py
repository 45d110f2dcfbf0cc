"""The OKX v5 SWAP twin: state, market publishing and app assembly.

Invariants:
- Instruments: ``<U>-USDT-SWAP`` (linear, ctVal in base coin, settles USDT) for every underlying of the model,
  plus ``BTC-USD-SWAP`` / ``ETH-USD-SWAP`` (inverse, ctVal in USD, settle in the coin). Sizes are contracts.
- One account, served to every configured API key, cross margin, in ``net_mode`` (one net position per
  instrument) or ``long_short_mode`` (a long and a short position each; ``OkxConfig.hedge``, or
  POST /api/v5/account/set-position-mode while nothing is open).
- Instruments are ``live`` unless ``OkxConfig.instrument_states`` names another state (suspend, preopen,
  test); an order on one that is not live is refused with 51022.
- ``books`` seqIds grow by a random positive jump per published event; every update's ``prevSeqId`` equals
  the previous event's ``seqId`` unless a SKIP_SEQUENCE fault hid an event. GET /api/v5/market/books answers
  from the published book (``BookMirror``) with its ``seqId``, so a REST snapshot lines up with the stream.
- ``checksum`` is 0, as OKX sends it since 2026-06-23 (production; 2026-06-02 demo): notice "Order Book
  Channels Checksum Field Deprecation". ``OkxConfig.real_checksum`` brings back the CRC32 of the top 25
  levels of the published book after each event (old captures, pre-deprecation clients). CORRUPT_CHECKSUM
  puts a wrong value in the next push either way (a client that still reads the field resyncs).
- A ``books`` subscription is answered with the initial ``action: snapshot`` (OKX still sends it; the newest
  widely used clients rely on it); ``OkxConfig.book_snapshot = False`` leaves it out, as OKX announced
  (changelog "Delist initial snapshot and checksum field in order book channels", 2026-02-12): clients must
  then bootstrap from GET /api/v5/market/books.
- Cancel All After (okx_caa.py): the account's timers live in ``twin.caa``; when one runs out, every pending
  order of its scope is cancelled through the engine (``cancel_pending``) and pushed as ``canceled`` with
  ``cancelSource`` "20".
- All REST paths live in okx_rest.py, all WebSocket handling in okx_ws.py; this module owns state and wiring.
  They import okx_config.py (config, records, ``OkxTwinLike``), never this module.
  Server time is the injected clock plus any CLOCK_SKEW fault.
"""

from __future__ import annotations

import functools
import random
from collections import deque
from collections.abc import Callable
from dataclasses import fields, replace
from decimal import Decimal
from typing import Any

from aiohttp import web

from simulator import okx_format as fmt
from simulator import okx_rest, okx_ws
from simulator.account import Account
from simulator.book import BookChanges, BookMirror, Depth, PublicTrade
from simulator.faults import Fault, FaultKind
from simulator.instruments import InstrumentSpec
from simulator.klines import INTERVAL_MS, KlineAggregator
from simulator.market import MarketModel
from simulator.matching import AccountEvent, ExecType, MatchingEngine, Order, OrderEvent
from simulator.okx_auth import RATE_LIMIT_MSG, LimitState
from simulator.okx_caa import CancelAllAfter
from simulator.okx_caa import admin_routes as caa_admin_routes
from simulator.okx_config import OkxConfig
from simulator.twin import (
    Credentials,
    ErrorKind,
    TwinBase,
    TwinUrls,
    twin_app,
)

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


def _okx_credentials(seed: int) -> Credentials:
    """OKX-shaped credentials drawn from ``seed``: a UUID-like key, a 32-hex-digit secret and a passphrase."""
    rng = random.Random(seed)
    hexd = "0123456789abcdef"
    key = "-".join("".join(rng.choice(hexd) for _ in range(n)) for n in (8, 4, 4, 4, 12))
    secret = "".join(rng.choice("0123456789ABCDEF") for _ in range(32))
    return Credentials(key, secret, "Twin-Passphrase1")


class OkxTwin(TwinBase[OkxConfig]):
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
        super().__init__(model, config or OkxConfig(), clock_ms, random.Random(seed ^ 0x0C51),
                         lambda: _okx_credentials(seed ^ 0x0C5))
        cfg = self.config
        books = self.add_books(okx_specs(model.underlyings))
        self.engine = MatchingEngine(self.specs, books,
                                     Account(dict(cfg.balances), leverage=cfg.leverage, hedge=cfg.hedge),
                                     first_order_id=680_800_019_749_904_384)
        self.instrument_states = dict(cfg.instrument_states)
        self.depth = {s: Depth(BookMirror(b, self.rng.randint(10**9, 10**10))) for s, b in books.items()}
        self.trades: dict[str, deque[tuple[PublicTrade, int]]] = {s: deque(maxlen=1000) for s in self.specs}
        self.klines = {s: {bar: KlineAggregator(INTERVAL_MS[k]) for bar, k in fmt.BARS.items()} for s in self.specs}
        self.order_meta: dict[int, fmt.OrderMeta] = {}
        self.last_fill: dict[int, fmt.LastFill] = {}
        self.engine.on_forget.append(self._forget)
        self.limits = LimitState(cfg.limits)
        self.list_time_ms = 1611916828000
        self.streams = okx_ws.OkxStreams(self)
        self.caa = CancelAllAfter(self.now_ms, self.cancel_pending)
        self.faults.add_listener(self._on_fault)
        self.app = twin_app(self, caa_admin_routes(self), self.streams.routes(), okx_rest.routes(self))

    # -- Twin protocol ------------------------------------------------------------------------------------

    def urls(self, base_http: str, base_ws: str) -> TwinUrls:
        return TwinUrls(base_http, {p: f"{base_ws}/ws/v5/{p}" for p in ("public", "business", "private")})

    def _published(self, symbol: str) -> tuple[InstrumentSpec, BookMirror] | None:
        d = self.depth.get(symbol.upper())
        return None if d is None else (self.specs[symbol.upper()], d.mirror)

    def _print_level(self, spec: InstrumentSpec, price: Decimal, size: Decimal) -> tuple[str, str]:
        return fmt.num(price), fmt.num(size)

    def error_response(self, kind: str, status: int) -> web.Response:
        if kind in (ErrorKind.RATE_LIMITED, ErrorKind.BANNED):  # OKX documents no timed IP ban: its 50011 / 429
            return web.json_response({"code": "50011", "msg": RATE_LIMIT_MSG, "data": []}, status=429)
        if status == 500:
            return web.json_response({"code": "50026", "msg": "System error. Try again later", "data": []}, status=500)
        body = {"code": "50001", "msg": "Service temporarily unavailable. Please try again later.", "data": []}
        return web.json_response(body, status=status)

    async def aclose(self) -> None:
        self.caa.close()
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
        elif fault.kind is FaultKind.UNKNOWN_EVENT:  # kept for the next public connection while none is open
            pushed = self.streams.push_unknown_channel(str(fault.params.get("event", "x_new_event")), self.now_ms())
            if pushed and fault.until is None:
                self.faults.consume(FaultKind.UNKNOWN_EVENT)

    def drift_rows(self, rows: Any) -> Any:
        """``rows`` with the UNKNOWN_FIELD fault's extra field in each object row, while it is active (lists of
        objects only: candle rows are arrays, and OKX has no place for a field there)."""
        fault = self.faults.active(FaultKind.UNKNOWN_FIELD)
        if fault is None or not isinstance(rows, list):
            return rows
        name, value = str(fault.params.get("field", "x_new_field")), fault.params.get("value", 1)
        return [r | {name: value} if isinstance(r, dict) else r for r in rows]

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

    def cancel_pending(self, tag: str, now: int) -> list[int]:
        """Cancel All After ran out: cancel every pending order (only those placed with ``tag`` when it is
        set) as the engine cancels any order, push them with ``cancelSource`` "20"; their order ids."""
        cancelled = []
        for o in self.engine.open_orders():
            meta = self.order_meta.get(o.order_id, fmt.OrderMeta())
            if tag and meta.tag != tag:
                continue
            self.order_meta[o.order_id] = replace(meta, cancel_source=fmt.CANCEL_ALL_AFTER_SOURCE)
            self.engine.cancel(o.symbol, now, o.order_id)
            cancelled.append(o.order_id)
        self.flush_user_events(now)
        return cancelled

    def _forget(self, order: Order) -> None:
        self.order_meta.pop(order.order_id, None)
        self.last_fill.pop(order.order_id, None)

    def order_json(self, order_id: int) -> dict[str, Any]:
        o = self.engine.orders[order_id]
        return fmt.order_details(self.specs[o.symbol], o, self.order_meta.get(order_id, fmt.OrderMeta()),
                                 self.last_fill.get(order_id), self.engine.account.leverage)

    def book_update(self, symbol: str, seq: int, prev: int, bids: list[list[str]], asks: list[list[str]],
                    ts: int) -> dict[str, Any]:
        """One ``books`` data row; its checksum is 0, or the CRC32 of the published top 25 with ``real_checksum``."""
        check = 0
        if self.config.real_checksum:
            mirror = self.depth[symbol].mirror
            check = fmt.checksum(fmt.levels(mirror.bids(25)), fmt.levels(mirror.asks(25)))
        return {"asks": asks, "bids": bids, "ts": str(ts), "checksum": check, "prevSeqId": prev, "seqId": seq}

    def instrument_state(self, symbol: str) -> str:
        """OKX's ``state`` of ``symbol``: live unless configured otherwise."""
        return self.instrument_states.get(symbol, "live")

    # -- market -------------------------------------------------------------------------------------------
    # ``on_market`` (TwinBase): per symbol books/books5/bbo-tbt/trades/tickers/candles, then private channels.
    def _after_step(self, now: int) -> None:
        self.flush_user_events(now)

    def _publish(self, symbol: str, ch: BookChanges, now: int) -> None:
        spec, d = self.specs[symbol], self.depth[symbol]
        if ch.bids or ch.asks:
            prev = d.mirror.update_id
            seq = prev + self.rng.randint(1, 12)
            d.mirror.apply(ch, seq)
            row = self.book_update(symbol, seq, prev, fmt.levels(ch.bids), fmt.levels(ch.asks), now)
            if self._fires(FaultKind.CORRUPT_CHECKSUM, symbol):
                check = row["checksum"]
                row["checksum"] = check - 1 if check > -(1 << 31) else check + 1
            if not self._fires(FaultKind.SKIP_SEQUENCE, symbol):
                self.streams.publish("books", symbol, [row], action="update")
            self.streams.publish("books5", symbol, lambda: [{
                "asks": fmt.levels(d.mirror.asks(5)), "bids": fmt.levels(d.mirror.bids(5)), "instId": symbol,
                "ts": str(now), "seqId": seq}])
            bb, ba = d.mirror.bids(1), d.mirror.asks(1)
            bbo = (tuple(bb), tuple(ba))
            if bbo != d.last_top and bb and ba:
                d.last_top = bbo
                self.streams.publish("bbo-tbt", symbol, lambda: [{
                    "asks": fmt.levels(ba), "bids": fmt.levels(bb), "ts": str(now), "seqId": seq}])
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
                source = "14" if ev.exec_type is ExecType.EXPIRED else ""
                if ev.exec_type is ExecType.CANCELED:
                    source = meta.cancel_source
                row = fmt.order_push(self.specs[o.symbol], o, meta, self.last_fill.get(o.order_id),
                                     self.engine.account.leverage, this_fill, self.last_price(o.symbol), source)
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
