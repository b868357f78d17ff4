"""``python -m pool demo``: the Go guide's runnable whole, on the production pool.

The seed program is 3 workers, 5 jobs that each sleep 500 ms and print
``Worker W started job J`` / ``Worker W finished job J``, then close, wait
and print ``Shutdown complete``. This runs the same program on
:class:`~pool.WorkerPool` and adds the production concerns as options: jobs
that fail (``--fail-rate``), a job that hangs (``--hang``), a shutdown
timeout, and signals.

How it is put together, and why:

- **One printer.** Worker threads never print. They put their lines on a
  queue and the main thread prints them, in order, whole. (Threads that
  print may interleave; a signal handler that prints can re-enter the
  stdout buffer in the middle of a write.)
- **The main thread only waits on that queue.** A producer thread submits
  the jobs and a shutdown thread calls :meth:`WorkerPool.shutdown`; each
  reports back on the queue. So does the signal handler. The main thread's
  one blocking call is ``SimpleQueue.get()``, which a signal interrupts
  (see :func:`run`), so Ctrl-C is always answered at once.
- **Backpressure.** The pool's buffer holds as many jobs as there are
  workers, so the producer stays only a few jobs ahead. A first SIGINT or
  SIGTERM begins a graceful shutdown: the pool refuses the jobs not yet
  submitted, and the queued and running ones finish. A second one cancels
  the pool and exits at once.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import queue
import random
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any, NamedTuple, TextIO

from .context import ContextError
from .job import Job
from .worker import current_worker_id
from .workerpool import PoolClosed, ShutdownReport, WorkerPool

__all__ = [
    "EXIT_OK",
    "EXIT_UNCLEAN",
    "EXIT_USAGE",
    "DemoOptions",
    "build_parser",
    "main",
    "run",
    "will_fail",
]

EXIT_OK = 0
"""Every job that was submitted ran to its end (succeeded or failed) within the timeout."""
EXIT_USAGE = 2
"""A bad option (argparse's own code)."""
EXIT_UNCLEAN = 3
"""Shutdown timed out: running jobs were cancelled, and any that ignored it abandoned."""
# A second signal exits with 128 + the signal number (130 for SIGINT, 143 for
# SIGTERM), the shell's convention for "killed by that signal".

HANG_JOB = "1"
"""The job that ``--hang`` makes hang: the first."""

DEFAULT_HANG_TIMEOUT = 2.0
"""The shutdown timeout with ``--hang`` when none is given: it would wait forever."""

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """What to run: the demo's command-line options, checked.

    The defaults are the seed program: 3 workers, 5 jobs of 0.5 s, no
    failures, nothing hangs. ``shutdown_timeout`` ``None`` waits forever.
    """

    workers: int = 3
    jobs: int = 5
    duration: float = 0.5
    fail_rate: float = 0.0
    hang: bool = False
    shutdown_timeout: float | None = None
    grace: float = 0.1
    seed: int = 0


def will_fail(seed: int, job_id: str, fail_rate: float) -> bool:
    """Whether job ``job_id`` fails in a run with ``seed`` and ``fail_rate``.

    Decided per job from a generator seeded with both, so the answer does
    not depend on which worker runs the job or when: the same seed fails
    the same jobs every time, on every Python version.
    """
    return random.Random(f"{seed}:{job_id}").random() < fail_rate


# -- the command line ---------------------------------------------------------


def _count(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    parse.__name__ = "integer"  # argparse names the type in some messages
    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds >= 0, got {text!r}")
    return value


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1], got {text!r}") from None
    if not 0 <= value <= 1:  # also rejects NaN
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None


_DESCRIPTION = """\
Run the Go guide's seed program on pool.WorkerPool: --workers threads take
jobs named 1..N, each works for --duration seconds, then the pool shuts down.
Jobs are fed through a buffer of one job per worker. The defaults reproduce
the Go program: 3 workers, 5 jobs of 0.5 s, about 1.0 s wall.
"""

_EPILOG = """\
output (stdout, one line per event, printed in order by the main thread):
  Worker W started job J / Worker W finished job J   as in the Go seed program
  Worker W failed job J: ERROR                       a --fail-rate failure (also
                                                     logged on stderr)
  Worker W canceled job J: context canceled          stopped by the shutdown timeout
  Job J canceled before it started / Job J abandoned on worker W
  Shutdown complete

signals:
  The first SIGINT (Ctrl-C) or SIGTERM starts a graceful shutdown: no more
  jobs are submitted, the queued and running ones finish. A second one
  cancels the pool and exits at once.

exit status:
  0    clean: every submitted job ran to its end (failed jobs included)
  2    bad option
  3    the shutdown timeout passed: jobs were cancelled or abandoned
  130  a second SIGINT (143: a second SIGTERM)
"""


def build_parser() -> argparse.ArgumentParser:
    """The parser for ``python -m pool``: one subcommand, ``demo``."""
    parser = argparse.ArgumentParser(
        prog="python -m pool",
        description="A production worker pool, taught stage by stage from the Go pattern.",
    )
    commands = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="run the Go guide's demo program on the production WorkerPool",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    defaults = DemoOptions()
    demo.add_argument("--workers", type=_count(1), default=defaults.workers, metavar="N",
                      help=f"worker threads (>= 1; default {defaults.workers})")
    demo.add_argument("--jobs", type=_count(1), default=defaults.jobs, metavar="N",
                      help=f"jobs to run, named 1..N (>= 1; default {defaults.jobs})")
    demo.add_argument("--duration", type=_seconds, default=defaults.duration, metavar="SECONDS",
                      help=f"how long each job works (default {defaults.duration})")
    demo.add_argument("--fail-rate", type=_probability, default=defaults.fail_rate,
                      metavar="P",
                      help="probability in [0, 1] that a job raises after working; which "
                           "jobs fail is fixed by --seed (default 0)")
    demo.add_argument("--hang", action="store_true",
                      help=f"job {HANG_JOB} blocks forever and ignores cancellation, so "
                           "shutdown has to abandon it (its daemon thread ends with the process)")
    demo.add_argument("--shutdown-timeout", type=_seconds, default=None, metavar="SECONDS",
                      help="how long shutdown waits for queued and running jobs before "
                           "cancelling the pool (default: forever; "
                           f"{DEFAULT_HANG_TIMEOUT:g} with --hang)")
    demo.add_argument("--grace", type=_seconds, default=defaults.grace, metavar="SECONDS",
                      help="after the shutdown timeout, how long cancelled jobs get to stop "
                           f"before they are abandoned (default {defaults.grace})")
    demo.add_argument("--seed", type=_seed, default=defaults.seed, metavar="N",
                      help="seed for --fail-rate: the same seed fails the same jobs "
                           f"(default {defaults.seed})")
    return parser


def _options(args: argparse.Namespace) -> DemoOptions:
    timeout: float | None = args.shutdown_timeout
    if timeout is None and args.hang:
        timeout = DEFAULT_HANG_TIMEOUT
    return DemoOptions(workers=args.workers, jobs=args.jobs, duration=args.duration,
                       fail_rate=args.fail_rate, hang=args.hang, shutdown_timeout=timeout,
                       grace=args.grace, seed=args.seed)


class _BriefFormatter(logging.Formatter):
    """``LEVEL pool: message``, without the traceback: the demo's failures are simulated."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname} {record.name}: {record.getMessage()}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``python -m pool [demo ...]`` and return the exit status.

    Without a command, prints the help and returns 0. Bad options make
    argparse print an error naming the option and raise ``SystemExit(2)``;
    ``--help`` raises ``SystemExit(0)``. The ``pool`` logger's warnings and
    errors (failed and abandoned jobs) go to stderr while the demo runs.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(_BriefFormatter())
    logger = logging.getLogger("pool")
    logger.addHandler(handler)
    try:
        return run(_options(args))
    except BrokenPipeError:
        # stdout was closed early (`... | head`): stop quietly, as a Unix tool does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    finally:
        logger.removeHandler(handler)


# -- the run ------------------------------------------------------------------


class _Line(NamedTuple):
    text: str


class _Submitted(NamedTuple):
    pass


class _Signal(NamedTuple):
    signum: int


class _Finished(NamedTuple):
    report: ShutdownReport


class _Crashed(NamedTuple):
    error: BaseException


_Message = _Line | _Submitted | _Signal | _Finished | _Crashed
_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


def run(options: DemoOptions, out: TextIO | None = None) -> int:
    """Run the demo described by ``options``, print its lines to ``out``; return the exit status.

    ``out`` defaults to ``sys.stdout``; every line is flushed as it is
    printed. Called from the main thread, SIGINT and SIGTERM are handled
    (see the module docstring) until it returns; elsewhere signals are left
    alone. With ``options.hang`` the hung job's daemon thread stays blocked
    until the process exits: a thread cannot be killed.
    """
    stream = sys.stdout if out is None else out
    messages: queue.SimpleQueue[_Message] = queue.SimpleQueue()
    never = threading.Event()  # what the hung job waits for: nothing ever sets it

    def say(text: str) -> None:
        print(text, file=stream, flush=True)

    def process(job: Job) -> None:
        worker = current_worker_id()
        messages.put(_Line(f"Worker {worker} started job {job.id}"))
        if options.hang and job.id == HANG_JOB:
            never.wait()  # ignores job.ctx: the pool can cancel it but must abandon it
            return
        try:
            job.ctx.sleep(options.duration)  # wakes at once if the pool is cancelled
        except ContextError as exc:
            messages.put(_Line(f"Worker {worker} canceled job {job.id}: {exc}"))
            raise
        if will_fail(options.seed, job.id, options.fail_rate):
            error = RuntimeError("simulated failure")
            messages.put(_Line(f"Worker {worker} failed job {job.id}: "
                               f"{type(error).__name__}: {error}"))
            raise error
        messages.put(_Line(f"Worker {worker} finished job {job.id}"))

    def in_thread(name: str, target: Callable[[], _Message]) -> None:
        # Daemon threads: a second signal must be able to exit while they wait.
        def body() -> None:
            try:
                message = target()
            except BaseException as exc:
                message = _Crashed(exc)
            messages.put(message)

        threading.Thread(target=body, name=name, daemon=True).start()

    def submit_all() -> _Message:
        try:
            for n in range(1, options.jobs + 1):
                pool.submit(Job(str(n)))  # waits while the buffer is full
        except PoolClosed:
            pass  # a signal began the shutdown: the rest are never submitted
        return _Submitted()

    def shut_down() -> _Message:
        return _Finished(pool.shutdown(options.shutdown_timeout, grace=options.grace))

    shutdown_started = False

    def start_shutdown() -> None:
        # Only the main thread calls this (after the last submit, or on a
        # signal), so the flag needs no lock. shutdown() blocks, so it runs
        # in a thread of its own and reports back on the queue.
        nonlocal shutdown_started
        if not shutdown_started:
            shutdown_started = True
            in_thread("demo-shutdown", shut_down)

    pool = WorkerPool(process, options.workers, buffer=options.workers)
    previous = _install_handlers(lambda signum, _frame: messages.put(_Signal(signum)))
    try:
        in_thread("demo-producer", submit_all)
        signals = 0
        while True:
            # The main thread's only blocking call. Why this wait: on POSIX a
            # blocking SimpleQueue.get() is a lock acquire that a signal
            # interrupts (EINTR); CPython then runs the Python-level handler
            # here in the main thread, the handler puts a _Signal on this very
            # queue (SimpleQueue.put is reentrant, safe in a handler), and get()
            # returns it. No polling, no timeout loop, and one queue carries
            # lines, signals and the report, so their order is the real order.
            # (Linux gives a process-directed signal to the main thread when it
            # does not block it; threading.Event.wait() would behave the same,
            # and signal.set_wakeup_fd() would need a pipe and a selector.)
            message = messages.get()
            if isinstance(message, _Line):
                say(message.text)
            elif isinstance(message, _Submitted):
                start_shutdown()
            elif isinstance(message, _Signal):
                signals += 1
                name = signal.Signals(message.signum).name
                if signals > 1:
                    pool.cancel()
                    say(f"Received {name} again: cancelled the pool, exiting without waiting")
                    return 128 + message.signum
                say(f"Received {name}: no more jobs will be submitted; finishing the "
                    f"queued and running ones ({name} again to cancel)")
                start_shutdown()
            elif isinstance(message, _Finished):
                return _summarise(message.report, options, say)
            else:
                raise message.error
    finally:
        _restore_handlers(previous)
        pool.cancel()  # a no-op after a normal shutdown


def _summarise(report: ShutdownReport, options: DemoOptions, say: Callable[[str], None]) -> int:
    if not report.clean:
        say(f"Shutdown timed out after {options.shutdown_timeout:g} s: cancelled the pool, "
            f"waited {options.grace:g} s more")
    for o in report.canceled:
        if o.started_at is None:  # those that were running printed their own line
            say(f"Job {o.job_id} canceled before it started")
    for o in report.abandoned:
        say(f"Job {o.job_id} abandoned on worker {o.worker_id}: "
            f"still running after {o.ran_for or 0.0:.2f} s")
    unsubmitted = options.jobs - report.stats.submitted
    if unsubmitted:
        say(f"Stopped early: {unsubmitted} of {options.jobs} jobs were never submitted")
    say("Shutdown complete")
    return EXIT_OK if report.clean else EXIT_UNCLEAN


def _install_handlers(handler: Callable[[int, FrameType | None], None]) -> dict[int, _Handler]:
    if threading.current_thread() is not threading.main_thread():
        return {}  # only the main thread may set signal handlers
    return {sig: signal.signal(sig, handler) for sig in _SIGNALS}


def _restore_handlers(previous: dict[int, _Handler]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, signal.SIG_DFL if handler is None else handler)
