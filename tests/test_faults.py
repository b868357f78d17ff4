"""WorkerPool under faults: interrupts, hung workers, exiting jobs, races, CPU use."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from poolhelpers import (
    Hang,
    MakePool,
    Script,
    eventually,
    join_all,
    ledger_problems,
    parked_submits,
    raises,
    returns,
    stats_sum_holds,
)

from pool import PoolClosed, WaitGroup, WorkerPool
from pool import workerpool as workerpool_module

pytestmark = pytest.mark.timeout(60)



# -- (1) KeyboardInterrupt while shutdown() waits on a hung worker ---------------


def _main_thread_waits_for_shutdown() -> bool:
    # shutdown() runs its steps in a thread of its own and waits for it there.
    frame = sys._current_frames().get(threading.main_thread().ident or 0)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "unstoppable" and code.co_filename.endswith("_lifecycle.py"):
            return True
        frame = frame.f_back
    return False


def _interrupt_main_thread_once_it_waits() -> None:
    # Timer body: deliver SIGINT only while shutdown() is blocked waiting.
    if eventually(_main_thread_waits_for_shutdown, timeout=5):
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)


def _interrupted_shutdown(make_pool: MakePool, release: threading.Event) -> WorkerPool:
    """A pool whose shutdown(timeout=5) was stopped by Ctrl-C while a worker hung."""
    assert threading.current_thread() is threading.main_thread()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    script = Script()
    pool = make_pool(script, 1)
    hang = Hang(release)
    pool.submit(script.job("h", hang))
    assert hang.started.wait(5)
    pool.submit(script.job("q0"))
    pool.submit(script.job("q1"))
    timer = threading.Timer(0.05, _interrupt_main_thread_once_it_waits)
    timer.start()
    try:
        start = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            pool.shutdown(timeout=5)
        assert time.monotonic() - start < 2.0
    finally:
        timer.cancel()
        timer.join(5)
    return pool


def test_keyboard_interrupt_during_shutdown_leaves_pool_consistent_and_closed(
    make_pool: MakePool, release: threading.Event
) -> None:
    pool = _interrupted_shutdown(make_pool, release)
    assert stats_sum_holds(pool)
    assert pool.stats.submitted == 3
    assert pool.closed
    with pytest.raises(PoolClosed):
        pool.submit(Script().job("late"), timeout=1)
    with pytest.raises(PoolClosed):
        pool.try_submit(Script().job("late"))


def test_shutdown_after_an_interrupted_one_accounts_for_every_job(
    make_pool: MakePool, release: threading.Event
) -> None:
    pool = _interrupted_shutdown(make_pool, release)
    start = time.monotonic()
    report = pool.shutdown(timeout=0.05, grace=0.05)
    assert time.monotonic() - start < 0.1 + 0.25
    assert ledger_problems(pool, ["h", "q0", "q1"]) == []
    assert [o.job_id for o in report.abandoned] == ["h"]
    assert report.stats.submitted == 3


# -- (2) a hung job never keeps the interpreter alive -----------------------------


@pytest.mark.slow
def test_hung_job_does_not_keep_the_interpreter_alive(tmp_path: Any) -> None:
    program = textwrap.dedent("""
        import threading
        from pool import Job, WorkerPool

        started = threading.Event()

        def process(job):
            started.set()
            threading.Event().wait()  # blocks forever

        pool = WorkerPool(process, 2)
        pool.submit(Job("forever"))
        assert started.wait(5)
        report = pool.shutdown(timeout=0.05, grace=0.05)
        print("abandoned", [o.job_id for o in report.abandoned])
    """)
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          timeout=10, cwd=os.path.dirname(os.path.dirname(__file__)))
    elapsed = time.monotonic() - start
    assert done.returncode == 0, done.stderr
    assert "abandoned ['forever']" in done.stdout
    assert elapsed < 10


# -- (3) wg.done() exactly once per worker, whatever a job does --------------------


class CountingWaitGroup(WaitGroup):
    """A WaitGroup that remembers which thread called done(), and how often."""

    def __init__(self) -> None:
        super().__init__()
        self.done_by: Counter[str] = Counter()
        self._names = threading.Lock()

    def done(self) -> None:
        with self._names:
            self.done_by[threading.current_thread().name] += 1
        super().done()


@pytest.mark.parametrize(
    "kind", ["returns", "raises-exception", "raises-system-exit", "raises-keyboard-interrupt",
             "hangs-then-released"])
def test_each_worker_calls_wg_done_exactly_once(
    make_pool: MakePool, release: threading.Event, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    groups: list[CountingWaitGroup] = []

    def make_group() -> CountingWaitGroup:
        group = CountingWaitGroup()
        groups.append(group)
        return group

    monkeypatch.setattr(workerpool_module, "WaitGroup", make_group)
    thread_errors: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: thread_errors.append(args.exc_value))
    hangs = [Hang(release) for _ in range(3)]
    actions = {
        "returns": [returns(1)] * 3,
        "raises-exception": [raises(ValueError, "bad")] * 3,
        "raises-system-exit": [raises(SystemExit, 2)] * 3,
        "raises-keyboard-interrupt": [raises(KeyboardInterrupt)] * 3,
        "hangs-then-released": hangs,
    }[kind]
    script = Script()
    pool = make_pool(script, 3)
    for i, action in enumerate(actions):
        pool.submit(script.job(f"j{i}", action))
    if kind == "hangs-then-released":
        assert all(h.started.wait(5) for h in hangs)
    report = pool.shutdown(timeout=0.05, grace=0.05)
    release.set()
    assert not join_all(pool.threads(), timeout=5)
    (group,) = groups
    assert group.count == 0
    assert group.done_by == Counter({"pool-worker-1": 1, "pool-worker-2": 1,
                                     "pool-worker-3": 1})
    assert thread_errors == []
    assert report.stats.submitted == 3


# -- (4) no busy waiting ------------------------------------------------------------


def _cpu_seconds_over(wall: float) -> float:
    """CPU time this process uses while the calling thread blocks for ``wall`` s."""
    start = time.process_time()
    threading.Event().wait(wall)
    return time.process_time() - start


def test_idle_workers_and_a_blocked_job_use_almost_no_cpu(
    make_pool: MakePool, release: threading.Event
) -> None:
    script = Script()
    pool = make_pool(script, 4)
    hang = Hang(release)
    pool.submit(script.job("h", hang))
    assert hang.started.wait(5)
    assert _cpu_seconds_over(0.5) < 0.05


def test_submitter_blocked_on_a_full_buffer_uses_almost_no_cpu(
    make_pool: MakePool, release: threading.Event, spawn: Callable[..., Any]
) -> None:
    script = Script()
    pool = make_pool(script, 1, buffer=1)
    hang = Hang(release)
    pool.submit(script.job("h", hang))
    assert hang.started.wait(5)
    pool.submit(script.job("q"))
    blocked = spawn(pool.submit, script.job("blocked"), timeout=5)
    assert eventually(lambda: parked_submits(pool) == 1)
    assert _cpu_seconds_over(0.5) < 0.05
    assert not blocked.finished.is_set()
    release.set()
    blocked.join()


def test_shutdown_waiting_on_a_hung_worker_uses_almost_no_cpu(
    make_pool: MakePool, release: threading.Event
) -> None:
    script = Script()
    pool = make_pool(script, 4)
    hang = Hang(release)
    pool.submit(script.job("h", hang))
    assert hang.started.wait(5)
    start = time.process_time()
    wall = time.monotonic()
    pool.shutdown(timeout=0.3, grace=0.2)
    wall = time.monotonic() - wall
    assert wall >= 0.45  # it did wait out timeout and grace
    assert time.process_time() - start < 0.05


# -- (5) submitters racing a shutdown ----------------------------------------------


def _race_once(seed: int) -> list[str]:
    """Four submitter threads race a shutdown; return every broken promise."""
    rng = random.Random(seed)
    script = Script()
    pool = WorkerPool(script, 2, buffer=rng.choice([0, 1, 4]), keep=10_000)
    submitters, per_submitter = 4, 25
    start = threading.Barrier(submitters + 1)
    accepted: list[str] = []
    rejected: list[str] = []
    failures: list[str] = []
    record = threading.Condition()  # guards the lists; notified after each attempt
    shut_after = rng.randrange(submitters * per_submitter)

    def submitter(n: int) -> None:
        try:
            start.wait(5)
        except threading.BrokenBarrierError:
            failures.append(f"submitter {n}: barrier broken")
            return
        for i in range(per_submitter):
            job = script.job(f"s{n}-{i}", raises(ValueError, "bad") if i % 5 == 0 else None)
            how = (n + i) % 3
            try:
                if how == 0:
                    pool.submit(job)
                    ok = True
                elif how == 1:
                    pool.submit(job, timeout=0.01)
                    ok = True
                else:
                    ok = pool.try_submit(job)
            except (PoolClosed, TimeoutError):
                ok = False
            except BaseException as exc:
                with record:
                    failures.append(f"{job.id}: {exc!r}")
                continue
            with record:
                (accepted if ok else rejected).append(job.id)
                record.notify_all()

    threads = [threading.Thread(target=submitter, args=(n,), name=f"submitter-{n}")
               for n in range(submitters)]
    for t in threads:
        t.start()
    try:
        start.wait(5)
        with record:  # shut down after a random number of submits
            record.wait_for(lambda: len(accepted) + len(rejected) >= shut_after, timeout=5)
        pool.shutdown(timeout=5, drain=rng.random() < 0.5)
    finally:
        alive = join_all(threads, timeout=5)
        join_all(pool.threads(), timeout=5)
    if alive:
        failures.append(f"submitters still alive: {alive}")
    return failures + ledger_problems(pool, accepted, rejected)


def test_every_job_accepted_while_shutdown_races_submitters_has_one_outcome() -> None:
    problems = {seed: p for seed in range(50) if (p := _race_once(seed))}
    assert problems == {}
