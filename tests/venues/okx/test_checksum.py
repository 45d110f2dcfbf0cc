"""OKX checksum: documented strings, the real capture, and LevelText against a from-scratch rebuild."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from venues.okx.checksum import LevelText, checksum_string, crc32_signed

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


def test_level_text_keeps_original_strings_and_uses_only_the_top_25() -> None:
    text = LevelText()
    text.load([(3366.1, "3366.1:7"), (3366.0, "3366:6")], [(3366.8, "3366.8:9"), (3368.0, "3368:8")])
    assert text.checksum() == -1881014294
    text.set_bid(3366.0, "3366:6", delete=True)
    text.set_ask(3372.0, "3372:8", delete=False)
    assert text.top() == (["3366.1:7"], ["3366.8:9", "3368:8", "3372:8"])
    assert text.checksum() == 831078360
    for i in range(30):  # deep bids below the top 25 do not change the checksum
        text.set_bid(3000.0 - i, f"{3000 - i}:1", delete=False)
    deep = text.checksum()
    text.set_bid(2970.0, "2970:5", delete=False)
    assert text.checksum() == deep


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


_prices = st.integers(min_value=1, max_value=400)


@settings(max_examples=60, deadline=None)
@given(
    ops=st.lists(
        st.tuples(st.booleans(), _prices, st.integers(min_value=0, max_value=5)), min_size=1, max_size=120
    )
)
def test_level_text_checksum_equals_the_reference_after_any_sequence_of_changes(
    ops: list[tuple[bool, int, int]],
) -> None:
    text = LevelText()
    bids: dict[str, str] = {}
    asks: dict[str, str] = {}
    for is_bid, tick, size in ops:
        # bids below 1000, asks above: the sides never cross, like a venue book
        px = 1000 - tick if is_bid else 1000 + tick
        px_s = f"{px / 10:g}"
        side = bids if is_bid else asks
        setter = text.set_bid if is_bid else text.set_ask
        setter(float(px_s), f"{px_s}:{size}", size == 0)
        if size == 0:
            side.pop(px_s, None)
        else:
            side[px_s] = str(size)
    assert text.checksum() == _reference_checksum(bids, asks)
