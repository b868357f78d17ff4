"""The ledger rule on AsyncPool under faults, checked on random scenarios (hypothesis).

The promise tests/test_ledger.py makes for threads and
tests/test_processes_ledger.py for processes ("after shutdown, every
submitted job id has exactly one terminal outcome; none lost, none counted
twice"; a submit racing a shutdown lands or raises PoolClosed), here with
what asyncio does: jobs that fail, raise SystemExit, hang until cancelled,
hit a deadline (``asyncio.timeout``), have their own context cancelled from
another thread, or swallow ``CancelledError`` (ABANDONED after grace); their
futures cancelled at random; submitters as tasks (submit with a timeout,
try_submit) and one thread (submit_threadsafe); a shutdown after a random
number of submits with random drain/timeout/grace; cancel() at a random
moment. Every accepted job's future must agree with its outcome, its done
callback must run exactly once, and shutdown must keep its bound.

AIO_LEDGER_EXAMPLES sets the number of examples (default 60).
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(__file__))

from aiohelpers import Script, future_problems, run
from poolhelpers import ledger_problems

from pool import Job, PoolClosed, background
from pool.aio import AsyncPool

EXAMPLES = int(os.environ.get("AIO_LEDGER_EXAMPLES", "60"))
SLACK = 0.3  # shutdown may overrun timeout + grace by this much on a loaded machine

KINDS = ("succeed", "fail", "exit", "hang", "swallow", "deadline", "ctx_cancel", "sleep")


@dataclass(frozen=True)
class Scenario:
    workers: int
    buffer: int
    kinds: tuple[str, ...]
    deadlines: tuple[float, ...]  # per job: "deadline" and "ctx_cancel" jobs use it
    submits: tuple[float | None, ...]  # per job: -1 try_submit, else submit(timeout)
    by_thread: tuple[bool, ...]  # per job: submitted from a thread (submit_threadsafe)
    future_cancels: tuple[bool, ...]  # per job: its future cancelled soon after submit
    submitters: int
    shut_after: int
    drain: bool
    timeout: float | None
    grace: float
    cancel: tuple[str, int]  # ("never"|"before"|"during"|"after", submits started)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    kinds = tuple(draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=16)))
    n = len(kinds)
    timeouts: list[float | None] = [0.0, 0.02, 0.1]
    if "hang" not in kinds and "swallow" not in kinds:
        timeouts.append(None)  # every job ends by itself
    return Scenario(
        workers=draw(st.integers(1, 3)),
        buffer=draw(st.sampled_from([0, 1, 2, 5, 100])),
        kinds=kinds,
        deadlines=tuple(draw(st.lists(st.floats(0.0, 0.05), min_size=n, max_size=n))),
        submits=tuple(draw(st.lists(st.sampled_from([-1.0, None, 0.0, 0.01, 0.05]),
                                    min_size=n, max_size=n))),
        by_thread=tuple(draw(st.lists(st.booleans(), min_size=n, max_size=n))),
        future_cancels=tuple(draw(st.lists(st.sampled_from([False, False, False, True]),
                                           min_size=n, max_size=n))),
        submitters=draw(st.integers(1, 3)),
        shut_after=draw(st.integers(0, n)),
        drain=draw(st.booleans()),
        timeout=draw(st.sampled_from(timeouts)),
        grace=draw(st.sampled_from([0.0, 0.01, 0.05])),
        cancel=(draw(st.sampled_from(["never", "before", "during", "after"])),
                draw(st.integers(0, n))),
    )


class Run:
    """One scenario: its submitters (tasks, and a thread), and what each submit did."""

    def __init__(self, scenario: Scenario, pool: AsyncPool, script: Script) -> None:
        self.scenario = scenario
        self.pool = pool
        self.script = script
        self.started = 0
        self.progress = asyncio.Condition()
        self.accepted: list[str] = []
        self.rejected: list[str] = []
        self.failures: list[str] = []
        self.futures: list[Any] = []
        self.callbacks: Counter[str] = Counter()
        self.cancellers: list[threading.Timer] = []
        self.lock = threading.Lock()

    def job(self, i: int) -> Job:
        kind = self.scenario.kinds[i]
        action = {"succeed": "ok", "fail": "fail", "exit": "exit", "hang": "hang",
                  "swallow": "swallow", "deadline": "hang", "ctx_cancel": "hang",
                  "sleep": "sleep 0.005"}[kind]
        ctx = background()
        if kind == "deadline":
            ctx, _ = background().with_timeout(self.scenario.deadlines[i])
        elif kind == "ctx_cancel":
            ctx, cancel = background().with_cancel()
            timer = threading.Timer(self.scenario.deadlines[i], cancel)  # another thread
            timer.daemon = True
            self.cancellers.append(timer)
            timer.start()
        return Job(f"j{i}", action.encode(), ctx)

    def count_done(self, future: Any) -> None:
        with self.lock:
            self.callbacks[future.job_id] += 1

    def landed(self, job_id: str, future: Any | None) -> None:
        with self.lock:
            if future is None:
                self.rejected.append(job_id)
            else:
                self.accepted.append(job_id)
                self.futures.append(future)
        if future is not None:
            future.add_done_callback(self.count_done)

    async def note_started(self) -> None:
        async with self.progress:
            self.started += 1
            self.progress.notify_all()

    async def submitter(self, k: int) -> None:
        s = self.scenario
        for i in range(k, len(s.kinds), s.submitters):
            await self.note_started()
            if s.by_thread[i]:
                await self.submit_from_thread(i)
                continue
            job = self.job(i)
            future: Any | None
            try:
                if s.submits[i] == -1.0:
                    future = self.pool.try_submit(job)
                else:
                    future = await self.pool.submit(job, timeout=s.submits[i])
            except (PoolClosed, TimeoutError):
                future = None
            except Exception as exc:
                self.failures.append(f"{job.id}: {exc!r}")
                continue
            self.landed(job.id, future)
            if future is not None and s.future_cancels[i]:
                asyncio.get_running_loop().call_soon(future.cancel)
            await asyncio.sleep(0)  # let the shutdown land among the submits

    async def submit_from_thread(self, i: int) -> None:
        job = self.job(i)

        def submit() -> Any:
            return self.pool.submit_threadsafe(job, timeout=self.scenario.submits[i]
                                               if self.scenario.submits[i] != -1.0 else 0)

        cf = await asyncio.to_thread(submit)
        try:
            await asyncio.wrap_future(cf)
        except (PoolClosed, TimeoutError):
            if cf.outcome is None:  # the submit itself was refused
                self.landed(job.id, None)
                return
        except BaseException:  # the job's own end; checked through its outcome
            pass
        if cf.outcome is None:
            self.failures.append(f"{job.id}: threadsafe future done without an outcome")
        else:
            self.landed(job.id, _Ended(job.id, cf))

    async def wait_for_submits(self, count: int) -> None:
        async with self.progress:
            try:
                async with asyncio.timeout(0.2):
                    await self.progress.wait_for(lambda: self.started >= count)
            except TimeoutError:
                event("submitters all blocked before the shutdown point")


class _Ended:
    """A threadsafe future, seen as the checks see an AsyncJobFuture (it is done)."""

    def __init__(self, job_id: str, cf: Any) -> None:
        self.job_id = job_id
        self.cf = cf
        self.outcome = cf.outcome

    def done(self) -> bool:
        return bool(self.cf.done())

    def cancelled(self) -> bool:
        return bool(self.cf.cancelled())

    def exception(self) -> BaseException | None:
        return self.cf.exception(timeout=0)  # type: ignore[no-any-return]

    def result(self) -> Any:
        return self.cf.result(timeout=0)

    def add_done_callback(self, fn: Any) -> None:
        self.cf.add_done_callback(lambda _: fn(self))


async def scenario_problems(s: Scenario) -> list[str]:
    script = Script()
    pool = AsyncPool(script, s.workers, buffer=s.buffer, keep=10_000, slow_job=None)
    r = Run(s, pool, script)
    problems: list[str] = []
    submitters = [asyncio.ensure_future(r.submitter(k)) for k in range(s.submitters)]
    when, count = s.cancel
    if when == "before" and count <= s.shut_after:
        await r.wait_for_submits(count)
        pool.cancel()
    await r.wait_for_submits(s.shut_after)
    canceller = None
    if when == "during":
        canceller = asyncio.get_running_loop().call_soon(pool.cancel)
    began = time.monotonic()
    report = await pool.shutdown(s.timeout, drain=s.drain, grace=s.grace)
    elapsed = time.monotonic() - began
    if when == "after":
        pool.cancel()
    if s.timeout is not None and elapsed >= s.timeout + s.grace + SLACK:
        problems.append(f"shutdown took {elapsed:.3f} s")
    await asyncio.wait(submitters, timeout=5)
    for t in submitters:
        if not t.done():
            problems.append("a submitter is still blocked after shutdown")
        elif t.exception() is not None:
            problems.append(f"a submitter raised {t.exception()!r}")
    script.release.set()  # swallowers return now: traced as late, never counted again
    await asyncio.wait(pool.tasks(), timeout=5)
    await asyncio.sleep(0)  # done callbacks are scheduled with call_soon
    if canceller is not None:
        canceller.cancel()
    for timer in r.cancellers:
        timer.cancel()
    problems += r.failures
    st_ = report.stats
    for name in ("failed", "canceled", "timed_out", "abandoned"):
        event(f"{name}: {'some' if getattr(st_, name) else 'none'}")
    event(f"rejected submits: {'some' if r.rejected else 'none'}")
    event(f"shutdown {'clean' if report.clean else 'timed out'}")
    problems += ledger_problems(pool, r.accepted, r.rejected)  # type: ignore[arg-type]
    if pool.stats != report.stats:
        problems.append(f"stats changed after shutdown: {report.stats} -> {pool.stats}")
    if len(report.abandoned) != report.stats.abandoned:
        problems.append(f"report lists {len(report.abandoned)} abandoned, "
                        f"stats say {report.stats.abandoned}")
    problems += future_problems(r.futures, pool.outcomes, r.callbacks)
    if not all(t.done() for t in pool.tasks()):
        problems.append("worker tasks still running after every job returned")
    return problems


@pytest.mark.slow
@pytest.mark.timeout(max(60, 2 * EXAMPLES))
@settings(max_examples=EXAMPLES, deadline=None, derandomize=False, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_every_accepted_job_has_exactly_one_outcome_under_faults_and_cancellation(
    scenario: Scenario,
) -> None:
    assert run(lambda: scenario_problems(scenario), bound=30) == []
