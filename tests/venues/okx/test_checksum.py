"""OKX checksum: documented strings, the real capture, and OkxBook against a from-scratch rebuild."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from venues.errors import DecodeError
from venues.okx.book import OkxBook
from venues.okx.checksum import checksum_string, crc32_signed
from venues.okx.wire import BookLevel

OkxBytes = Callable[[str], bytes]


def _reference_checksum(bids: dict[str, str], asks: dict[str, str]) -> int:
    """The documented rule, written the slow obvious way."""
    top_b = sorted(bids.items(), key=lambda kv: -float(kv[0]))[:25]
    top_a = sorted(asks.items(), key=lambda kv: float(kv[0]))[:25]
    parts: list[str] = []
    for i in range(max(len(top_b), len(top_a))):
        if i < len(top_b):
            parts += [top_b[i][0], top_b[i][1]]
        if i < len(top_a):
            parts += [top_a[i][0], top_a[i][1]]
    crc = zlib.crc32(":".join(parts).encode())
    return crc - 2**32 if crc >= 2**31 else crc


def test_doc_checksum_strings_give_the_documented_signed_values() -> None:
    assert crc32_signed("3366.1:7:3366.8:9:3366:6:3368:8") == -1881014294
    assert crc32_signed("3366.1:7:3366.8:9:3368:8:3372:8") == 831078360


def test_checksum_string_interleaves_bids_and_asks_and_appends_the_longer_tail() -> None:
    assert (
        checksum_string(["3366.1:7", "3366:6"], ["3366.8:9", "3368:8"]) == "3366.1:7:3366.8:9:3366:6:3368:8"
    )
    assert (
        checksum_string(["3366.1:7"], ["3366.8:9", "3368:8", "3372:8"]) == "3366.1:7:3366.8:9:3368:8:3372:8"
    )
    assert checksum_string(["3366.1:7", "3366:6"], []) == "3366.1:7:3366:6"


def _lv(*pairs: tuple[str, str]) -> list[BookLevel]:
    return [BookLevel(px=p, sz=z) for p, z in pairs]


def test_book_keeps_original_strings_and_uses_only_the_top_25() -> None:
    book = OkxBook("okx", "ETH-USDT-PERP", 0.1)
    book.load(_lv(("3366.1", "7"), ("3366", "6")), _lv(("3366.8", "9"), ("3368", "8")))
    assert book.checksum() == -1881014294
    book.apply(_lv(("3366", "0")), _lv(("3372", "8")))
    assert book.top_text() == (["3366.1:7"], ["3366.8:9", "3368:8", "3372:8"])
    assert book.checksum() == 831078360
    book.apply(_lv(*[(f"{3000 - i}", "1") for i in range(30)]), [])  # deep bids: only 24 of them count
    deep = book.checksum()
    book.apply(_lv(("2970", "5")), [])
    assert book.checksum() == deep
    assert book.best() == (3366.1, 7.0, 3366.8, 9.0)
    assert book.depth == (32, 3)


def test_a_size_that_is_not_a_number_is_a_typed_error_when_read_and_marks_the_book() -> None:
    book = OkxBook("okx", "BTC-USDT-PERP", 0.1)
    book.load(_lv(("100", "1")), _lv(("101", "1")))
    book.apply(_lv(("99.5", "abc")), [])  # deep level: sizes are parsed when read
    assert book.best() == (100.0, 1.0, 101.0, 1.0) and not book.corrupt
    with pytest.raises(DecodeError, match="abc"):
        book.top_bids(5)
    assert book.corrupt


def test_every_checksum_of_the_real_capture_matches_a_from_scratch_rebuild(okx_bytes: OkxBytes) -> None:
    lines = [ln for ln in okx_bytes("ws_books_real_sequence_BTC-USDT.jsonl").splitlines() if ln.strip()]
    bids: dict[str, str] = {}
    asks: dict[str, str] = {}
    verified = []
    for line in lines:
        msg = json.loads(line)
        if "data" not in msg:
            continue
        if msg["action"] == "snapshot":
            bids.clear()
            asks.clear()
        item = msg["data"][0]
        for side, levels in ((bids, item["bids"]), (asks, item["asks"])):
            for px, sz, *_ in levels:
                key = next((k for k in side if float(k) == float(px)), px)
                side.pop(key, None)
                if float(sz) > 0:
                    side[px] = sz
        assert _reference_checksum(bids, asks) == item["checksum"]
        verified.append(item["checksum"])
    assert verified[0] == json.loads(lines[1])["data"][0]["checksum"]
    assert verified[-1] == json.loads(lines[-1])["data"][0]["checksum"] == -764702519
    assert len(verified) == len(lines) - 1  # every book message of the file, after the subscribe ack


_ticks = st.integers(min_value=1, max_value=400)
# Spellings of a price OKX might use for one tick, and sizes including other spellings of zero.
_sizes = st.sampled_from(["0", "0", "0.0", "1", "2.5", "0.25", "7", "40"])


@st.composite
def _ops(draw: st.DrawFn) -> list[tuple[bool, str, str]]:
    out = []
    for _ in range(draw(st.integers(1, 120))):
        is_bid = draw(st.booleans())
        kind = draw(st.sampled_from(["near", "near", "near", "far", "fine"]))
        tick = draw(_ticks)
        if kind == "far":  # far outside the first grid: the side is re-laid out (bids stay above 0)
            tick *= 24 if is_bid else 97
        # bids below 1000.0, asks above: the sides never cross, like a venue book
        units = 10_000 - tick if is_bid else 10_000 + tick
        px = f"{units / 10:g}"
        if kind == "fine":  # a price off the 0.1 grid: the book must move to a finer one
            px = f"{units / 10 + (0.05 if is_bid else -0.05):.2f}"
        out.append((is_bid, px, draw(_sizes)))
    return out


@settings(max_examples=150, deadline=None)
@given(snapshot=_ops(), ops=_ops(), batch=st.integers(1, 12))
def test_book_checksum_and_levels_equal_the_reference_after_any_sequence_of_changes(
    snapshot: list[tuple[bool, str, str]], ops: list[tuple[bool, str, str]], batch: int
) -> None:
    """Off-grid prices, far prices, zero spellings and batches of any size: always the reference book."""
    book = OkxBook("okx", "BTC-USDT-PERP", 0.1)
    bids: dict[str, str] = {}
    asks: dict[str, str] = {}

    def put(side: dict[str, str], px: str, sz: str) -> None:
        key = next((k for k in side if float(k) == float(px)), px)
        side.pop(key, None)
        if float(sz) > 0:
            side[px] = sz

    for is_bid, px, sz in snapshot:
        put(bids if is_bid else asks, px, sz)
    book.load(_lv(*bids.items()), _lv(*asks.items()))
    for start in range(0, len(ops), batch):
        chunk = ops[start : start + batch]
        b = [(px, sz) for is_bid, px, sz in chunk if is_bid]
        a = [(px, sz) for is_bid, px, sz in chunk if not is_bid]
        book.apply(_lv(*b), _lv(*a))
        for is_bid, px, sz in chunk:
            put(bids if is_bid else asks, px, sz)
        assert book.checksum() == _reference_checksum(bids, asks)
    got_b, got_a = book.as_sorted()
    assert got_b == sorted(((float(p), float(z)) for p, z in bids.items()), reverse=True)
    assert got_a == sorted((float(p), float(z)) for p, z in asks.items())
    assert book.top_bids(3) == got_b[:3] and book.top_asks(3) == got_a[:3]
    assert book.depth == (len(bids), len(asks))
