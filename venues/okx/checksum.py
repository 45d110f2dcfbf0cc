"""OKX order-book checksum: signed CRC32 over the top 25 levels, interleaved bid:ask, original strings.

Rule (OKX docs, WS order book channel; validated on every message of a real 2022 capture):
- take the best 25 bids (high to low) and best 25 asks (low to high) of the MERGED book;
- build ``bid1px:bid1sz:ask1px:ask1sz:bid2px:...``; when one side is shorter, continue with the
  remaining levels of the other side;
- use the price/size strings exactly as OKX sent them ("8477" stays "8477");
- CRC32 of that ASCII string, read as a signed 32-bit integer.

``LevelText`` keeps, beside the float L2Book, each side's original strings in price order so the
checksum costs 50 dict reads and one join per message: no sort, no float formatting.
"""

from __future__ import annotations

import zlib
from bisect import bisect_left, insort
from collections.abc import Iterable, Sequence

__all__ = ["CHECKSUM_DEPTH", "crc32_signed", "checksum_string", "LevelText"]

CHECKSUM_DEPTH = 25


def crc32_signed(text: str | bytes) -> int:
    """CRC32 of ``text`` as a signed 32-bit int (what OKX sends in ``checksum``).

    Args:
        text: the checksum string (str is encoded as ASCII/UTF-8).

    Returns:
        An int in [-2**31, 2**31).
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    crc = zlib.crc32(data)
    return crc - 0x1_0000_0000 if crc >= 0x8000_0000 else crc


def checksum_string(bids: Sequence[str], asks: Sequence[str]) -> str:
    """Interleave ``"px:sz"`` entries (best first) as OKX's checksum rule says.

    Args:
        bids: up to 25 ``"px:sz"`` strings, best (highest) first.
        asks: up to 25 ``"px:sz"`` strings, best (lowest) first.

    Returns:
        ``bid1:ask1:bid2:ask2:...`` with the longer side's tail appended.
    """
    nb = len(bids)
    na = len(asks)
    n = nb if nb < na else na
    parts = [""] * (2 * n)
    parts[::2] = bids[:n]  # slice assignment interleaves in C: no Python loop per level
    parts[1::2] = asks[:n]
    if nb != na:
        parts.extend(bids[n:] if nb > na else asks[n:])
    return ":".join(parts)


class LevelText:
    """Original ``"px:sz"`` strings of one book, each side kept in price order.

    Bids are keyed by the negated price so both key lists run best-first in ascending order. The
    codec writes ``bid_keys``/``bid_text``/... directly in its per-level loop (a method call per level
    costs as much as the work); ``set_bid``/``set_ask`` are the same logic for everything else.
    """

    __slots__ = ("bid_keys", "ask_keys", "bid_text", "ask_text")

    def __init__(self) -> None:
        self.bid_keys: list[float] = []  # -px, ascending = best bid first
        self.ask_keys: list[float] = []  # px, ascending = best ask first
        self.bid_text: dict[float, str] = {}  # -px -> "px:sz"
        self.ask_text: dict[float, str] = {}  # px -> "px:sz"

    def clear(self) -> None:
        self.bid_keys.clear()
        self.ask_keys.clear()
        self.bid_text.clear()
        self.ask_text.clear()

    def load(self, bids: Iterable[tuple[float, str]], asks: Iterable[tuple[float, str]]) -> None:
        """Replace both sides (a snapshot) from (price, ``"px:sz"``); zero sizes must be left out."""
        self.bid_text = {-px: text for px, text in bids}
        self.ask_text = dict(asks)
        self.bid_keys = sorted(self.bid_text)
        self.ask_keys = sorted(self.ask_text)

    def set_bid(self, px: float, text: str, delete: bool) -> None:
        """Record a bid level change (``text`` is ``"px:sz"``); ``delete`` when its size is zero."""
        key = -px
        texts = self.bid_text
        if delete:
            if texts.pop(key, None) is not None:
                keys = self.bid_keys
                del keys[bisect_left(keys, key)]
            return
        if key not in texts:
            insort(self.bid_keys, key)
        texts[key] = text

    def set_ask(self, px: float, text: str, delete: bool) -> None:
        """Record an ask level change (``text`` is ``"px:sz"``); ``delete`` when its size is zero."""
        texts = self.ask_text
        if delete:
            if texts.pop(px, None) is not None:
                keys = self.ask_keys
                del keys[bisect_left(keys, px)]
            return
        if px not in texts:
            insort(self.ask_keys, px)
        texts[px] = text

    def checksum(self, depth: int = CHECKSUM_DEPTH) -> int:
        """The signed CRC32 of the current top ``depth`` levels of both sides."""
        bids = list(map(self.bid_text.__getitem__, self.bid_keys[:depth]))
        asks = list(map(self.ask_text.__getitem__, self.ask_keys[:depth]))
        return crc32_signed(checksum_string(bids, asks).encode("ascii"))

    def top(self, depth: int = CHECKSUM_DEPTH) -> tuple[list[str], list[str]]:
        """The top ``depth`` ``"px:sz"`` strings per side, best first."""
        return (
            list(map(self.bid_text.__getitem__, self.bid_keys[:depth])),
            list(map(self.ask_text.__getitem__, self.ask_keys[:depth])),
        )

    @property
    def depth(self) -> tuple[int, int]:
        return len(self.bid_keys), len(self.ask_keys)
