from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Callable
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.journal import JOURNAL_TRANSITIONS, Journal, JournalState, JournalUnusable, next_journal_state
from messages import (
    ClientOrderId,
    InstrumentId,
    OrderStatus,
    OrderType,
    PlaceOrder,
    Side,
    TimeInForce,
    Venue,
    VenueOrderId,
)
from venues.machine import IllegalTransition

BTC = InstrumentId("BTC-USDT-PERP")
S = JournalState
CID = ClientOrderId("a1")

# The oracle, written from the documented rules (JournalState's docstring, actors/router.py rules 3-6), not
# from the table in actors/journal.py: (current, next) by state value.
_WORKING_OR_UNSURE = ("journaled", "sent", "unknown", "open")
LEGAL: frozenset[tuple[str, str]] = frozenset(
    {("journaled", "sent"), ("unknown", "sent")}  # first send; re-send only after an unknown outcome
    | {("sent", "unknown"), ("journaled", "unknown")}  # no answer; a replayed intent that may have left
    | {(s, "open") for s in _WORKING_OR_UNSURE}  # acknowledged / working; open -> open is a partial fill
    | {(s, "done") for s in _WORKING_OR_UNSURE}  # a terminal venue status
    | {(s, "not_placed") for s in ("journaled", "sent", "unknown")}  # never placed: not once it was open
)


def _order(cid: str, **kw: object) -> PlaceOrder:
    base: dict[str, object] = dict(venue=Venue.BINANCE, instrument=BTC, client_order_id=ClientOrderId(cid),
                                   side=Side.SELL, quantity=Decimal("0.0100"), price=Decimal("96500.10"))
    base.update(kw)
    return PlaceOrder(**base)  # type: ignore[arg-type]


def test_journal_file_is_wal_with_full_sync_for_intents(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        j.record_intent(j.next_seq(), "arb", _order("a1"), 1)
        assert j._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert j._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL after an intent write
        j.mark_sent(ClientOrderId("a1"), 2)
        assert j._conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL for reconstructible updates


def test_intent_round_trips_with_exact_decimals_and_flags(tmp_path: Path) -> None:
    order = _order("a1", order_type=OrderType.LIMIT, time_in_force=TimeInForce.IOC, post_only=True, reduce_only=True)
    with Journal(tmp_path / "j.sqlite") as j:
        j.record_intent(j.next_seq(), "arb", order, 10)
        [e] = j.non_terminal()
    assert e.order == order and str(e.order.quantity) == "0.0100" and str(e.order.price) == "96500.10"
    assert (e.strategy, e.state, e.seq, e.created_ns, e.sends) == ("arb", JournalState.JOURNALED, 1, 10, 0)


def test_an_order_moves_through_sent_open_done_and_leaves_the_replay_set(tmp_path: Path) -> None:
    cid = ClientOrderId("a1")
    with Journal(tmp_path / "j.sqlite") as j:
        j.record_intent(j.next_seq(), "arb", _order("a1"), 1)
        assert j.mark_sent(cid, 2) == 1
        assert j.record_update(cid, 3, OrderStatus.SUBMITTED, Decimal(0), VenueOrderId("77"), "NEW") is JournalState.OPEN
        assert [e.state for e in j.non_terminal()] == [JournalState.OPEN]
        assert j.record_update(cid, 4, OrderStatus.FILLED, Decimal("0.0100"), None, "FILLED") is JournalState.DONE
        assert j.non_terminal() == []
        e = j.get(cid)
        assert e is not None and e.venue_order_id == "77" and e.filled_qty == Decimal("0.0100")
        assert e.status is OrderStatus.FILLED
        kinds = [(ev.kind, ev.state) for ev in j.events(cid)]
    assert kinds == [("intent", JournalState.JOURNALED), ("sent", JournalState.SENT), ("update", JournalState.OPEN),
                     ("update", JournalState.DONE)]


def test_event_log_is_append_only(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        j.record_intent(j.next_seq(), "arb", _order("a1"), 1)
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            j._conn.execute("UPDATE events SET kind='x'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            j._conn.execute("DELETE FROM events")


def test_a_client_order_id_is_journaled_once(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        j.record_intent(j.next_seq(), "arb", _order("a1"), 1)
        with pytest.raises(sqlite3.IntegrityError):
            j.record_intent(j.next_seq(), "arb", _order("a1"), 2)
        assert len(j.entries()) == 1


def test_reopening_keeps_the_journal_id_and_continues_the_sequence(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        jid = j.journal_id
        j.record_intent(j.next_seq(), "arb", _order("a1"), 1)
        j.record_intent(j.next_seq(), "arb", _order("a2"), 1)
        j.mark_unknown(ClientOrderId("a2"), 5, "timeout")
    with Journal(path) as j2:
        assert j2.journal_id == jid and j2.next_seq() == 3
        assert [(e.client_order_id, e.state) for e in j2.non_terminal()] == [
            ("a1", JournalState.JOURNALED), ("a2", JournalState.UNKNOWN)]
    with Journal(tmp_path / "other.sqlite") as j3:
        assert j3.journal_id != jid  # two journal files never produce the same client ids


def test_mark_terminal_refuses_a_state_that_is_not_final(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        j.record_intent(j.next_seq(), "arb", _order("a1"), 1)
        with pytest.raises(ValueError, match="got 'open'"):
            j.mark_terminal(ClientOrderId("a1"), 2, JournalState.OPEN, "x")
        j.mark_terminal(ClientOrderId("a1"), 2, JournalState.NOT_PLACED, "venue never had it")
        e = j.get(ClientOrderId("a1"))
        assert e is not None and e.state is JournalState.NOT_PLACED and e.reason == "venue never had it"


@pytest.mark.anyio
async def test_journal_calls_run_off_the_event_loop_one_at_a_time(tmp_path: Path) -> None:
    import anyio

    with Journal(tmp_path / "j.sqlite") as j:
        async with anyio.create_task_group() as tg:
            for n in range(20):
                tg.start_soon(j.call, j.record_intent, j.next_seq(), "arb", _order(f"c{n}"), n)
        assert sorted(e.seq for e in await j.call(j.entries)) == list(range(1, 21))


# -- the order state machine ------------------------------------------------------------------------------
def test_the_transition_table_is_exactly_the_documented_pairs() -> None:
    assert {(a.value, b.value) for a, b in JOURNAL_TRANSITIONS} == LEGAL


@given(current=st.sampled_from(list(JournalState)), target=st.sampled_from(list(JournalState)))
def test_every_state_pair_is_allowed_by_the_documented_rules_or_raises_naming_both(
    current: JournalState, target: JournalState
) -> None:
    if (current.value, target.value) in LEGAL:
        assert next_journal_state(current, target) is target
        return
    with pytest.raises(IllegalTransition) as info:
        next_journal_state(current, target)
    assert (info.value.machine, info.value.state, info.value.event) == ("order journal", current, target)
    assert repr(current.value) in str(info.value) and repr(target.value) in str(info.value)


def test_final_states_have_no_way_out() -> None:
    for final in (S.DONE, S.NOT_PLACED):
        for target in JournalState:
            with pytest.raises(IllegalTransition):
                next_journal_state(final, target)


# Journal writes that put a fresh row (state journaled) into each state, and the writes that ask for each
# target. No write asks for ``journaled``: only record_intent makes it, on a new row.
_REACH: dict[JournalState, Callable[[Journal], object]] = {
    S.JOURNALED: lambda j: None,
    S.SENT: lambda j: j.mark_sent(CID, 2),
    S.UNKNOWN: lambda j: j.mark_unknown(CID, 2, "timeout"),
    S.OPEN: lambda j: j.record_update(CID, 2, OrderStatus.SUBMITTED, Decimal(0), VenueOrderId("77"), "NEW"),
    S.DONE: lambda j: j.record_update(CID, 2, OrderStatus.FILLED, Decimal("0.01"), None, "FILLED"),
    S.NOT_PLACED: lambda j: j.mark_terminal(CID, 2, S.NOT_PLACED, "venue never had it"),
}
_WRITES: dict[str, tuple[JournalState, Callable[[Journal], object]]] = {
    "mark_sent": (S.SENT, lambda j: j.mark_sent(CID, 9)),
    "mark_unknown": (S.UNKNOWN, lambda j: j.mark_unknown(CID, 9, "no answer")),
    "record_update_working": (S.OPEN, lambda j: j.record_update(
        CID, 9, OrderStatus.PARTIALLY_FILLED, Decimal("0.0040"), VenueOrderId("77"), "PARTIALLY_FILLED")),
    "record_update_terminal": (S.DONE, lambda j: j.record_update(
        CID, 9, OrderStatus.CANCELLED, Decimal("0.0040"), VenueOrderId("77"), "CANCELED", "by strategy")),
    "mark_terminal_done": (S.DONE, lambda j: j.mark_terminal(CID, 9, S.DONE, "closed")),
    "mark_terminal_not_placed": (S.NOT_PLACED, lambda j: j.mark_terminal(CID, 9, S.NOT_PLACED, "unknown")),
}


def _row(path: Path) -> tuple[object, ...]:
    """The intent row and its event count, read through a second connection (what is on disk)."""
    with closing(sqlite3.connect(str(path))) as c:
        row = c.execute("SELECT * FROM intents WHERE client_order_id=?", (CID,)).fetchone()
        events = c.execute("SELECT COUNT(*) FROM events WHERE client_order_id=?", (CID,)).fetchone()
    return (*row, events[0])


@pytest.mark.parametrize("current", list(JournalState), ids=str)
@pytest.mark.parametrize("write", list(_WRITES))
def test_each_journal_write_is_accepted_only_when_the_documented_rules_allow_its_move(
    tmp_path: Path, current: JournalState, write: str
) -> None:
    target, do = _WRITES[write]
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        j.record_intent(j.next_seq(), "arb", _order("a1"), 1)
        _REACH[current](j)
        before = _row(path)
        if (current.value, target.value) in LEGAL:
            do(j)
            e = j.get(CID)
            assert e is not None and e.state is target and e.updated_ns == 9
            assert j.events(CID)[-1].state is target
            return
        with pytest.raises(IllegalTransition) as info:
            do(j)
        assert (info.value.state, info.value.event) == (current, target)
        method = write.removesuffix("_working").removesuffix("_terminal").removesuffix("_done").removesuffix(
            "_not_placed")
        assert f"{method} refused for client order id 'a1'" in "".join(info.value.__notes__)
        assert _row(path) == before  # nothing written: not the row, not the event log


@given(moves=st.lists(st.sampled_from(list(_WRITES)), max_size=8))
@settings(max_examples=60, deadline=None)
def test_any_sequence_of_writes_follows_the_documented_machine_and_refusals_change_nothing(
    moves: list[str],
) -> None:
    with tempfile.TemporaryDirectory() as tmp, Journal(Path(tmp) / "j.sqlite") as j:
        j.record_intent(j.next_seq(), "arb", _order("a1"), 1)
        state = "journaled"
        for write in moves:
            target, do = _WRITES[write]
            before = _row(j.path)
            if (state, target.value) in LEGAL:
                do(j)
                state = target.value
            else:
                with pytest.raises(IllegalTransition):
                    do(j)
                assert _row(j.path) == before
            e = j.get(CID)
            assert e is not None and e.state.value == state


def test_a_done_order_on_disk_is_not_moved_back_to_open_and_its_row_is_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        j.record_intent(j.next_seq(), "arb", _order("a1"), 1)
        j.mark_sent(CID, 2)
        j.record_update(CID, 3, OrderStatus.FILLED, Decimal("0.0100"), VenueOrderId("77"), "FILLED")
    before = _row(path)
    with Journal(path) as j2:  # a late, stale update after a restart
        with pytest.raises(IllegalTransition, match="input 'open' is illegal in state 'done'"):
            j2.record_update(CID, 4, OrderStatus.SUBMITTED, Decimal(0), VenueOrderId("77"), "NEW")
        with pytest.raises(IllegalTransition, match="input 'sent' is illegal in state 'done'"):
            j2.mark_sent(CID, 5)
        e = j2.get(CID)
        assert e is not None and (e.state, e.status, e.filled_qty, e.sends) == (
            S.DONE, OrderStatus.FILLED, Decimal("0.0100"), 1)
        assert [ev.kind for ev in j2.events(CID)] == ["intent", "sent", "update"]
    assert _row(path) == before


def test_a_not_placed_order_is_never_sent_again(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        j.record_intent(j.next_seq(), "arb", _order("a1"), 1)
        j.mark_terminal(CID, 2, S.NOT_PLACED, "replayed after a restart")
        before = _row(path)
        with pytest.raises(IllegalTransition, match="input 'sent' is illegal in state 'not_placed'"):
            j.mark_sent(CID, 3)
        assert _row(path) == before


def test_writes_to_a_client_order_id_that_is_not_journaled_raise_key_error_and_log_nothing(
    tmp_path: Path,
) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        for write in _WRITES.values():
            with pytest.raises(KeyError, match="'a1' is not in journal"):
                write[1](j)
        assert j.events() == []


# -- one writer, readable files only ---------------------------------------------------------------------
def test_a_second_writer_is_refused_naming_the_holder_and_the_lock_goes_with_the_first(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    first = Journal(path)
    with pytest.raises(JournalUnusable, match=rf"in use by another crossbook process \(pid {os.getpid()}\)"):
        Journal(path)
    first.close()
    Journal(path).close()  # released with the first


def test_a_file_that_is_not_a_journal_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    path.write_bytes(b"this is not a database, it is a grocery list\n" * 100)
    with pytest.raises(JournalUnusable, match="not a readable crossbook journal .*move it aside"):
        Journal(path)
    assert path.read_bytes().startswith(b"this is not a database")  # left as it was
    Journal(tmp_path / "other.sqlite").close()


def test_a_journal_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    Journal(path).close()
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    with pytest.raises(JournalUnusable, match="schema 99, newer than"):
        Journal(path)
    Journal(tmp_path / "other.sqlite").close()
