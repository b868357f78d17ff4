"""Answers to notebook 04's dispatcher exercise, right and wrong, as a learner could write them.

The exercise asks for ``my_start_workers(num_workers, process, *, buffer=100,
record=None, daemon=True) -> (jobs, wg)`` (see
``pool.checks.check_start_workers``). ``RIGHT`` holds correct answers in
other styles; ``WRONG`` holds one answer per mistake, each with the scenario
that must fail and a phrase its hint must contain (the name of the mistake).
``tests/test_check_start_workers.py`` runs them all through the checker.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import Any

from solutionloader import load_solution

from pool import Channel, WaitGroup, worker

# -- the scenarios, as check_start_workers prints them (after "start_workers ") ---------------

PAIR = "returns a channel and a wait group"
THREADS = "starts exactly 3 worker threads"
CONCURRENT = "runs 3 jobs at the same time on its 3 workers"
IDS = "gives its 3 workers the ids 1 to 3"
BUFFER = "makes one channel that holds buffer=2 waiting jobs for 2 workers"
COUNTS = "counts every worker in wg before returning"
PASSES = "passes process and record on to every worker"
DAEMON = "starts daemon threads by default, non-daemon ones with daemon=False"
SCENARIOS = (PAIR, THREADS, CONCURRENT, IDS, BUFFER, COUNTS, PASSES, DAEMON)

Pair = tuple[Channel[Any], WaitGroup]


# -- right answers, other styles ------------------------------------------------------------------


def reference(num_workers: int, process: Any, *, buffer: int = 100, record: Any = None,
              daemon: bool = True) -> Pair:
    jobs: Channel[Any] = Channel(buffer)
    wg = WaitGroup()
    for worker_id in range(1, num_workers + 1):
        wg.add(1)
        threading.Thread(target=worker, args=(worker_id, jobs, wg, process),
                         kwargs={"record": record}, daemon=daemon).start()
    return jobs, wg


def add_all_at_once(num_workers: int, process: Any, *, buffer: int = 100, record: Any = None,
                    daemon: bool = True) -> Pair:
    """wg.add(num_workers) once, then the threads from a list comprehension."""
    jobs: Channel[Any] = Channel(buffer)
    wg = WaitGroup()
    wg.add(num_workers)
    threads = [threading.Thread(target=worker, args=(i + 1, jobs, wg, process),
                                kwargs={"record": record}, name=f"w{i + 1}", daemon=daemon)
               for i in range(num_workers)]
    for t in threads:
        t.start()
    return jobs, wg


class WorkerThread(threading.Thread):
    """A Thread subclass whose run() is the worker."""

    def __init__(self, worker_id: int, jobs: Channel[Any], wg: WaitGroup, process: Any,
                 record: Any, daemon: bool) -> None:
        super().__init__(name=f"worker-{worker_id}", daemon=daemon)
        self.args = (worker_id, jobs, wg, process, record)

    def run(self) -> None:
        worker_id, jobs, wg, process, record = self.args
        worker(worker_id, jobs, wg, process, record=record)


def thread_subclass(num_workers: int, process: Any, *, buffer: int = 100, record: Any = None,
                    daemon: bool = True) -> Pair:
    jobs: Channel[Any] = Channel(buffer)
    wg = WaitGroup()
    for worker_id in range(1, num_workers + 1):
        wg.add(1)
        WorkerThread(worker_id, jobs, wg, process, record, daemon).start()
    return jobs, wg


def partial_and_default_lambda(num_workers: int, process: Any, *, buffer: int = 100,
                               record: Any = None, daemon: bool = True) -> Pair:
    """functools.partial for even ids, a lambda with a default argument for odd ones."""
    jobs: Channel[Any] = Channel(buffer)
    wg = WaitGroup()
    for worker_id in range(1, num_workers + 1):
        wg.add(1)
        if worker_id % 2:
            target = lambda worker_id=worker_id: worker(  # noqa: E731
                worker_id, jobs, wg, process, record=record)
        else:
            target = functools.partial(worker, worker_id, jobs, wg, process, record=record)
        threading.Thread(target=target, daemon=daemon).start()
    return jobs, wg


def with_my_worker(num_workers: int, process: Any, *, buffer: int = 100, record: Any = None,
                   daemon: bool = True) -> Pair:
    """The learner's own worker from notebook 03."""
    my_worker = load_solution("03_worker").my_worker
    jobs: Channel[Any] = Channel(buffer)
    wg = WaitGroup()
    for worker_id in range(1, num_workers + 1):
        wg.add(1)
        t = threading.Thread(target=my_worker, args=(worker_id, jobs, wg, process),
                             kwargs={"record": record})
        t.daemon = daemon
        t.start()
    return jobs, wg


RIGHT = [reference, add_all_at_once, thread_subclass, partial_and_default_lambda, with_my_worker]


# -- wrong answers: one mistake each -------------------------------------------------------------


def add_inside_thread(num_workers: int, process: Any, *, buffer: int = 100, record: Any = None,
                      daemon: bool = True) -> Pair:
    jobs: Channel[Any] = Channel(buffer)
    wg = WaitGroup()

    def run(worker_id: int) -> None:
        wg.add(1)
        worker(worker_id, jobs, wg, process, record=record)

    for worker_id in range(1, num_workers + 1):
        threading.Thread(target=run, args=(worker_id,), daemon=daemon).start()
    return jobs, wg


def add_once(num_workers: int, process: Any, *, buffer: int = 100, record: Any = None,
             daemon: bool = True) -> Pair:
    jobs: Channel[Any] = Channel(buffer)
    wg = WaitGroup()
    wg.add(1)
    for worker_id in range(1, num_workers + 1):
        threading.Thread(target=worker, args=(worker_id, jobs, wg, process),
                         kwargs={"record": record}, daemon=daemon).start()
    return jobs, wg


def joins_workers(num_workers: int, process: Any, *, buffer: int = 100, record: Any = None,
                  daemon: bool = True) -> Pair:
    jobs: Channel[Any] = Channel(buffer)
    wg = WaitGroup()
    threads = []
    for worker_id in range(1, num_workers + 1):
        wg.add(1)
        t = threading.Thread(target=worker, args=(worker_id, jobs, wg, process),
                             kwargs={"record": record}, daemon=daemon)
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    return jobs, wg


def waits_on_wg(num_workers: int, process: Any, *, buffer: int = 100, record: Any = None,
                daemon: bool = True) -> Pair:
    jobs, wg = reference(num_workers, process, buffer=buffer, record=record, daemon=daemon)
    wg.wait()
    return jobs, wg


def calls_worker_directly(num_workers: int, process: Any, *, buffer: int = 100,
                          record: Any = None, daemon: bool = True) -> Pair:
    jobs: Channel[Any] = Channel(buffer)
    wg = WaitGroup()
    for worker_id in range(1, num_workers + 1):
        wg.add(1)
        worker(worker_id, jobs, wg, process, record=record)
    return jobs, wg


def run_instead_of_start(num_workers: int, process: Any, *, buffer: int = 100,
                         record: Any = None, daemon: bool = True) -> Pair:
    jobs: Channel[Any] = Channel(buffer)
    wg = WaitGroup()
    for worker_id in range(1, num_workers + 1):
        wg.add(1)
        threading.Thread(target=worker, args=(worker_id, jobs, wg, process),
                         kwargs={"record": record}, daemon=daemon).run()
    return jobs, wg


def zero_based_ids(num_workers: int, process: Any, *, buffer: int = 100, record: Any = None,
                   daemon: bool = True) -> Pair:
    jobs: Channel[Any] = Channel(buffer)
    wg = WaitGroup()
    for worker_id in range(num_workers):
        wg.add(1)
        threading.Thread(target=worker, args=(worker_id, jobs, wg, process),
                         kwargs={"record": record}, daemon=daemon).start()
    return jobs, wg


def late_binding_lambda(num_workers: int, process: Any, *, buffer: int = 100,
                        record: Any = None, daemon: bool = True) -> Pair:
    jobs: Channel[Any] = Channel(buffer)
    wg = WaitGroup()
    for worker_id in range(1, num_workers + 1):
        wg.add(1)
        threading.Thread(target=lambda: worker(worker_id, jobs, wg, process,  # noqa: B023
                                               record=record),
                         daemon=daemon).start()
    return jobs, wg


def buffer_per_worker(num_workers: int, process: Any, *, buffer: int = 100, record: Any = None,
                      daemon: bool = True) -> Pair:
    jobs: Channel[Any] = Channel(buffer * num_workers)
    wg = WaitGroup()
    for worker_id in range(1, num_workers + 1):
        wg.add(1)
        threading.Thread(target=worker, args=(worker_id, jobs, wg, process),
                         kwargs={"record": record}, daemon=daemon).start()
    return jobs, wg


def ignores_buffer(num_workers: int, process: Any, *, buffer: int = 100, record: Any = None,
                   daemon: bool = True) -> Pair:
    jobs: Channel[Any] = Channel()
    wg = WaitGroup()
    for worker_id in range(1, num_workers + 1):
        wg.add(1)
        threading.Thread(target=worker, args=(worker_id, jobs, wg, process),
                         kwargs={"record": record}, daemon=daemon).start()
    return jobs, wg


def daemon_hard_coded(num_workers: int, process: Any, *, buffer: int = 100, record: Any = None,
                      daemon: bool = True) -> Pair:
    jobs: Channel[Any] = Channel(buffer)
    wg = WaitGroup()
    for worker_id in range(1, num_workers + 1):
        wg.add(1)
        threading.Thread(target=worker, args=(worker_id, jobs, wg, process),
                         kwargs={"record": record}, daemon=True).start()
    return jobs, wg


def daemon_ignored(num_workers: int, process: Any, *, buffer: int = 100, record: Any = None,
                   daemon: bool = True) -> Pair:
    jobs: Channel[Any] = Channel(buffer)
    wg = WaitGroup()
    for worker_id in range(1, num_workers + 1):
        wg.add(1)
        threading.Thread(target=worker, args=(worker_id, jobs, wg, process),
                         kwargs={"record": record}).start()
    return jobs, wg


def forgets_record(num_workers: int, process: Any, *, buffer: int = 100, record: Any = None,
                   daemon: bool = True) -> Pair:
    jobs: Channel[Any] = Channel(buffer)
    wg = WaitGroup()
    for worker_id in range(1, num_workers + 1):
        wg.add(1)
        threading.Thread(target=worker, args=(worker_id, jobs, wg, process),
                         daemon=daemon).start()
    return jobs, wg


def one_worker(num_workers: int, process: Any, *, buffer: int = 100, record: Any = None,
               daemon: bool = True) -> Pair:
    jobs: Channel[Any] = Channel(buffer)
    wg = WaitGroup()
    wg.add(1)
    threading.Thread(target=worker, args=(1, jobs, wg, process), kwargs={"record": record},
                     daemon=daemon).start()
    return jobs, wg


@dataclass(frozen=True)
class Wrong:
    answer: Any
    scenario: str  # a scenario that must fail, with the hint that names the mistake
    hint: str


WRONG = [
    Wrong(add_inside_thread, COUNTS, "a worker that counts itself does it too late"),
    Wrong(add_once, COUNTS, "wg counted 1 worker when start_workers returned, expected 3"),
    Wrong(joins_workers, PAIR, "it waits for (joins) its worker threads"),
    Wrong(waits_on_wg, PAIR, "it waits on wg"),
    Wrong(calls_worker_directly, PAIR, "it runs a worker's loop itself"),
    Wrong(run_instead_of_start, PAIR, "thread.run() instead of thread.start()"),
    Wrong(zero_based_ids, IDS, "range(n) starts at 0"),
    Wrong(late_binding_lambda, IDS, "reads the loop variable"),
    Wrong(buffer_per_worker, BUFFER, "not room per worker"),
    Wrong(ignores_buffer, BUFFER, "had room for 0 waiting jobs although buffer=2"),
    Wrong(daemon_hard_coded, DAEMON, "ignored or hard-coded"),
    Wrong(daemon_ignored, DAEMON, "not daemon threads, though daemon=True is the default"),
    Wrong(forgets_record, PASSES, "record was never called"),
    Wrong(one_worker, THREADS, "started 1 thread"),
]
