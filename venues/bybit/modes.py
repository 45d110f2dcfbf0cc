"""Bybit v5 position modes: what ``positionIdx`` means, which one an order carries, and each symbol's mode.

Rules (docs/v5/enum ``positionIdx``, docs/v5/order/create-order.mdx, docs/v5/position/position-mode.mdx,
docs/v5/position/position.mdx; PROTOCOLS.md "Private topics, pagination, position mode"):
- ``positionIdx`` names a position: ``0`` the one net position of one-way mode, ``1`` the buy-side (long)
  position of hedge mode, ``2`` the sell-side (short) one. Every position row, pushed or read, carries it,
  so a row tells its symbol's mode.
- The mode is set per symbol (or per settle coin, inherited by symbols without positions or orders), not
  per account: USDT perpetuals and inverse futures may be hedged, USDC perpetuals are one-way only.
- An order names the position it moves. In hedge mode an opening BUY goes to the long position (1) and an
  opening SELL to the short one (2); a reduce-only SELL closes the long (1) and a reduce-only BUY closes the
  short (2). An order whose ``positionIdx`` does not fit the symbol's mode is refused with retCode 10001
  ("position idx not match position mode").
- ``PositionModes`` is what the adapter (request builders, error parser) and its sessions share, like
  ``KnownOrders``: each symbol's mode as last read or pushed, and whether a refused order asked for a
  fresh read. Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

from messages import PositionMode, Side
from venues.events import CodecEvent

__all__ = ["PositionModes", "PositionIdxSeen", "position_idx", "mode_of_idx", "ONE_WAY_ONLY_SETTLE",
           "IDX_MISMATCH_CODE", "is_idx_mismatch"]

ONE_WAY_ONLY_SETTLE = frozenset({"USDC"})
"""Settle coins whose linear contracts have no hedge mode (position-mode.mdx: USDC perpetual one-way only)."""

IDX_MISMATCH_CODE = 10001
_IDX_MISMATCH_TEXT = "position idx not match position mode"


def is_idx_mismatch(code: str | int, text: str) -> bool:
    """True for the venue's refusal of an order whose ``positionIdx`` does not fit the symbol's mode."""
    return str(code) == str(IDX_MISMATCH_CODE) and _IDX_MISMATCH_TEXT in text.lower()


def mode_of_idx(idx: int) -> PositionMode:
    """The position mode a row's ``positionIdx`` shows (0 one-way; 1 or 2 hedge)."""
    return PositionMode.ONE_WAY if idx == 0 else PositionMode.HEDGE


def position_idx(mode: PositionMode, side: Side, reduce_only: bool) -> int:
    """The ``positionIdx`` an order carries: 0 in one-way mode; in hedge mode the position it moves, 1 (long)
    for an opening BUY or a reduce-only SELL, 2 (short) for an opening SELL or a reduce-only BUY."""
    if mode is PositionMode.ONE_WAY:
        return 0
    return 1 if (side is Side.BUY) != reduce_only else 2


class PositionIdxSeen(CodecEvent, frozen=True):
    """A private ``position`` row named this symbol's ``positionIdx`` (so its mode); the session takes it."""

    symbol: str
    position_idx: int


class PositionModes:
    """Each linear symbol's position mode, as last read (``/v5/position/list``) or pushed (``position``).

    ``recheck`` is set when the venue refused an order for its ``positionIdx``: the modes we hold are stale
    and the session reads them again.
    """

    __slots__ = ("_by_symbol", "recheck")

    def __init__(self) -> None:
        self._by_symbol: dict[str, PositionMode] = {}
        self.recheck = False

    def get(self, symbol: str) -> PositionMode | None:
        return self._by_symbol.get(symbol)

    def set(self, symbol: str, mode: PositionMode) -> bool:
        """Remember ``symbol``'s mode; True when it is new or changed."""
        before = self._by_symbol.get(symbol)
        self._by_symbol[symbol] = mode
        return before is not mode

    def account_mode(self) -> PositionMode:
        """HEDGE when any symbol is in hedge mode (the account then holds long/short positions), else ONE_WAY."""
        return PositionMode.HEDGE if PositionMode.HEDGE in self._by_symbol.values() else PositionMode.ONE_WAY

    def detail(self) -> str:
        """Symbols per mode, e.g. ``"hedge: BTCUSDT; one_way: BTCPERP, ETHUSDT"`` (sorted, modes held only)."""
        parts = []
        for mode in PositionMode:
            symbols = sorted(s for s, m in self._by_symbol.items() if m is mode)
            if symbols:
                parts.append(f"{mode.value}: {', '.join(symbols)}")
        return "; ".join(parts)

    def symbols(self) -> list[str]:
        return sorted(self._by_symbol)
