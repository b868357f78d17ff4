"""DaskPool: the pool's contract on a real Dask distributed cluster (no mocks).

Most tests share one LocalCluster (module scope: a cluster takes 1-3 s to
start) through ``client=``; the ones that kill or restart workers, or test
the embedded mode, start a cluster of their own. The address mode runs
against a real ``dask scheduler`` and ``dask worker`` started as separate
processes on 127.0.0.1. Every test checks or ends what it started.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import clusterhelpers as ch
from prochelpers import descendants, describe, needs_proc

from pool import Abandoned, Job, PoolClosed, Status, background

distributed = pytest.importorskip("distributed")

from pool.cluster import DaskPool  # noqa: E402  (needs distributed)

pytestmark = [needs_proc]

SLACK = 0.5  # a shutdown may overrun timeout + grace by this much (the kill included)
CLOSE_BOUND = 5.0  # closing an embedded cluster: about 0.3-1 s, more on a busy machine

ch.ship_by_value()


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """A LocalCluster of 3 single-thread workers, shared by the tests that leave it whole."""
    cluster = distributed.LocalCluster(n_workers=3, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None,
                                       scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
    c = distributed.Client(cluster, set_as_default=False)
    yield c
    c.close()
    ch.close_cluster(cluster)


@pytest.fixture
def pool(client: Any) -> Iterator[DaskPool]:
    p = DaskPool(ch.run, client=client)
    yield p
    p.shutdown(timeout=5)


def left_behind(before: dict[int, str], wait: float = 5.0) -> dict[int, str]:
    """Processes below this one that were not there ``before``, after up to ``wait`` s.

    (Not prochelpers': the shared cluster's workers are ``multiprocessing``
    children for the whole module.) Polls /proc: a process's exit has no
    Event this test could wait on.
    """
    limit = time.monotonic() + wait
    while True:
        new = {pid: s for pid, s in descendants().items() if pid not in before}
        if not new or time.monotonic() >= limit:
            return new
        time.sleep(0.05)


def gate() -> str:
    return f"gate-{uuid.uuid4().hex[:8]}"


def open_gate(client: Any, name: str) -> None:
    distributed.Event(name, client=client).set()


# -- the package -------------------------------------------------------------------


def test_import_pool_never_imports_distributed() -> None:
    code = "import sys, pool; assert 'distributed' not in sys.modules, 'imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# -- modes ---------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_embedded_cluster_runs_jobs_and_leaves_no_process_behind() -> None:
    before = descendants()
    p = DaskPool(ch.run, workers=2)
    assert p.cluster is not None and len(p.worker_addresses()) == 2
    futures = [p.submit(ch.job(f"j{i}")) for i in range(6)]
    assert [f.result(30) for f in futures] == [f"j{i}" for i in range(6)]
    report = p.shutdown(timeout=30)
    assert report.clean and report.stats.succeeded == 6
    left = left_behind(before, wait=5.0)
    assert not left, describe(left)


@pytest.mark.timeout(120)
def test_an_embedded_cluster_takes_no_fixed_port_so_two_pools_never_collide() -> None:
    import socket
    import warnings

    with socket.socket() as held, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with contextlib.suppress(OSError):  # busy already: the pool must not want it either
            held.bind(("127.0.0.1", 8787))
            held.listen()
        p = DaskPool(ch.run, workers=1)
        try:
            assert p.dashboard_link is None
        finally:
            p.shutdown(timeout=30)
    assert not [w for w in caught if "already in use" in str(w.message)], \
        [str(w.message) for w in caught]


@pytest.mark.timeout(180)
def test_address_mode_runs_on_a_separate_scheduler_and_worker_and_restarts_a_hung_worker(
        tmp_path: Path) -> None:
    before = descendants()
    servers = ch.Servers.start(tmp_path)
    try:
        p = _connect(servers.address)
        try:
            assert p.cluster is None
            assert p.submit(ch.job("a")).result(30) == "a"
            first = set(p.worker_addresses().values())
            hung = p.submit(ch.job("h", "hang", 60))
            _wait_until(lambda: hung.running(), 30)
            start = time.monotonic()
            report = p.shutdown(timeout=0.2, grace=0.1)
            elapsed = time.monotonic() - start
        finally:
            p.shutdown(timeout=1)
        assert [o.job_id for o in report.abandoned] == ["h"]
        assert elapsed < 0.3 + SLACK, elapsed
        assert isinstance(hung.exception(0), Abandoned)
        # The scheduler lives on; the nanny started a fresh worker in place of the hung one.
        with distributed.Client(servers.address, set_as_default=False, timeout=30) as c:
            # wait_for_workers(1) alone could return at once with the killed worker
            # still listed: the scheduler drops it only once it sees its comm close.
            _wait_until(lambda: _fresh_workers(c, first), 30)
            assert c.submit(sum, [1, 2], pure=False).result(30) == 3
    finally:
        servers.stop()
    left = left_behind(before, wait=5.0)
    assert not left, describe(left)


def _connect(address: str) -> DaskPool:
    limit = time.monotonic() + 30
    while True:  # the scheduler is starting: retry the connection (bounded)
        try:
            p = DaskPool(ch.run, address=address)
        except OSError:
            if time.monotonic() > limit:
                raise
            time.sleep(0.2)
            continue
        p.client.wait_for_workers(1, timeout=30)
        return p


def _time_calls(obj: Any, name: str) -> list[float]:
    """Time every call of ``obj.name`` (the real one) from now on; the list fills as it runs."""
    method = getattr(obj, name)
    took: list[float] = []

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.monotonic()
        try:
            return method(*args, **kwargs)
        finally:
            took.append(time.monotonic() - start)

    setattr(obj, name, timed)
    return took


def _fresh_workers(c: Any, old: set[str]) -> bool:
    """The scheduler lists workers, none of them in ``old``."""
    now = set(c.scheduler_info(n_workers=-1)["workers"])
    return bool(now) and not now & old


def _wait_until(predicate: Any, timeout: float) -> None:
    limit = time.monotonic() + timeout
    while not predicate():  # the start event comes from the cluster: no local Event to wait on
        assert time.monotonic() < limit, "timed out"
        time.sleep(0.01)


def test_shutdown_takes_the_pool_reports_back_from_a_cluster_that_outlives_it(
        client: Any) -> None:
    p = DaskPool(ch.run, client=client)
    topic = p._core.topic
    for f in [p.submit(Job(f"r{i}", b"ok")) for i in range(5)]:
        f.result(timeout=30)
    assert client.get_events(topic)  # the workers' reports, with the replies they carry
    assert p.shutdown(timeout=30).clean
    assert not client.get_events(topic)


def test_client_and_address_together_are_a_value_error(client: Any) -> None:
    with pytest.raises(ValueError, match="client or address"):
        DaskPool(ch.run, client=client, address="tcp://127.0.0.1:1")


@pytest.mark.parametrize(("kwargs", "error", "name"), [
    ({"buffer": 0}, ValueError, "buffer"),
    ({"buffer": "1"}, TypeError, "buffer"),
    ({"keep": -1}, ValueError, "keep"),
    ({"workers": 0}, ValueError, "workers"),
    ({"client": "c"}, TypeError, "client"),
    ({"address": 8786}, TypeError, "address"),
])
def test_bad_arguments_name_themselves(kwargs: dict[str, Any], error: type[Exception],
                                       name: str) -> None:
    with pytest.raises(error, match=name):
        DaskPool(ch.run, **kwargs)


# -- jobs ------------------------------------------------------------------------------


def test_results_and_failures_come_back_through_job_futures(pool: DaskPool) -> None:
    ok = pool.submit(ch.job("ok"))
    bad = pool.submit(ch.job("bad", "raise", "boom"))
    assert ok.result(30) == "ok"
    error = bad.exception(30)
    assert isinstance(error, ValueError) and str(error) == "boom"
    assert "ValueError: boom" in str(error.__cause__)  # the worker's traceback
    assert [o.job_id for o in pool.errors] == ["bad"]
    stats = pool.shutdown(timeout=10).stats
    assert (stats.submitted, stats.succeeded, stats.failed) == (2, 1, 1)


def test_a_deadline_reaches_the_job_on_the_worker(pool: DaskPool) -> None:
    ctx, _ = background().with_timeout(0.3)
    future = pool.submit(ch.job("d", "honour", 20, ctx=ctx))
    assert future.outcome is None or future.outcome.status is not Status.SUCCEEDED
    error = future.exception(30)
    assert isinstance(error, TimeoutError)
    assert future.outcome is not None and future.outcome.status is Status.TIMED_OUT
    assert future.outcome.ran_for is not None and 0.1 < future.outcome.ran_for < 5


def test_a_job_whose_context_is_done_at_submit_is_not_sent(pool: DaskPool) -> None:
    ctx, cancel = background().with_cancel()
    cancel()
    future = pool.submit(ch.job("c", ctx=ctx))
    assert future.cancelled() and future.outcome is not None
    assert future.outcome.status is Status.CANCELED and future.outcome.started_at is None


def test_a_job_subclass_reaches_process_as_itself(client: Any) -> None:
    p = DaskPool(ch.tag_of, client=client)
    try:
        assert p.submit(ch.Tagged("t", b"", tag="blue")).result(30) == ("Tagged", "blue", False)
    finally:
        p.shutdown(timeout=10)


def test_a_duplicate_id_is_a_value_error_and_a_submit_after_shutdown_pool_closed(
        client: Any, pool: DaskPool) -> None:
    name = gate()
    pool.submit(ch.job("same", "gate", name))
    with pytest.raises(ValueError, match="same"):
        pool.submit(ch.job("same"))
    open_gate(client, name)
    pool.shutdown(timeout=30)
    with pytest.raises(PoolClosed):
        pool.submit(ch.job("late"))
    with pytest.raises(PoolClosed):
        pool.try_submit(ch.job("late"))


def test_submit_waits_while_buffer_jobs_are_in_flight(client: Any, spawn: Any) -> None:
    p = DaskPool(ch.run, client=client, buffer=2)
    name = gate()
    try:
        first = [p.submit(ch.job(f"g{i}", "gate", name)) for i in range(2)]
        assert p.try_submit(ch.job("third")) is None
        with pytest.raises(TimeoutError):
            p.submit(ch.job("third"), timeout=0.05)
        waiting = spawn(p.submit, ch.job("third"))
        assert not waiting.finished.wait(0.2)  # blocked: two in flight
        open_gate(client, name)
        assert waiting.join(30).result(30) == "third"
        assert [f.result(30) for f in first] == ["g0", "g1"]
        assert p.stats.submitted == 3  # the refused and timed-out submits are not counted
    finally:
        open_gate(client, name)
        p.shutdown(timeout=30)


def test_a_full_buffer_holds_jobs_on_this_side_and_sends_them_as_the_cluster_drains(
        client: Any) -> None:
    # buffer=30 on 3 threads: while the cluster holds 15 or more of its jobs, the
    # pool sends no more.
    p = DaskPool(ch.run, client=client, buffer=30)
    name = gate()
    prefix = p._core.prefix

    def on_scheduler(dask_scheduler: Any) -> int:
        return sum(str(key).startswith(prefix) for key in dask_scheduler.tasks)

    try:
        futures = [p.submit(ch.job(f"g{i}", "gate", name)) for i in range(20)]
        _wait_until(lambda: p.stats.running == 3, 30)  # all 20 sent, in one go
        futures += [p.submit(ch.job(f"g{i}", "gate", name)) for i in range(20, 30)]
        assert p.stats.queued == 27
        time.sleep(0.2)  # (were they sent, they would be on the scheduler by now)
        assert client.run_on_scheduler(on_scheduler) == 20
        open_gate(client, name)
        assert [f.result(60) for f in futures] == [f"g{i}" for i in range(30)]
        report = p.shutdown(timeout=30)
        assert report.clean and report.stats.succeeded == 30
    finally:
        open_gate(client, name)
        p.shutdown(timeout=5)


def test_shutdown_without_drain_cancels_the_held_jobs_once(client: Any, spawn: Any) -> None:
    p = DaskPool(ch.run, client=client, buffer=30)
    name = gate()

    def open_once_swept() -> None:
        _wait_until(lambda: p.stats.canceled == 27, 30)
        open_gate(client, name)

    try:
        futures = [p.submit(ch.job(f"g{i}", "gate", name)) for i in range(20)]
        _wait_until(lambda: p.stats.running == 3, 30)
        futures += [p.submit(ch.job(f"g{i}", "gate", name)) for i in range(20, 30)]  # held
        opener = spawn(open_once_swept)
        report = p.shutdown(timeout=30, drain=False)
        opener.join(30)
        assert (report.stats.submitted, report.stats.succeeded, report.stats.canceled) == (
            30, 3, 27)
        assert all(f.done() for f in futures)
        assert sum(f.cancelled() for f in futures) == 27
    finally:
        open_gate(client, name)
        p.shutdown(timeout=5)


def test_replies_come_back_small_in_reports_big_by_gather_and_odd_classes_by_value(
        client: Any) -> None:
    class Box:  # pickle cannot find it by name on a worker: it travels by value
        def __init__(self, n: int) -> None:
            self.n = n

    def process(job: Job) -> Any:
        n = int(job.payload)
        return Box(n) if n < 0 else "x" * n

    p = DaskPool(process, client=client)
    try:
        sizes = [1, 100_000, 10, 5_000, -7, 2_000]
        futures = [p.submit(Job(f"j{i}", str(n).encode())) for i, n in enumerate(sizes)]
        results = [f.result(30) for f in futures]
        assert [len(r) for r in results if isinstance(r, str)] == [1, 100_000, 10, 5_000, 2_000]
        box = results[4]
        assert type(box).__name__ == "Box" and box.n == -7
        report = p.shutdown(timeout=30)
        assert report.clean and report.stats.succeeded == len(sizes)
    finally:
        p.shutdown(timeout=5)


def test_a_job_no_report_ends_still_ends_once_through_its_dask_future(client: Any) -> None:
    # Without the pool's plugin a worker sends no report: the job's task still
    # finishes (with the wrapper's error), and its Dask future ends the job.
    p = DaskPool(ch.run, client=client)
    try:
        assert p.submit(ch.job("first")).result(30) == "first"
        client.unregister_worker_plugin(p._core.topic)
        future = p.submit(ch.job("orphan"))
        error = future.exception(30)
        assert isinstance(error, RuntimeError) and "plugin is not on this worker" in str(error)
        assert future.outcome is not None and future.outcome.status is Status.FAILED
        stats = p.shutdown(timeout=30).stats
        assert (stats.submitted, stats.succeeded, stats.failed) == (2, 1, 1)
    finally:
        p.shutdown(timeout=5)


def test_future_cancel_of_a_queued_job_cancels_its_task(client: Any) -> None:
    p = DaskPool(ch.run, client=client)
    name = gate()
    try:
        busy = [p.submit(ch.job(f"b{i}", "gate", name)) for i in range(3)]
        _wait_until(lambda: all(f.running() for f in busy), 30)
        queued = p.submit(ch.job("q"))
        assert queued.cancel() and queued.cancelled()
        assert queued.outcome is not None and queued.outcome.started_at is None
        open_gate(client, name)
        report = p.shutdown(timeout=30)
        assert report.stats.canceled == 1 and report.stats.succeeded == 3
    finally:
        open_gate(client, name)
        p.shutdown(timeout=5)


def test_cancel_reaches_the_context_of_jobs_running_on_workers(pool: DaskPool) -> None:
    futures = [pool.submit(ch.job(f"h{i}", "honour", 20)) for i in range(2)]
    _wait_until(lambda: all(f.running() for f in futures), 30)
    pool.cancel()
    for f in futures:
        assert f.exception(30) is not None
        assert f.outcome is not None and f.outcome.status is Status.CANCELED


# -- a hung job, a killed worker ----------------------------------------------------------


@pytest.mark.timeout(120)
def test_a_hung_job_is_abandoned_its_worker_killed_and_the_cluster_closed_in_bound() -> None:
    before = descendants()
    p = DaskPool(ch.run, workers=2)
    hung = p.submit(ch.job("hung", "hang", 60))
    done = p.submit(ch.job("quick"))
    _wait_until(hung.running, 30)
    assert done.result(30) == "quick"
    closing = _time_calls(p.cluster, "close")
    start = time.monotonic()
    report = p.shutdown(timeout=0.3, grace=0.1)
    elapsed = time.monotonic() - start
    assert not report.clean
    assert [o.job_id for o in report.abandoned] == ["hung"]
    # The pool's part (the wait, the kill) within SLACK of timeout + grace; the
    # cluster's close on top (about 0.3-0.6 s here, more than 1 s when the machine is
    # busy: bounded apart, loosely, so that the pool's own bound stays tight).
    assert len(closing) == 1 and closing[0] < CLOSE_BOUND, closing
    assert elapsed - closing[0] < 0.4 + SLACK, (elapsed, closing)
    error = hung.exception(0)
    assert isinstance(error, Abandoned) and error.job_id == "hung"
    span = next(s for s in p.trace.spans() if s.job_id == "hung")
    assert span.status is Status.ABANDONED and span.end is not None  # killed: the bar ends
    left = left_behind(before, wait=5.0)
    assert not left, describe(left)


@pytest.mark.timeout(120)
def test_a_worker_killed_mid_job_runs_it_again_elsewhere_and_the_ledger_counts_it_once(
        tmp_path: Path) -> None:
    before = descendants()
    p = DaskPool(ch.run, workers=2)
    try:
        name = gate()
        marks = tmp_path / "runs"
        future = p.submit(ch.job("j", "twice", name, marks))
        assert distributed.Event(f"{name}-started", client=p.client).wait(30)
        # The start travels worker -> scheduler -> here apart from the Event: wait for
        # it, or the kill may beat it and the lost attempt would never be seen.
        _wait_until(future.running, 30)
        first_pid = int(marks.read_text().split()[0])
        os.kill(first_pid, signal.SIGKILL)  # from outside, as the OOM killer would
        assert future.result(60) == 2  # Dask ran it again on the other worker
        assert len(marks.read_text().split()) == 2
        stats = p.stats
        assert (stats.submitted, stats.succeeded, stats.running) == (1, 1, 0)
        assert [o.job_id for o in p.outcomes] == ["j"]
        spans = [s for s in p.trace.spans() if s.job_id == "j"]
        assert [s.status for s in spans] == [Status.FAILED, Status.SUCCEEDED]  # lost, then run
        assert spans[0].worker_id != spans[1].worker_id
    finally:
        p.shutdown(timeout=10)
    assert not left_behind(before, wait=5.0)


@pytest.mark.timeout(120)
def test_a_worker_killed_mid_job_with_no_retries_fails_the_job_once(tmp_path: Path) -> None:
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address=None)
    c = distributed.Client(cluster, set_as_default=False)
    try:
        p = DaskPool(ch.run, client=c)
        try:
            name = gate()
            marks = tmp_path / "runs"
            future = p.submit(ch.job("j", "twice", name, marks))
            assert distributed.Event(f"{name}-started", client=c).wait(30)
            os.kill(int(marks.read_text().split()[0]), signal.SIGKILL)
            error = future.exception(60)
            assert type(error).__name__ == "KilledWorker"
            report = p.shutdown(timeout=10)
            assert (report.stats.submitted, report.stats.failed) == (1, 1)
            assert len(marks.read_text().split()) == 1  # not run again
        finally:
            p.shutdown(timeout=5)
    finally:
        c.close()
        ch.close_cluster(cluster)


# -- the trace ---------------------------------------------------------------------------


def test_the_trace_has_one_lane_per_dask_worker_from_the_cluster_s_transitions(
        client: Any) -> None:
    p = DaskPool(ch.run, client=client)
    submitted = time.monotonic()
    futures = [p.submit(ch.job(f"s{i}", "sleep", 0.2)) for i in range(6)]
    for f in futures:
        f.result(30)
    returned = time.monotonic()
    p.shutdown(timeout=10)
    spans = p.trace.spans()
    assert {s.worker_id for s in spans} == {1, 2, 3}
    assert sorted(p.worker_addresses()) == [1, 2, 3]  # the lanes plot_timeline draws
    origin = p.trace.origin
    for s in spans:  # the workers' clocks mapped onto ours
        assert s.end is not None and 0.15 < s.end - s.start < 1.0
        assert submitted - origin <= s.start <= s.end <= returned - origin
    for lane in (1, 2, 3):  # one thread per worker: a lane's bars never overlap
        bars = sorted((s.start, s.end or 0.0) for s in spans if s.worker_id == lane)
        assert all(a[1] <= b[0] + 1e-3 for a, b in itertools.pairwise(bars))
    outcome = next(o for o in p.outcomes if o.job_id == "s0")
    assert outcome.started_at is not None and outcome.queued_at <= outcome.started_at


def test_plot_timeline_draws_a_dask_pool(pool: DaskPool) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from pool.timeline import plot_timeline

    for f in [pool.submit(ch.job(f"p{i}")) for i in range(3)]:
        f.result(30)
    pool.shutdown(timeout=10)
    ax = plot_timeline(pool)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["worker 1", "worker 2", "worker 3"]
    plt.close(ax.figure)
