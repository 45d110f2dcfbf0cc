"""DeribitCodec: book sequencing, heartbeats, JSON-RPC responses, and garbage never crashing feed."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from messages.base import BookState, InstrumentId, Venue
from messages.control import BookIntegrity
from messages.market import BookDelta, BookSnapshot, Quote
from venues.deribit import DeribitCodec, book_channel
from venues.deribit.codec import SettingAnswered
from venues.events import (
    Answered,
    Dropped,
    LoggedIn,
    LoginFailed,
    NeedResubscribe,
    Pong,
    SendFrame,
    StreamExpired,
    Subscribed,
    SubscribeFailed,
)

CAPTURE = "ws_book_raw_real_sequence_BTC-24SEP21-8000-P.jsonl"
OPTION = InstrumentId("BTC-USD-20210924-8000-P")
PERP = InstrumentId("BTC-USD-PERP")
VENUE_DIR = Path(__file__).resolve().parents[3] / "venues" / "deribit"


def _note(channel: str, data: Any) -> bytes:
    return msgspec.json.encode(
        {"jsonrpc": "2.0", "method": "subscription", "params": {"channel": channel, "data": data}}
    )


def _book(
    kind: str, change_id: int, bids: list[list[Any]], asks: list[list[Any]], prev: int | None = None
) -> bytes:
    data: dict[str, Any] = {"type": kind, "timestamp": 1700000000000 + change_id, "instrument_name": "BTC-PERPETUAL",
                            "change_id": change_id, "bids": bids, "asks": asks}  # fmt: skip
    if prev is not None:
        data["prev_change_id"] = prev
    return _note("book.BTC-PERPETUAL.100ms", data)


def _response(rid: int, result: Any = None, error: dict[str, Any] | None = None) -> bytes:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": rid}
    if error is not None:
        body["error"] = error
    else:
        body["result"] = result
    return msgspec.json.encode(body)


def _rid(frame: bytes) -> int:
    rid: int = msgspec.json.decode(frame)["id"]
    return rid


SNAPSHOT = _book(
    "snapshot", 10, [["new", 100.0, 5.0], ["new", 99.5, 7.0]], [["new", 100.5, 3.0], ["new", 101.0, 4.0]]
)


# -- the real capture -----------------------------------------------------------------------------------
def _replay_model(lines: list[dict[str, Any]]) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    for msg in lines:
        data = msg["params"]["data"]
        if data["type"] == "snapshot":
            bids.clear()
            asks.clear()
        for side, levels in ((bids, data["bids"]), (asks, data["asks"])):
            for action, px, amount in levels:
                if action == "delete":
                    side.pop(px, None)
                else:
                    side[px] = amount
    return sorted(bids.items(), reverse=True), sorted(asks.items())


def test_real_raw_book_capture_replays_with_every_change_in_sequence(
    deribit_bytes: Callable[[str], bytes],
) -> None:
    raw = deribit_bytes(CAPTURE).splitlines()
    parsed = [json.loads(line) for line in raw]
    codec = DeribitCodec(emit_deltas=True)
    first = codec.feed(raw[0], 1)
    snap = parsed[0]["params"]["data"]
    assert [type(m) for m in first] == [BookIntegrity, BookSnapshot, Quote]
    assert first[1] == BookSnapshot(
        venue=Venue.DERIBIT, instrument=OPTION, sequence=snap["change_id"], ts_event=snap["timestamp"] * 1_000_000,
        ts_recv=1, bids=tuple((px, sz) for _, px, sz in snap["bids"]), asks=tuple((px, sz) for _, px, sz in snap["asks"]),
    )  # fmt: skip
    prev = snap["change_id"]
    for i, (line, msg) in enumerate(zip(raw[1:], parsed[1:], strict=True), start=2):
        data = msg["params"]["data"]
        assert data["prev_change_id"] == prev, f"line {i}"
        out = codec.feed(line, i)
        deltas = [m for m in out if isinstance(m, BookDelta)]
        assert (
            len(deltas) == 1 and deltas[0].prev_sequence == prev and deltas[0].sequence == data["change_id"]
        )
        assert not [m for m in out if isinstance(m, (Dropped, NeedResubscribe, BookIntegrity))]
        prev = data["change_id"]
    assert codec.book_state(OPTION) is BookState.LIVE
    bids, asks = _replay_model(parsed)
    assert codec.book(OPTION).as_sorted() == (bids, asks)
    assert bids[0] == (0.0005, 153.1) and asks[-1] == (0.25, 9.0)  # read from the file's snapshot


def test_a_skipped_change_id_in_the_real_capture_is_detected_and_resyncs(
    deribit_bytes: Callable[[str], bytes],
) -> None:
    raw = deribit_bytes(CAPTURE).splitlines()
    codec = DeribitCodec()
    codec.feed(raw[0], 0)
    codec.feed(raw[1], 1)
    out = codec.feed(raw[3], 3)  # raw[2] never arrives
    expected = json.loads(raw[2])["params"]["data"]["change_id"]
    got = json.loads(raw[3])["params"]["data"]["prev_change_id"]
    assert [type(m) for m in out] == [BookIntegrity, NeedResubscribe]
    assert isinstance(out[0], BookIntegrity) and isinstance(out[1], NeedResubscribe)
    assert out[0].state is BookState.RESYNCING and out[1].instrument == OPTION
    assert (
        f"expected prev_change_id {json.loads(raw[1])['params']['data']['change_id']}, got {got}"
        in out[1].reason
    )
    assert expected != json.loads(raw[1])["params"]["data"]["change_id"]
    assert codec.book_state(OPTION) is BookState.RESYNCING
    assert codec.feed(raw[4], 4) == []  # not applied until a new snapshot
    assert codec.book(OPTION).depth == (0, 0)
    again = codec.feed(raw[0], 5)
    assert isinstance(again[0], BookIntegrity) and again[0].state is BookState.LIVE


# -- own payloads ---------------------------------------------------------------------------------------
def test_doc_snapshot_then_change_deleting_both_bids_leaves_only_asks(
    notification: Callable[[str, str], bytes], deribit_json: Callable[[str], Any]
) -> None:
    codec = DeribitCodec()
    snap = codec.feed(notification("ws_book_100ms_snapshot_data.json", "book.BTC-PERPETUAL.100ms"), 7)
    data = deribit_json("ws_book_100ms_snapshot_data.json")
    quote = snap[-1]
    assert isinstance(quote, Quote) and quote.instrument == PERP
    assert (quote.bid_px, quote.bid_sz) == tuple(data["bids"][0][1:])
    assert (quote.ask_px, quote.ask_sz) == tuple(data["asks"][0][1:])
    change = codec.feed(notification("ws_book_100ms_change_data.json", "book.BTC-PERPETUAL.100ms"), 8)
    assert change == []  # no Quote while the bid side is empty
    assert codec.book(PERP).as_sorted() == ([], [(5042.64, 40.0), (5043.3, 40.0)])


def test_quote_after_each_change_is_the_best_of_the_book() -> None:
    codec = DeribitCodec()
    codec.feed(SNAPSHOT, 0)
    out = codec.feed(_book("change", 11, [["new", 100.25, 1.0]], [["delete", 100.5, 0.0]], prev=10), 1)
    assert out == [Quote(venue=Venue.DERIBIT, instrument=PERP, bid_px=100.25, bid_sz=1.0, ask_px=101.0, ask_sz=4.0,
                         ts_event=(1700000000000 + 11) * 1_000_000, ts_recv=1)]  # fmt: skip


def test_crossing_change_sends_the_book_to_resyncing() -> None:
    codec = DeribitCodec()
    codec.feed(SNAPSHOT, 0)
    out = codec.feed(_book("change", 11, [["new", 100.5, 1.0]], [], prev=10), 1)
    assert [type(m) for m in out] == [BookIntegrity, NeedResubscribe]
    assert (
        isinstance(out[1], NeedResubscribe)
        and "crossed" in out[1].reason
        and codec.book_state(PERP) is BookState.RESYNCING
    )


def test_unknown_level_action_sends_the_book_to_resyncing() -> None:
    codec = DeribitCodec()
    codec.feed(SNAPSHOT, 0)
    out = codec.feed(_book("change", 11, [["upsert", 99.0, 1.0]], [], prev=10), 1)
    assert [type(m) for m in out] == [BookIntegrity, NeedResubscribe]
    assert isinstance(out[1], NeedResubscribe) and "'upsert'" in out[1].reason


def test_grouped_book_is_a_full_snapshot_every_time(deribit_json: Callable[[str], Any]) -> None:
    data = deribit_json("ws_book_grouped_data.json")
    codec = DeribitCodec()
    out = codec.feed(_note("book.ETH-PERPETUAL.none.10.100ms", data), 3)
    quote = out[-1]
    assert isinstance(quote, Quote) and quote.instrument == InstrumentId("ETH-USD-PERP")
    assert (quote.bid_px, quote.bid_sz, quote.ask_px, quote.ask_sz) == (*data["bids"][0], *data["asks"][0])
    data2 = dict(data, change_id=data["change_id"] + 50, bids=[[159.5, 1]], asks=[[160.5, 2]])
    codec.feed(_note("book.ETH-PERPETUAL.none.10.100ms", data2), 4)
    assert codec.book(InstrumentId("ETH-USD-PERP")).as_sorted() == ([(159.5, 1.0)], [(160.5, 2.0)])


def test_emit_deltas_false_returns_quotes_only() -> None:
    codec = DeribitCodec()
    out = codec.feed(SNAPSHOT, 0) + codec.feed(_book("change", 11, [["change", 100.0, 9.0]], [], prev=10), 1)
    assert not [m for m in out if isinstance(m, (BookDelta, BookSnapshot))]


def test_reset_sends_every_book_back_to_syncing_and_ignores_deltas() -> None:
    codec = DeribitCodec()
    codec.feed(SNAPSHOT, 0)
    out = codec.reset(7)
    assert out == [BookIntegrity(venue=Venue.DERIBIT, instrument=PERP, state=BookState.SYNCING, reason="disconnected", ts=7)]
    assert codec.reset(8) == []  # already SYNCING: nothing new to report
    assert codec.book_state(PERP) is BookState.SYNCING and codec.book(PERP).depth == (0, 0)
    assert codec.feed(_book("change", 11, [["change", 100.0, 9.0]], [], prev=10), 1) == []


def test_pretty_printed_notification_decodes_through_the_envelope_path() -> None:
    pretty = json.dumps(json.loads(SNAPSHOT), indent=2).encode()
    out = DeribitCodec().feed(pretty, 0)
    assert isinstance(out[-1], Quote) and out[-1].bid_px == 100.0


def test_unknown_channel_is_dropped_and_informational_channels_are_ignored(
    deribit_json: Callable[[str], Any],
) -> None:
    codec = DeribitCodec()
    out = codec.feed(_note("mystery.BTC", {"x": 1}), 0)
    assert len(out) == 1 and isinstance(out[0], Dropped) and "mystery.BTC" in out[0].error
    assert codec.feed(_note("platform_state", deribit_json("ws_platform_state_data.json")), 0) == []


def test_instrument_state_notifications_keep_each_books_state_and_only_open_takes_orders(
    notification: Callable[[str, str], bytes], deribit_json: Callable[[str], Any]
) -> None:
    codec = DeribitCodec()
    assert codec.book_open("BTC-22MAR19") == (True, "open")  # never listed: the venue decides
    codec.note_states({"BTC-22MAR19": "open", "BTC-PERPETUAL": "open"})
    # The documented example predates the 2026-01-13 lifecycle ("created"): a book not open either way.
    doc = deribit_json("ws_instrument_state_data.json")
    assert codec.feed(notification("ws_instrument_state_data.json", "instrument.state.future.BTC"), 1) == []
    assert codec.book_open(doc["instrument_name"]) == (False, doc["state"])
    for state, takes in (("settlement", False), ("open", True), ("locked", False), ("halted", False)):
        frame = _note("instrument.state.future.BTC",
                      {"timestamp": 1, "state": state, "instrument_name": "BTC-PERPETUAL"})
        assert codec.feed(frame, 2) == []
        assert codec.feed(json.dumps(json.loads(frame), indent=2).encode(), 3) == []  # the envelope path too
        assert codec.book_open("BTC-PERPETUAL") == (takes, state)


# -- heartbeats and responses ---------------------------------------------------------------------------
def test_test_request_is_answered_with_a_public_test_frame(deribit_bytes: Callable[[str], bytes]) -> None:
    codec = DeribitCodec()
    out = codec.feed(deribit_bytes("ws_heartbeat_test_request_constructed.json"), 42)
    assert len(out) == 1 and isinstance(out[0], SendFrame)
    sent = msgspec.json.decode(out[0].frame)
    assert sent == {"jsonrpc": "2.0", "id": sent["id"], "method": "public/test", "params": {}}
    assert codec.feed(_response(sent["id"], {"version": "1.2.26"}), 43) == [Pong(ts_sent=42)]


def test_own_test_request_and_plain_heartbeat() -> None:
    codec = DeribitCodec()
    out = codec.feed(b'{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}', 1)
    assert isinstance(out[0], SendFrame) and b'"method":"public/test"' in out[0].frame
    assert codec.feed(b'{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"heartbeat"}}', 2) == []


def test_subscribe_response_lists_the_channels_from_the_real_capture(
    deribit_json: Callable[[str], Any],
) -> None:
    request = deribit_json("ws_real_subscribe_request.json")
    answer = deribit_json("ws_real_subscribe_response.json")
    codec = DeribitCodec()
    frame = codec.subscribe(request["params"]["channels"])
    assert msgspec.json.decode(frame)["params"] == request["params"]
    out = codec.feed(_response(_rid(frame), answer["result"]), 0)
    assert out[-1] == Subscribed(channels=tuple(answer["result"]), request_id=str(_rid(frame)))
    assert codec.book_state(OPTION) is BookState.SYNCING
    # Each confirmed book channel reports that it waits for its snapshot (the start of SYNCING -> LIVE).
    books = [c for c in answer["result"] if c.startswith("book.") and c.count(".") == 2]
    integrity = out[:-1]
    assert books and len(integrity) == len(books)
    assert all(isinstance(m, BookIntegrity) and m.state is BookState.SYNCING for m in integrity)


def test_auth_response_logs_in_and_keeps_the_token_out_of_repr(deribit_json: Callable[[str], Any]) -> None:
    from venues import Credentials

    answer = deribit_json("rest_public_auth_response.json")
    codec = DeribitCodec()
    frame = codec.auth(Credentials("AMANDA", "AMANDASECRECT"), 1576074319000, "1iqt2wls")
    assert codec.feed(_response(_rid(frame), answer["result"]), 0) == [LoggedIn()]
    assert codec.access_token == answer["result"]["access_token"]
    assert answer["result"]["access_token"] not in repr(codec)
    refresh = msgspec.json.decode(codec.refresh_auth())
    assert refresh["params"] == {
        "grant_type": "refresh_token",
        "refresh_token": answer["result"]["refresh_token"],
    }


def test_error_responses_become_login_and_subscribe_failures() -> None:
    from venues import Credentials

    codec = DeribitCodec()
    auth = codec.auth(Credentials("id", "secret"), 1, "n")
    out = codec.feed(_response(_rid(auth), error={"code": 13004, "message": "invalid_credentials"}), 0)
    assert out == [LoginFailed(code="13004", text="invalid_credentials")]
    sub = codec.subscribe([book_channel("BTC-PERPETUAL")])
    out = codec.feed(_response(_rid(sub), error={"code": 11050, "message": "bad_request"}), 0)
    assert out == [SubscribeFailed(code="11050", text="bad_request", request_id=str(_rid(sub)))]


def test_too_many_requests_ends_the_stream() -> None:
    codec = DeribitCodec()
    ping = codec.ping(5)
    out = codec.feed(_response(_rid(ping), error={"code": 10028, "message": "too_many_requests"}), 0)
    assert [type(m) for m in out] == [Dropped, StreamExpired]
    assert isinstance(out[1], StreamExpired) and "10028" in out[1].reason


def test_answers_to_reserved_ids_come_back_whole_for_the_requests_own_parser(
    deribit_bytes: Callable[[str], bytes],
) -> None:
    """Orders sent on the socket for the adapter (the dead-man's switch): ids from the codec's own counter,
    the answer frame handed over as it came, an error answer too (its parser raises the typed error)."""
    codec = DeribitCodec()
    mine = _rid(codec.ping())
    rid = codec.reserve_id()
    assert rid == mine + 1 and _rid(codec.set_heartbeat(10)) == rid + 1  # one counter: never the same id twice
    answer = msgspec.json.decode(deribit_bytes("rest_private_buy_response.json"))
    frame = msgspec.json.encode(answer | {"id": rid})
    assert codec.feed(frame, 0) == [Answered(request_id=str(rid), body=frame)]
    assert _unmatched(codec, frame)  # answered once
    refused = codec.reserve_id()
    frame = _response(refused, error={"code": 11054, "message": "post_only_reject"})
    assert codec.feed(frame, 0) == [Answered(request_id=str(refused), body=frame)]
    limited = codec.reserve_id()
    out = codec.feed(_response(limited, error={"code": 10028, "message": "too_many_requests"}), 0)
    assert [type(m) for m in out] == [Answered, StreamExpired]  # Deribit ends the session: reconnect
    gone = codec.reserve_id()
    codec.reset()  # a new connection: the old one's requests will not be answered on it
    assert _unmatched(codec, _response(gone, "ok"))


def test_connection_setting_errors_say_so_beside_the_drop() -> None:
    codec = DeribitCodec()
    cod = codec.enable_cancel_on_disconnect()
    out = codec.feed(_response(_rid(cod), error={"code": 13403, "message": "scope_exceeded"}), 0)
    assert isinstance(out[0], Dropped)
    assert out[1:] == [SettingAnswered(method="private/enable_cancel_on_disconnect", ok=False, code=13403,
                                       text="scope_exceeded")]
    hb = codec.set_heartbeat(10)
    (odd,) = codec.feed(_response(_rid(hb), "maybe"), 0)
    assert isinstance(odd, SettingAnswered) and not odd.ok and "maybe" in odd.text


def test_response_to_an_unknown_id_is_dropped() -> None:
    out = DeribitCodec().feed(_response(777, "ok"), 0)
    assert len(out) == 1 and isinstance(out[0], Dropped) and "777" in out[0].error


def test_unsubscribe_ack_takes_the_book_out_of_live() -> None:
    codec = DeribitCodec()
    codec.subscribe([book_channel("BTC-PERPETUAL")])
    codec.feed(SNAPSHOT, 0)
    unsub, sub = codec.resubscribe_frames(PERP)
    assert codec.feed(_response(_rid(unsub), ["book.BTC-PERPETUAL.100ms"]), 1) == []
    assert codec.book_state(PERP) is BookState.SYNCING
    assert msgspec.json.decode(sub)["method"] == "public/subscribe"


def test_venues_deribit_imports_no_io_or_clock_module() -> None:
    banned = re.compile(r"^\s*(import|from)\s+(asyncio|anyio|aiohttp|socket|time)\b", re.MULTILINE)
    for path in VENUE_DIR.glob("*.py"):
        assert banned.search(path.read_text()) is None, path.name


# -- hypothesis: garbage never crashes feed -------------------------------------------------------------
def _outputs_are_typed(out: list[Any]) -> None:
    assert isinstance(out, list)
    for item in out:
        assert isinstance(item, msgspec.Struct)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_raise(frame: bytes) -> None:
    _outputs_are_typed(DeribitCodec().feed(frame, 0))


_REAL_FRAMES = [
    SNAPSHOT,
    _book("change", 11, [["change", 100.0, 9.0]], [["delete", 101.0, 0]], prev=10),
    b'{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}',
    _note(
        "trades.BTC-PERPETUAL.100ms",
        [
            {
                "trade_id": "1",
                "instrument_name": "BTC-PERPETUAL",
                "timestamp": 1,
                "price": 1.0,
                "amount": 10,
                "direction": "buy",
            }
        ],
    ),  # fmt: skip
    _note(
        "user.orders.BTC-PERPETUAL.raw",
        {
            "order_id": "5",
            "order_state": "open",
            "instrument_name": "BTC-PERPETUAL",
            "direction": "buy",
            "amount": 200,
            "order_type": "limit",
            "last_update_timestamp": 1,
            "price": 10502.52,
        },
    ),  # fmt: skip
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_REAL_FRAMES), st.integers(min_value=0, max_value=400))
def test_truncated_frames_give_dropped_or_messages_never_an_exception(frame: bytes, cut: int) -> None:
    codec = DeribitCodec()
    codec.feed(SNAPSHOT, 0)
    out = codec.feed(frame[: cut % (len(frame) + 1)], 1)
    _outputs_are_typed(out)
    if cut % (len(frame) + 1) < len(frame) - 1:
        assert any(isinstance(m, Dropped) for m in out) or out == []


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(_REAL_FRAMES),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=4),
)
def test_mutated_frames_never_raise_and_never_leave_a_crossed_live_book(
    frame: bytes, flips: list[tuple[int, int]]
) -> None:
    codec = DeribitCodec()
    codec.feed(SNAPSHOT, 0)
    data = bytearray(frame)
    for pos, value in flips:
        data[pos % len(data)] = value
    _outputs_are_typed(codec.feed(bytes(data), 1))
    if codec.book_state(PERP) is BookState.LIVE:
        assert not codec.book(PERP).is_crossed()


def test_deribit_real_capture_frames_survive_every_truncation(deribit_bytes: Callable[[str], bytes]) -> None:
    line = deribit_bytes(CAPTURE).splitlines()[0]
    for cut in range(0, len(line), 7):
        out = DeribitCodec().feed(line[:cut], 0)
        assert len(out) == 1 and isinstance(out[0], Dropped), cut


# -- hypothesis: book invariants ------------------------------------------------------------------------
_BID_PX = st.integers(180, 200).map(lambda i: i / 2)  # 90.0 .. 100.0
_ASK_PX = st.integers(201, 220).map(lambda i: i / 2)  # 100.5 .. 110.0
_SIZE = st.integers(1, 50).map(float)


def _levels(px: st.SearchStrategy[float]) -> st.SearchStrategy[list[list[Any]]]:
    level = st.one_of(
        st.tuples(st.sampled_from(["new", "change"]), px, _SIZE).map(list),
        px.map(lambda p: ["delete", p, 0.0]),
    )
    return st.lists(level, max_size=6)


_CHANGES = st.lists(st.tuples(_levels(_BID_PX), _levels(_ASK_PX)), max_size=25)


@settings(max_examples=150, deadline=None)
@given(_CHANGES)
def test_snapshot_plus_valid_changes_equals_a_replay_and_is_never_crossed(
    changes: list[tuple[list[Any], list[Any]]],
) -> None:
    codec = DeribitCodec(emit_deltas=True)
    codec.feed(SNAPSHOT, 0)
    model_b = {100.0: 5.0, 99.5: 7.0}
    model_a = {100.5: 3.0, 101.0: 4.0}
    for i, (bids, asks) in enumerate(changes):
        out = codec.feed(_book("change", 11 + i, bids, asks, prev=10 + i), i)
        for model, levels in ((model_b, bids), (model_a, asks)):
            for action, px, sz in levels:
                if action == "delete":
                    model.pop(px, None)
                else:
                    model[px] = sz
        assert not [m for m in out if isinstance(m, (Dropped, NeedResubscribe))]
        assert codec.book_state(PERP) is BookState.LIVE and not codec.book(PERP).is_crossed()
        quotes = [m for m in out if isinstance(m, Quote)]
        if model_b and model_a:
            assert (quotes[0].bid_px, quotes[0].ask_px) == (max(model_b), min(model_a))
    assert codec.book(PERP).as_sorted() == (sorted(model_b.items(), reverse=True), sorted(model_a.items()))


@settings(max_examples=150, deadline=None)
@given(_CHANGES.filter(lambda c: len(c) > 0), st.data())
def test_every_injected_gap_is_detected(
    changes: list[tuple[list[Any], list[Any]]], data: st.DataObject
) -> None:
    at = data.draw(st.integers(0, len(changes) - 1))
    skip = data.draw(st.integers(1, 5))
    codec = DeribitCodec()
    codec.feed(SNAPSHOT, 0)
    for i, (bids, asks) in enumerate(changes):
        prev = 10 + i + (skip if i == at else 0)
        out = codec.feed(_book("change", 11 + i, bids, asks, prev=prev), i)
        if i == at:
            assert [type(m) for m in out] == [BookIntegrity, NeedResubscribe]
            assert codec.book_state(PERP) is BookState.RESYNCING
            break
    assert codec.book_state(PERP) is BookState.RESYNCING


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            _levels(st.integers(190, 210).map(lambda i: i / 2)),
            _levels(st.integers(190, 210).map(lambda i: i / 2)),
        ),
        max_size=15,
    )
)
def test_a_live_book_is_never_crossed_even_when_updates_would_cross_it(
    changes: list[tuple[list[Any], list[Any]]],
) -> None:
    codec = DeribitCodec()
    codec.feed(SNAPSHOT, 0)
    for i, (bids, asks) in enumerate(changes):
        out = codec.feed(_book("change", 11 + i, bids, asks, prev=10 + i), i)
        if codec.book_state(PERP) is BookState.LIVE:
            assert not codec.book(PERP).is_crossed()
        else:
            assert any(isinstance(m, NeedResubscribe) for m in out) or out == []


# -- documented channels we deliberately do not turn into messages ----------------------------------------
@pytest.mark.parametrize(
    ("name", "channel"),
    [
        ("ws_incremental_ticker_snapshot_data.json", "incremental_ticker.BTC-PERPETUAL"),
        ("ws_incremental_ticker_change_data.json", "incremental_ticker.BTC-PERPETUAL"),
        ("ws_perpetual_data.json", "perpetual.BTC-PERPETUAL.100ms"),
    ],
)
def test_ignored_channels_are_accepted_and_give_no_message(
    notification: Callable[[str, str], bytes], deribit_json: Callable[[str], Any], name: str, channel: str
) -> None:
    codec = DeribitCodec()
    frame = notification(name, channel)
    assert json.loads(frame)["params"]["data"] == deribit_json(name)  # wrapped as on the wire, data intact
    # Documented behaviour (codec._IGNORED_PREFIXES): no message, no Dropped, no book kept.
    assert codec.feed(frame, 1) == []
    pretty = json.dumps(json.loads(frame), indent=2).encode()  # the envelope (non-compact) path agrees
    assert codec.feed(pretty, 2) == []
    assert codec.book_state(PERP) is BookState.SYNCING and "books=0" in repr(codec)


# -- documented responses to our requests ------------------------------------------------------------------
def _codec_at(rid: int) -> DeribitCodec:
    """A codec whose next request gets the id of the documented exchange (ids are allocated by the codec)."""
    codec = DeribitCodec()
    codec._next_id = rid
    return codec


def _unmatched(codec: DeribitCodec, raw: bytes) -> bool:
    (out,) = codec.feed(raw, 9)
    return isinstance(out, Dropped) and out.reason == "unmatched response"


@pytest.mark.parametrize("name", ["ws_public_subscribe_response.json", "ws_private_subscribe_response.json"])
def test_subscribe_responses_become_subscribed(
    deribit_bytes: Callable[[str], bytes], deribit_json: Callable[[str], Any], name: str
) -> None:
    answer = deribit_json(name)
    codec = _codec_at(answer["id"])
    assert _rid(codec.subscribe(answer["result"])) == answer["id"]
    assert codec.feed(deribit_bytes(name), 1) == [
        Subscribed(channels=tuple(answer["result"]), request_id=str(answer["id"]))
    ]


def test_test_response_becomes_pong(
    deribit_bytes: Callable[[str], bytes], deribit_json: Callable[[str], Any]
) -> None:
    answer = deribit_json("ws_public_test_response.json")
    codec = _codec_at(answer["id"])
    assert _rid(codec.ping(ts_sent=555)) == answer["id"] and "version" in answer["result"]
    assert codec.feed(deribit_bytes("ws_public_test_response.json"), 1) == [Pong(ts_sent=555)]


@pytest.mark.parametrize(
    ("name", "send", "events"),
    [
        ("ws_public_hello_response.json", lambda c: c.hello("crossbook", "1.0"), []),
        ("ws_set_heartbeat_response.json", lambda c: c.set_heartbeat(30),
         [SettingAnswered(method="public/set_heartbeat", ok=True)]),
        ("ws_private_enable_cancel_on_disconnect_response.json", lambda c: c.enable_cancel_on_disconnect(),
         [SettingAnswered(method="private/enable_cancel_on_disconnect", ok=True)]),
        ("ws_public_unsubscribe_response.json", lambda c: c.unsubscribe(["deribit_price_index.btc_usd"]), []),
    ],
)
def test_acks_are_matched_and_consumed_and_connection_settings_say_they_hold(
    deribit_bytes: Callable[[str], bytes],
    deribit_json: Callable[[str], Any],
    name: str,
    send: Callable[[DeribitCodec], bytes],
    events: list[Any],
) -> None:
    answer = deribit_json(name)
    raw = deribit_bytes(name)
    codec = _codec_at(answer["id"])
    assert _rid(send(codec)) == answer["id"]
    assert "result" in answer and "error" not in answer
    # hello/unsubscribe acks: no event; set_heartbeat/cancel-on-disconnect: the setting holds (the switch's parts)
    assert codec.feed(raw, 1) == events
    assert _unmatched(codec, raw)  # ...and the request was matched: a second copy is unknown
