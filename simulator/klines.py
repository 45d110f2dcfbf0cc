"""OHLCV candles aggregated from trades, one aggregator per (instrument, interval).

Invariants:
- Candles are aligned to ``open_time = ts - ts % interval_ms`` (UTC epoch ms), like every venue here.
- A candle exists only once a trade printed in it; gaps stay gaps (venues differ on filling them).
- History is bounded (``maxlen`` closed candles kept). Pure: timestamps are passed in.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from decimal import Decimal

__all__ = ["Kline", "KlineAggregator", "INTERVAL_MS"]

INTERVAL_MS: dict[str, int] = {
    "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
    "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "8h": 28_800_000,
    "12h": 43_200_000, "1d": 86_400_000, "3d": 259_200_000, "1w": 604_800_000,
}
"""Interval lengths by the common short names (Binance's spelling; twins map their own names onto ms)."""


@dataclass(frozen=True, slots=True)
class Kline:
    """One candle. Volumes are in the venue's quantity unit; ``quote_volume`` in quote currency."""

    open_time: int
    close_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal
    trades: int
    taker_buy_volume: Decimal
    taker_buy_quote_volume: Decimal
    first_trade_id: int
    last_trade_id: int


class KlineAggregator:
    """Builds candles of one interval from trades in time order.

    Args:
        interval_ms: Candle length.
        maxlen: Closed candles kept.
    """

    def __init__(self, interval_ms: int, maxlen: int = 1500) -> None:
        self.interval_ms = interval_ms
        self._closed: deque[Kline] = deque(maxlen=maxlen)
        self.current: Kline | None = None

    def add(self, ts_ms: int, price: Decimal, qty: Decimal, quote_qty: Decimal, taker_buy: bool, trade_id: int) -> Kline:
        """Fold one trade in; returns the (possibly new) current candle."""
        open_time = ts_ms - ts_ms % self.interval_ms
        cur = self.current
        if cur is not None and open_time > cur.open_time:
            self._closed.append(cur)
            cur = None
        tb, tbq = (qty, quote_qty) if taker_buy else (Decimal(0), Decimal(0))
        if cur is None or open_time < cur.open_time:
            cur = Kline(open_time, open_time + self.interval_ms - 1, price, price, price, price, qty, quote_qty, 1, tb, tbq, trade_id, trade_id)
        else:
            cur = replace(
                cur,
                high=max(cur.high, price),
                low=min(cur.low, price),
                close=price,
                volume=cur.volume + qty,
                quote_volume=cur.quote_volume + quote_qty,
                trades=cur.trades + 1,
                taker_buy_volume=cur.taker_buy_volume + tb,
                taker_buy_quote_volume=cur.taker_buy_quote_volume + tbq,
                last_trade_id=trade_id,
            )
        self.current = cur
        return cur

    def is_closed(self, kline: Kline, now_ms: int) -> bool:
        """True once ``now_ms`` is past the candle's close time."""
        return now_ms > kline.close_time

    def history(self, start_ms: int | None = None, end_ms: int | None = None, limit: int = 500) -> list[Kline]:
        """Closed candles plus the current one, oldest first, filtered by open time, newest ``limit`` kept."""
        rows = list(self._closed) + ([self.current] if self.current is not None else [])
        rows = [k for k in rows if (start_ms is None or k.open_time >= start_ms) and (end_ms is None or k.open_time <= end_ms)]
        return rows[-limit:] if limit > 0 else []
