from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from actors.journal import Journal, JournalState
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

BTC = InstrumentId("BTC-USDT-PERP")


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
