"""Contract of pool.Channel: Go's chan (FIFO, closable, buffered or unbuffered)."""

from __future__ import annotations

import math
import threading
import time
from collections import Counter

import pytest
from poolhelpers import BAD_TIMEOUTS

from pool import Channel, ChannelClosed

SHORT = 0.1
EARLIEST = 0.09
LATEST = 0.5
# A bounded look for something that must NOT happen (a send returning too early).
# It is not synchronisation: the test's verdict never depends on it passing in time.
GLANCE = 0.05



def full_channel(capacity: int) -> Channel[int]:
    ch: Channel[int] = Channel(capacity)
    for i in range(capacity):
        ch.send(i, timeout=0)
    return ch


# -- construction and properties ---------------------------------------------------


def test_default_capacity_is_zero_unbuffered() -> None:
    assert Channel().capacity == 0


def test_capacity_is_what_was_asked() -> None:
    assert Channel(7).capacity == 7


def test_new_channel_is_open_and_empty() -> None:
    ch: Channel[int] = Channel(3)
    assert ch.closed is False
    assert len(ch) == 0


def test_len_counts_buffered_items() -> None:
    ch: Channel[int] = Channel(3)
    ch.send(1)
    ch.send(2)
    assert len(ch) == 2
    ch.recv()
    assert len(ch) == 1


def test_closed_is_true_after_close() -> None:
    ch: Channel[int] = Channel(1)
    ch.close()
    assert ch.closed is True


@pytest.mark.parametrize(
    ("capacity", "error"),
    [
        pytest.param(-1, ValueError, id="negative"),
        pytest.param("2", TypeError, id="str"),
        pytest.param(True, TypeError, id="bool"),
        pytest.param(2.0, TypeError, id="float"),
    ],
)
def test_bad_capacity_is_rejected_naming_it(capacity: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="capacity"):
        Channel(capacity)  # type: ignore[arg-type]


# -- unbuffered ------------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_unbuffered_send_returns_only_after_a_receiver_took_the_item(spawn) -> None:
    ch: Channel[str] = Channel(0)
    receiving = threading.Event()

    def send_then_check() -> bool:
        ch.send("x", timeout=5)
        return receiving.is_set()  # a receiver must exist by the time send returns

    sender = spawn(send_then_check)
    assert not sender.finished.wait(GLANCE), "send returned with no receiver"
    receiving.set()
    assert ch.recv(timeout=5) == ("x", True)
    assert sender.join(5) is True


def test_unbuffered_send_with_no_receiver_times_out() -> None:
    ch: Channel[int] = Channel(0)
    with pytest.raises(TimeoutError):
        ch.send(1, timeout=0)


def test_unbuffered_try_send_with_no_receiver_returns_false() -> None:
    ch: Channel[int] = Channel(0)
    assert ch.try_send(1) is False
    assert len(ch) == 0


def test_unbuffered_recv_takes_the_item_of_a_blocked_sender(spawn) -> None:
    ch: Channel[int] = Channel(0)
    sender = spawn(ch.send, 7, timeout=5)
    assert ch.recv(timeout=5) == (7, True)
    sender.join(5)


def test_unbuffered_send_hands_the_item_to_a_blocked_receiver(spawn) -> None:
    ch: Channel[int] = Channel(0)
    receiver = spawn(ch.recv, timeout=5)
    ch.send(7, timeout=5)
    assert receiver.join(5) == (7, True)


@pytest.mark.timeout(10)
def test_unbuffered_try_send_succeeds_when_a_receiver_is_waiting(spawn) -> None:
    ch: Channel[int] = Channel(0)
    receiver = spawn(ch.recv, timeout=5)
    # No event can say "the receiver is parked inside recv", so offer until it is.
    deadline = time.monotonic() + 5
    while not ch.try_send(9):
        assert time.monotonic() < deadline, "try_send never found the waiting receiver"
        time.sleep(0.001)
    assert receiver.join(5) == (9, True)


# -- buffered --------------------------------------------------------------------------


def test_buffered_send_does_not_block_while_there_is_room() -> None:
    ch: Channel[int] = Channel(3)
    for i in range(3):
        ch.send(i, timeout=0)
    assert len(ch) == 3


@pytest.mark.timeout(10)
def test_buffered_send_blocks_while_full_until_a_recv_makes_room(spawn) -> None:
    ch = full_channel(2)
    sender = spawn(ch.send, 99, timeout=5)
    assert not sender.finished.wait(GLANCE), "send on a full channel returned"
    assert ch.recv(timeout=5) == (0, True)
    sender.join(5)
    assert len(ch) == 2
    assert [ch.recv(timeout=0)[0] for _ in range(2)] == [1, 99]


def test_send_on_a_full_channel_times_out_within_a_window() -> None:
    ch = full_channel(1)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        ch.send(99, timeout=SHORT)
    assert EARLIEST <= time.monotonic() - start < LATEST


def test_item_whose_send_timed_out_is_not_in_a_buffered_channel() -> None:
    ch = full_channel(1)
    with pytest.raises(TimeoutError):
        ch.send(99, timeout=SHORT)
    assert len(ch) == 1
    assert ch.recv(timeout=0) == (0, True)
    with pytest.raises(TimeoutError):
        ch.recv(timeout=0)


def test_item_whose_send_timed_out_is_not_in_an_unbuffered_channel() -> None:
    ch: Channel[int] = Channel(0)
    with pytest.raises(TimeoutError):
        ch.send(99, timeout=SHORT)
    with pytest.raises(TimeoutError):
        ch.recv(timeout=SHORT)


def test_send_zero_timeout_on_a_full_channel_raises_at_once() -> None:
    ch = full_channel(1)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        ch.send(99, timeout=0)
    assert time.monotonic() - start < LATEST
    assert len(ch) == 1


def test_try_send_returns_true_while_there_is_room() -> None:
    ch: Channel[int] = Channel(2)
    assert ch.try_send(1) is True
    assert ch.try_send(2) is True
    assert ch.recv(timeout=0) == (1, True)


def test_try_send_on_a_full_channel_returns_false_and_leaves_it_unchanged() -> None:
    ch = full_channel(2)
    assert ch.try_send(99) is False
    assert len(ch) == 2
    assert [ch.recv(timeout=0)[0] for _ in range(2)] == [0, 1]


def test_try_send_on_a_closed_channel_raises_channel_closed() -> None:
    ch: Channel[int] = Channel(2)
    ch.close()
    with pytest.raises(ChannelClosed):
        ch.try_send(1)


# -- recv ------------------------------------------------------------------------------


def test_recv_returns_the_item_and_true() -> None:
    ch: Channel[str] = Channel(1)
    ch.send("a")
    assert ch.recv() == ("a", True)


def test_recv_of_a_none_item_is_told_apart_from_closed() -> None:
    ch: Channel[None] = Channel(1)
    ch.send(None)
    assert ch.recv(timeout=0) == (None, True)


def test_recv_on_an_empty_open_channel_times_out_within_a_window() -> None:
    ch: Channel[int] = Channel(1)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        ch.recv(timeout=SHORT)
    assert EARLIEST <= time.monotonic() - start < LATEST


def test_recv_blocks_until_an_item_is_sent(spawn) -> None:
    ch: Channel[int] = Channel(1)
    receiver = spawn(ch.recv, timeout=5)
    assert not receiver.finished.wait(GLANCE), "recv on an empty channel returned"
    ch.send(5)
    assert receiver.join(5) == (5, True)


def test_recv_with_a_huge_timeout_does_not_overflow(spawn) -> None:
    ch: Channel[int] = Channel(0)
    receiver = spawn(ch.recv, timeout=1e300)
    ch.send(1, timeout=5)
    assert receiver.join(5) == (1, True)


def test_send_with_a_huge_timeout_does_not_overflow(spawn) -> None:
    ch: Channel[int] = Channel(0)
    sender = spawn(ch.send, 1, timeout=1e300)
    assert ch.recv(timeout=5) == (1, True)
    sender.join(5)


def test_recv_on_a_closed_drained_channel_returns_none_false() -> None:
    ch: Channel[int] = Channel(1)
    ch.close()
    assert ch.recv() == (None, False)
    assert ch.recv(timeout=0) == (None, False)


def test_items_buffered_before_close_are_still_received() -> None:
    ch: Channel[int] = Channel(3)
    ch.send(1)
    ch.send(2)
    ch.close()
    assert ch.recv(timeout=0) == (1, True)
    assert ch.recv(timeout=0) == (2, True)
    assert ch.recv(timeout=0) == (None, False)


# -- iteration -------------------------------------------------------------------------


def test_iteration_yields_buffered_items_then_ends_on_close() -> None:
    ch: Channel[int | None] = Channel(4)
    for item in (1, None, 3):
        ch.send(item)
    ch.close()
    assert list(ch) == [1, None, 3]


def test_iteration_ends_when_another_thread_closes_the_channel(spawn) -> None:
    ch: Channel[int] = Channel(0)
    consumer = spawn(list, ch)
    for i in range(5):
        ch.send(i, timeout=5)
    ch.close()
    assert consumer.join(5) == [0, 1, 2, 3, 4]


# -- close -----------------------------------------------------------------------------


def test_send_on_a_closed_channel_raises_channel_closed() -> None:
    ch: Channel[int] = Channel(1)
    ch.close()
    with pytest.raises(ChannelClosed):
        ch.send(1)
    assert len(ch) == 0


def test_closing_twice_raises_channel_closed() -> None:
    ch: Channel[int] = Channel(1)
    ch.close()
    with pytest.raises(ChannelClosed):
        ch.close()
    assert ch.closed is True


@pytest.mark.parametrize("capacity", [0, 1])
def test_send_blocked_when_the_channel_closes_raises_channel_closed(spawn, capacity: int) -> None:
    ch = full_channel(capacity)
    about_to_send = threading.Event()

    def send() -> None:
        about_to_send.set()
        ch.send(99, timeout=10)

    sender = spawn(send)
    assert about_to_send.wait(5)
    assert not sender.finished.wait(GLANCE), "send on a full channel returned"
    ch.close()
    with pytest.raises(ChannelClosed):
        sender.join(5)
    assert [ch.recv(timeout=0) for _ in range(capacity)] == [(i, True) for i in range(capacity)]
    assert ch.recv(timeout=0) == (None, False)  # the blocked item never entered


@pytest.mark.parametrize("capacity", [0, 2])
def test_close_wakes_every_blocked_receiver_with_none_false(spawn, capacity: int) -> None:
    ch: Channel[int] = Channel(capacity)
    ready = threading.Barrier(4, timeout=5)

    def recv() -> tuple[int | None, bool]:
        ready.wait()
        return ch.recv(timeout=10)

    receivers = [spawn(recv) for _ in range(3)]
    ready.wait()
    ch.close()
    assert [r.join(5) for r in receivers] == [(None, False)] * 3


@pytest.mark.parametrize("capacity", [0, 2])
def test_close_wakes_every_blocked_sender_with_channel_closed(spawn, capacity: int) -> None:
    ch = full_channel(capacity)
    ready = threading.Barrier(4, timeout=5)

    def send(item: int) -> None:
        ready.wait()
        ch.send(item, timeout=10)

    senders = [spawn(send, 100 + i) for i in range(3)]
    ready.wait()
    ch.close()
    for s in senders:
        with pytest.raises(ChannelClosed):
            s.join(5)


def test_close_wakes_a_receiver_waiting_without_timeout(spawn) -> None:
    ch: Channel[int] = Channel(0)
    receiver = spawn(ch.recv)
    assert not receiver.finished.wait(GLANCE)
    ch.close()
    assert receiver.join(5) == (None, False)


# -- order and threads --------------------------------------------------------------------


@pytest.mark.parametrize("capacity", [0, 1, 64])
def test_items_arrive_in_fifo_order(spawn, capacity: int) -> None:
    ch: Channel[int] = Channel(capacity)
    consumer = spawn(list, ch)
    for i in range(1000):
        ch.send(i, timeout=5)
    ch.close()
    assert consumer.join(10) == list(range(1000))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("capacity", [0, 1, 64])
def test_many_senders_and_receivers_lose_and_duplicate_nothing(spawn, capacity: int) -> None:
    senders, receivers, per_sender = 4, 4, 2500  # 10,000 items
    ch: Channel[tuple[int, int]] = Channel(capacity)

    def send_all(sender: int) -> None:
        for seq in range(per_sender):
            ch.send((sender, seq), timeout=30)

    def receive_all() -> list[tuple[int, int]]:
        return list(ch)

    consumers = [spawn(receive_all) for _ in range(receivers)]
    producers = [spawn(send_all, s) for s in range(senders)]
    for p in producers:
        p.join(45)
    ch.close()
    received = [c.join(10) for c in consumers]

    counts = Counter(item for got in received for item in got)
    expected = {(s, q) for s in range(senders) for q in range(per_sender)}
    assert set(counts) == expected, "items lost"
    assert max(counts.values()) == 1, "items duplicated"
    # FIFO per sender: each receiver sees any one sender's items in send order.
    for got in received:
        for s in range(senders):
            seqs = [q for (sender, q) in got if sender == s]
            assert seqs == sorted(seqs)


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(("timeout", "error"), BAD_TIMEOUTS)
def test_send_rejects_a_bad_timeout_naming_it(timeout: object, error: type[Exception]) -> None:
    ch: Channel[int] = Channel(1)
    with pytest.raises(error, match="timeout"):
        ch.send(1, timeout=timeout)  # type: ignore[arg-type]
    assert len(ch) == 0


@pytest.mark.parametrize(("timeout", "error"), BAD_TIMEOUTS)
def test_recv_rejects_a_bad_timeout_naming_it(timeout: object, error: type[Exception]) -> None:
    ch: Channel[int] = Channel(1)
    ch.send(1)
    with pytest.raises(error, match="timeout"):
        ch.recv(timeout=timeout)  # type: ignore[arg-type]
    assert len(ch) == 1


@pytest.mark.timeout(60)
@pytest.mark.parametrize("capacity", [0, 1, 64])
def test_items_whose_send_timed_out_are_never_received_under_contention(
    spawn, capacity: int
) -> None:
    senders, receivers, per_sender = 4, 4, 500
    ch: Channel[tuple[int, int]] = Channel(capacity)

    def send_all(sender: int) -> set[tuple[int, int]]:
        sent = set()
        for seq in range(per_sender):
            try:
                ch.send((sender, seq), timeout=0.0005)
            except TimeoutError:
                continue
            sent.add((sender, seq))
        return sent

    def receive_all() -> list[tuple[int, int]]:
        got: list[tuple[int, int]] = []
        while True:
            try:
                item, ok = ch.recv(timeout=0.0005)
            except TimeoutError:
                continue
            if not ok:
                return got
            assert item is not None
            got.append(item)

    consumers = [spawn(receive_all) for _ in range(receivers)]
    producers = [spawn(send_all, s) for s in range(senders)]
    sent = set().union(*(p.join(45) for p in producers))
    ch.close()
    received = Counter(item for c in consumers for item in c.join(10))
    assert set(received) == sent
    assert not received or max(received.values()) == 1


@pytest.mark.parametrize("forever", [math.inf, 10**400], ids=["inf", "huge-int"])
@pytest.mark.parametrize("capacity", [0, 1])
def test_infinite_timeout_means_wait_forever(spawn, capacity: int, forever: float) -> None:
    ch: Channel[int] = Channel(capacity)
    receiver = spawn(ch.recv, timeout=forever)
    ch.send(1, timeout=forever)
    assert receiver.join(5) == (1, True)
