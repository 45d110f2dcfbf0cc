"""The Binance USD-M futures twin: state, market publishing and app assembly.

Invariants:
- One account, served to every configured API key; one IP bucket for request weight.
- Depth update ids grow by a random positive jump per event (never contiguous, as on the real venue);
  every event's ``pu`` equals the previous event's ``u`` unless a SKIP_SEQUENCE fault hid an event.
- REST depth snapshots come from the ``BookMirror`` (the published book), so ``lastUpdateId`` always sits
  on the stream: the event with ``u == lastUpdateId`` is the first a client applies.
- All REST paths live in binance_rest.py, all WebSocket handling in binance_ws.py; this module only owns
  state and wiring (they import binance_config.py, never this module). Time is the injected clock plus any
  CLOCK_SKEW fault.
- The user-data stream carries what the venue sends today: TRADE_LITE ahead of each fill's
  ORDER_TRADE_UPDATE, ACCOUNT_UPDATE after it, ACCOUNT_CONFIG_UPDATE on a leverage change; the other
  documented events (ALGO_UPDATE, STRATEGY_UPDATE, GRID_UPDATE, CONDITIONAL_ORDER_TRIGGER_REJECT,
  MARGIN_CALL...) are pushed on demand (``emit_user_event`` / ``POST /__admin/user_event``).
- Position mode: one-way unless ``BinanceConfig.hedge_mode`` or POST /fapi/v1/positionSide/dual says hedge.
- Drift faults: UNKNOWN_FIELD adds one field to every market-data push's event object (binance_ws
  ``StreamHub.publish``) and to every JSON answer of the REST routes (binance_rest ``_wrap``: the top-level
  object, or each object row of a list); UNKNOWN_EVENT sends one ``{"e": <event>, "E", "s"}`` frame on every
  public and market connection (wrapped ``{"stream", "data"}`` on combined ones), never on user data.
- Auto-cancel countdowns (POST /fapi/v1/countdownCancelAll) are ``self.countdowns`` (binance_countdown.py):
  one per symbol on the twin clock, checked about every 10 ms; one that runs out cancels that symbol's open
  orders through the engine, with the user data of any cancel.
"""

from __future__ import annotations

import random
import secrets
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from aiohttp import web

from simulator import binance_format as fmt
from simulator import binance_rest, binance_ws
from simulator.account import Account
from simulator.binance_auth import LimitState
from simulator.binance_config import BinanceConfig
from simulator.binance_countdown import Countdowns
from simulator.book import BookChanges, BookMirror, Depth, PublicTrade
from simulator.faults import Fault, FaultKind
from simulator.instruments import InstrumentSpec
from simulator.klines import INTERVAL_MS, KlineAggregator
from simulator.market import MarketModel
from simulator.matching import ExecType, MatchingEngine, OrderEvent
from simulator.twin import (
    ErrorKind,
    TwinBase,
    TwinUrls,
    ban_remaining_s,
    random_credentials,
    twin_app,
)

__all__ = ["BinanceConfig", "BinanceTwin", "binance_specs", "VENUE"]

VENUE = "binance"

# (tick, step, min notional) per underlying, as the live venue sizes its USDT perpetuals.
_SIZING: dict[str, tuple[str, str, str]] = {
    "BTC": ("0.10", "0.001", "100"), "ETH": ("0.01", "0.001", "20"), "SOL": ("0.0100", "1", "5"),
    "XRP": ("0.0001", "0.1", "5"), "DOGE": ("0.000010", "1", "5"), "BNB": ("0.010", "0.01", "5"),
}


def binance_specs(underlyings: list[str]) -> list[tuple[InstrumentSpec, Decimal]]:
    """``<UNDERLYING>USDT`` perpetual specs with their min notional."""
    out = []
    for u in underlyings:
        tick, step, notional = _SIZING.get(u, ("0.01", "0.001", "5"))
        out.append((InstrumentSpec(f"{u}USDT", u, "USDT", Decimal(tick), Decimal(step)), Decimal(notional)))
    return out


class BinanceTwin(TwinBase[BinanceConfig]):
    """Binance USD-M twin (implements ``simulator.twin.Twin``).

    Args:
        model: The shared market model (books are added for each underlying it prices).
        config: Twin knobs.
        clock_ms: Wall clock in epoch ms (injected).
        seed: Seed for ids (update-id jumps, listen keys).
    """

    venue = VENUE

    def __init__(self, model: MarketModel, config: BinanceConfig | None = None,
                 clock_ms: Callable[[], int] | None = None, seed: int = 0) -> None:
        super().__init__(model, config or BinanceConfig(), clock_ms, random.Random(seed ^ 0xB17A),
                         lambda: random_credentials(seed ^ 0xB1, 64, 64))
        cfg = self.config
        books = self.add_sized_books(binance_specs(model.underlyings))
        self.engine = MatchingEngine(self.specs, books, Account({"USDT": cfg.balance_usdt}, hedge=cfg.hedge_mode))
        self.depth = {s: Depth(BookMirror(b, self.rng.randint(10**11, 10**12))) for s, b in books.items()}
        self.trades: dict[str, deque[tuple[PublicTrade, int]]] = {s: deque(maxlen=1000) for s in self.specs}
        self.klines = {s: {i: KlineAggregator(ms) for i, ms in INTERVAL_MS.items()} for s in self.specs}
        self.limits = LimitState(cfg.limits)
        self.listen_keys: dict[str, int] = {}  # key -> expiry (server ms)
        self.margin_types: dict[str, str] = dict.fromkeys(self.specs, "CROSSED")  # POST /fapi/v1/marginType
        self.leverages: dict[str, int] = dict.fromkeys(self.specs, self.engine.account.leverage)
        self.countdowns = Countdowns(self.now_ms, self._countdown_ran_out)
        self._last_slow_ms = 0
        self.streams = binance_ws.StreamHub(self)
        self.faults.add_listener(self._on_fault)
        self.app = twin_app(self, [web.post("/__admin/user_event", self._admin_user_event)], self.countdowns.routes(),
                            binance_rest.routes(self), self.streams.routes())
        self.app.on_cleanup.append(self._close_countdowns)

    # -- Twin protocol ------------------------------------------------------------------------------------

    def urls(self, base_http: str, base_ws: str) -> TwinUrls:
        return TwinUrls(base_http, {
            "public": f"{base_ws}/public", "market": f"{base_ws}/market", "private": f"{base_ws}/private",
            "legacy": base_ws,
        })

    def _published(self, symbol: str) -> tuple[InstrumentSpec, BookMirror] | None:
        d = self.depth.get(symbol.upper())
        return None if d is None else (self.specs[symbol.upper()], d.mirror)

    def error_response(self, kind: str, status: int) -> web.Response:
        if kind == ErrorKind.BANNED:  # as LimitState's own ban: 418, -1003 "banned until <ms>", Retry-After
            left_ms = int(ban_remaining_s(self.faults) * 1000)
            until = self.now_ms() + left_ms
            msg = f"Way too many requests; IP banned until {until}. Please use the websocket for live updates to avoid bans."
            headers = {"Retry-After": str(max(1, (left_ms + 999) // 1000))} | self.limits.headers(False)
            return web.json_response({"code": -1003, "msg": msg}, status=418, headers=headers)
        if kind == ErrorKind.RATE_LIMITED:
            body = {"code": -1003, "msg": "Too many requests; current request has limited."}
            return web.json_response(body, status=429, headers={"Retry-After": "1"} | self.limits.headers(False))
        body = {"code": -1000, "msg": "An unknown error occured while processing the request."}
        return web.json_response(body, status=status)

    async def aclose(self) -> None:
        await self.streams.close_all()

    async def _close_countdowns(self, _: web.Application) -> None:
        self.countdowns.close()

    def _countdown_ran_out(self, symbol: str, now_ms: int) -> list[str]:
        """A countdown ran out: cancel every open order of ``symbol``, push the user data, return the ids."""
        cancelled = self.engine.cancel_all(symbol, now_ms)
        self.flush_user_events(now_ms)
        return [o.client_id for o in cancelled]

    # -- faults -------------------------------------------------------------------------------------------
    def _on_fault(self, fault: Fault) -> None:
        if fault.kind is FaultKind.DROP_WS:
            self.streams.drop_all()
            self.faults.consume(FaultKind.DROP_WS)  # one-shot unless it has a duration
        elif fault.kind is FaultKind.MALFORMED_FRAME:
            self.streams.mark_malformed()
            self.faults.consume(FaultKind.MALFORMED_FRAME)
        elif fault.kind is FaultKind.EXPIRE_LISTEN_KEY:
            self.faults.consume(FaultKind.EXPIRE_LISTEN_KEY)
            self.expire_listen_keys(all_keys=True)
        elif fault.kind is FaultKind.UNKNOWN_EVENT:  # kept for the next public connection while none is open
            if self.streams.push_unknown_event(str(fault.params.get("event", "x_new_event")), self.now_ms()):
                self.faults.consume(FaultKind.UNKNOWN_EVENT)

    # -- listen keys --------------------------------------------------------------------------------------
    def create_listen_key(self) -> str:
        """POST /fapi/v1/listenKey: the existing valid key is returned (and extended) if there is one."""
        now = self.now_ms()
        for key, exp in self.listen_keys.items():
            if exp > now:
                self.listen_keys[key] = now + int(self.config.listen_key_ttl_s * 1000)
                return key
        key = secrets.token_urlsafe(48)[:64].replace("-", "a").replace("_", "b")
        self.listen_keys[key] = now + int(self.config.listen_key_ttl_s * 1000)
        return key

    def listen_key_valid(self, key: str) -> bool:
        return self.listen_keys.get(key, 0) > self.now_ms()

    def expire_listen_keys(self, all_keys: bool = False) -> None:
        """Expire keys past their time (or all): send ``listenKeyExpired`` and close their streams."""
        now = self.now_ms()
        for key, exp in list(self.listen_keys.items()):
            if all_keys or exp <= now:
                del self.listen_keys[key]
                self.streams.expire_user(key, {"e": "listenKeyExpired", "E": now, "listenKey": key})

    # -- market -------------------------------------------------------------------------------------------
    # ``on_market`` (TwinBase): per symbol depth/bookTicker/trade/kline streams, then user data, the
    # once-a-second mark/ticker streams and listen-key expiry.
    def _after_step(self, now: int) -> None:
        self.flush_user_events(now)
        if now - self._last_slow_ms >= 1000:
            self._last_slow_ms = now
            for symbol in self.specs:
                self.streams.publish_slow(symbol, now)
        if self.listen_keys:
            self.expire_listen_keys()

    def _publish(self, symbol: str, ch: BookChanges, now: int) -> None:
        spec, d = self.specs[symbol], self.depth[symbol]
        first = d.mirror.update_id + self.rng.randint(1, 40)
        final = first + self.rng.randint(0, 3 * (len(ch.bids) + len(ch.asks)))
        event = fmt.depth_event(spec, now, first, final, d.mirror.update_id, ch.bids, ch.asks)
        d.mirror.apply(ch, final)
        if self.faults.consume(FaultKind.SKIP_SEQUENCE) is None:
            self.streams.publish_depth(symbol, event, d.mirror, now)
        bb, ba = d.mirror.bids(1), d.mirror.asks(1)
        bbo = (tuple(bb), tuple(ba))
        if bbo != d.last_top and bb and ba:
            d.last_top = bbo
            self.streams.publish(f"{symbol.lower()}@bookTicker", lambda: {
                "e": "bookTicker", "u": final, "s": symbol, "b": fmt.px(spec, bb[0][0]), "B": fmt.qty(spec, bb[0][1]),
                "a": fmt.px(spec, ba[0][0]), "A": fmt.qty(spec, ba[0][1]), "T": now - 1, "E": now})
        for t in ch.trades:
            self.trades[symbol].append((t, now))
            quote = t.price * t.qty * spec.contract_size
            for interval, agg in self.klines[symbol].items():
                k = agg.add(now, t.price, t.qty, quote, t.taker_side.value == "BUY", t.trade_id)
                stream = f"{symbol.lower()}@kline_{interval}"
                self.streams.publish(stream, lambda k=k, interval=interval: fmt.kline_event(spec, k, interval, now))  # type: ignore[misc]
            self.streams.publish(f"{symbol.lower()}@trade", lambda t=t: {  # type: ignore[misc]
                "e": "trade", "E": now, "T": now - 1, "s": symbol, "t": t.trade_id, "p": fmt.px(spec, t.price),
                "q": fmt.qty(spec, t.qty), "X": "MARKET", "m": t.taker_side.value == "SELL"})
            self.streams.publish(f"{symbol.lower()}@aggTrade", lambda t=t: {  # type: ignore[misc]
                "e": "aggTrade", "E": now, "a": t.trade_id, "s": symbol, "p": fmt.px(spec, t.price),
                "q": fmt.qty(spec, t.qty), "f": t.trade_id, "l": t.trade_id, "T": now - 1,
                "m": t.taker_side.value == "SELL"})

    def flush_user_events(self, now: int | None = None) -> None:
        """Turn engine events into TRADE_LITE (fills) / ORDER_TRADE_UPDATE / ACCOUNT_UPDATE on the user-data
        streams."""
        event_ms = now if now is not None else self.now_ms()
        for ev in self.engine.drain_events():
            if isinstance(ev, OrderEvent):
                spec = self.specs[ev.order.symbol]
                if ev.exec_type is ExecType.TRADE:
                    self.streams.publish_user(fmt.trade_lite(spec, ev, event_ms))
                payload = fmt.order_trade_update(spec, ev, event_ms)
            else:
                payload = fmt.account_update(self.specs[ev.symbol], ev, event_ms)
            self.streams.publish_user(payload)

    def emit_user_event(self, name: str, **fields: Any) -> dict[str, Any]:
        """Push a documented user-data event (binance_format.USER_EVENT_EXAMPLES) on every user stream now.

        Args:
            name: ALGO_UPDATE, STRATEGY_UPDATE, GRID_UPDATE, CONDITIONAL_ORDER_TRIGGER_REJECT, MARGIN_CALL,
                ACCOUNT_CONFIG_UPDATE or TRADE_LITE.
            fields: Keys replacing the example's (an object's keys are merged, e.g. ``o={"X": "NEW"}``).

        Returns:
            The payload sent.

        Raises:
            KeyError: an event type the twin has no example of.
        """
        payload = fmt.user_event(name, self.now_ms(), fields)
        self.streams.publish_user(payload)
        return payload

    async def _admin_user_event(self, request: web.Request) -> web.Response:
        """``POST /__admin/user_event`` ``{"event": "ALGO_UPDATE", ...fields}``: ``emit_user_event``."""
        body = await request.json()
        name = body.pop("event", None) if isinstance(body, dict) else None
        if name not in fmt.USER_EVENT_EXAMPLES:
            known = ", ".join(fmt.USER_EVENT_EXAMPLES)
            return web.json_response({"error": f"expected an event among {known}, got {name!r}"}, status=400)
        return web.json_response(self.emit_user_event(name, **body))
