from __future__ import annotations

import gc
import warnings

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.errors import MailboxClosed, MailboxEmpty, MailboxFull
from actors.mailbox import conflating_mailbox, fifo_mailbox
from messages import MailboxOverflow


@given(st.lists(st.integers(), max_size=200))
def test_fifo_delivers_in_send_order(items: list[int]) -> None:
    tx, rx = fifo_mailbox(len(items) + 1, "t")
    for i in items:
        tx.send_nowait(i)
    out = [rx.receive_nowait() for _ in items]
    assert out == items
    with pytest.raises(MailboxEmpty):
        rx.receive_nowait()
    tx.close()
    rx.close()


def test_fifo_send_nowait_on_full_raises_and_drops_nothing() -> None:
    tx, rx = fifo_mailbox(2, "t")
    tx.send_nowait(1)
    tx.send_nowait(2)
    with pytest.raises(MailboxFull, match="full \\(2 messages\\)"):
        tx.send_nowait(3)
    assert [rx.receive_nowait(), rx.receive_nowait()] == [1, 2]
    tx.close()
    rx.close()


@pytest.mark.anyio
async def test_fifo_sender_waits_when_full_and_resumes_when_receiver_takes() -> None:
    tx, rx = fifo_mailbox(1, "t")
    tx.send_nowait("a")
    sent = anyio.Event()

    async def sender() -> None:
        await tx.send("b")
        sent.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(sender)
        await anyio.sleep(0.01)
        assert not sent.is_set()
        assert rx.statistics().waiting_senders == 1
        assert await rx.receive() == "a"
        await sent.wait()
        assert await rx.receive() == "b"
    tx.close()
    rx.close()


@pytest.mark.anyio
async def test_closing_send_end_lets_receiver_drain_then_says_peer_ended() -> None:
    tx, rx = fifo_mailbox(4, "t")
    tx.send_nowait(1)
    tx.close()
    assert await rx.receive() == 1
    with pytest.raises(MailboxClosed) as err:
        await rx.receive()
    assert err.value.reason == "peer_ended"
    with pytest.raises(MailboxClosed) as err2:
        tx.send_nowait(2)
    assert err2.value.reason == "closed"
    rx.close()


@pytest.mark.anyio
async def test_closing_receive_end_fails_waiting_senders_with_peer_gone() -> None:
    tx, rx = fifo_mailbox(1, "t")
    tx.send_nowait(1)
    errors: list[str] = []

    async def sender() -> None:
        try:
            await tx.send(2)
        except MailboxClosed as exc:
            errors.append(exc.reason)

    async with anyio.create_task_group() as tg:
        tg.start_soon(sender)
        await anyio.sleep(0.01)
        rx.close()
    assert errors == ["peer_gone"]
    tx.close()


def test_event_mailbox_replaces_dropped_messages_with_one_counted_notice() -> None:
    tx, rx = fifo_mailbox(3, "slow", overflow="notify")
    for i in range(10):
        tx.deliver("md.trade.okx.X", i)
    assert tx.statistics().overflowed == 7
    got = [rx.receive_nowait() for _ in range(3)]
    assert got == [0, 1, 2]
    tx.deliver("md.trade.okx.X", 10)
    notice = rx.receive_nowait()
    assert isinstance(notice, MailboxOverflow)
    assert notice.dropped == 7 and notice.topic == "md.trade.okx.X" and notice.subscriber == "slow"
    assert rx.receive_nowait() == 10
    tx.close()
    rx.close()


@settings(max_examples=200)
@given(st.lists(st.tuples(st.sampled_from("abcdefgh"), st.integers()), max_size=300))
def test_conflation_keeps_newest_value_per_key_in_first_arrival_order(pairs: list[tuple[str, int]]) -> None:
    tx, rx = conflating_mailbox("c")
    for key, value in pairs:
        tx.deliver(key, value)
    latest: dict[str, int] = {}
    for key, value in pairs:
        latest[key] = value
    stats = rx.statistics()
    assert stats.depth == len(latest) <= 8  # memory bounded by the number of keys
    assert stats.conflated == len(pairs) - len(latest)
    out = [rx.receive_nowait() for _ in range(len(latest))]
    assert out == list(latest.values())
    tx.close()
    rx.close()


def test_conflating_mailbox_with_key_limit_drops_oldest_key_and_counts_it() -> None:
    tx, rx = conflating_mailbox("c", max_keys=2)
    tx.deliver("a", 1)
    tx.deliver("b", 2)
    tx.deliver("c", 3)
    assert rx.statistics().overflowed == 1
    assert [rx.receive_nowait(), rx.receive_nowait()] == [2, 3]
    tx.close()
    rx.close()


def test_mailbox_end_dropped_while_open_warns() -> None:
    tx, rx = fifo_mailbox(1, "leaky")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del rx
        gc.collect()
    assert any(issubclass(w.category, ResourceWarning) and "leaky" in str(w.message) for w in caught)
    tx.close()


def test_statistics_track_peak_and_counts() -> None:
    tx, rx = fifo_mailbox(10, "s")
    for i in range(5):
        tx.send_nowait(i)
    rx.receive_nowait()
    st_ = rx.statistics()
    assert (st_.depth, st_.peak, st_.sent, st_.received, st_.capacity) == (4, 5, 5, 1, 10)
    tx.close()
    rx.close()
