"""OKX order-book checksum: signed CRC32 over the top 25 levels, interleaved bid:ask, original strings.

Rule (OKX docs, WS order book channel; validated on every message of a real 2022 capture):
- take the best 25 bids (high to low) and best 25 asks (low to high) of the MERGED book;
- build ``bid1px:bid1sz:ask1px:ask1sz:bid2px:...``; when one side is shorter, continue with the
  remaining levels of the other side;
- use the price/size strings exactly as OKX sent them ("8477" stays "8477");
- CRC32 of that ASCII string, read as a signed 32-bit integer.

``venues.okx.book.OkxBook`` keeps each side's original strings on the tick grid, best first, so the
checksum costs two slices filtered in C, one join and one CRC per message: no sort, no float formatting.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

__all__ = ["CHECKSUM_DEPTH", "crc32_signed", "checksum_string"]

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
