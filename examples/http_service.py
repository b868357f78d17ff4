"""A small HTTP service that runs each request's work as a job on a WorkerPool.

    python examples/http_service.py --port 0 --workers 4 --job-seconds 0.2

It listens on 127.0.0.1 (``--port 0``: a free port) and prints the port as
its first line on stdout. When it stops it prints one JSON line on stdout::

    {"accepted": 23, "answered": 23, "refused": 17, "abandoned": 0, "elapsed": 0.213}

and exits 0 when the stop was clean: every accepted request answered and
no job abandoned (1 otherwise; 128 + the signal number after a second
signal). What it logs goes to stderr.

Endpoints (GET):

- ``/work``: one job of ``--job-seconds`` (it listens to its context, so a
  cancelled pool stops it). ``200 {"job": "req-7", "result": {...}}``.
  ``/work?seconds=1.5``: a job of that many seconds instead (at most
  ``--request-timeout``).
- ``/work?hang=1`` (only with ``--allow-hang``): a job that ignores its
  context and never returns, like a call made without a timeout.
- ``/healthz``: ``200`` while serving, ``503`` once draining (a load
  balancer's readiness probe).
- ``/stats``: the pool's ledger as JSON.

How a request is answered:

- ``200``: the job's result, from its future;
- ``429`` (with ``Retry-After``): the pool is full (``try_submit`` returned
  ``None``); nothing was queued, the client backs off and retries;
- ``503``: the service is draining (intake stopped), or the pool dropped
  the request's job at shutdown: never run (a cancelled future) or
  abandoned (``pool.Abandoned``);
- ``500``: the job raised; ``504``: the job's own deadline passed.

Stopping: the first SIGTERM (or SIGINT, Ctrl-C) stops intake at once (new
requests get 503), drains the accepted jobs for at most ``--drain-timeout``
seconds plus ``--grace``, waits (briefly, bounded) until every accepted
request has its answer written, prints the summary and exits. A second
signal cancels the running jobs: the drain then ends within ``--grace``.
Signals are received the way Go's ``signal.Notify`` delivers them, as
messages: blocked in every thread, and taken by one thread with
``signal.sigwait`` (see :func:`main` for why not a signal handler). POSIX
only.

The heart of it is two small functions, :func:`handle` (one request) and
:func:`stop` (the drain); notebook 10's exercise asks for those two. The
rest is standard-library plumbing: ``http.server.ThreadingHTTPServer`` (a
thread per request, which mostly waits on the job's future), ``signal``
and a queue the main thread waits on.
"""

from __future__ import annotations

import argparse
import itertools
import json
import queue
import signal
import socketserver
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import CancelledError
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pool import (
    Abandoned,
    Canceled,
    DeadlineExceeded,
    Job,
    JobFuture,
    PoolClosed,
    ShutdownReport,
    WorkerPool,
    background,
    current_worker_id,
)

Answer = tuple[int, dict[str, Any]]
"""An HTTP status and the JSON body that goes with it."""

EXIT_CLEAN, EXIT_UNCLEAN = 0, 1
ANSWER_WAIT = 1.0
"""After the drain, how long to wait for request threads to finish writing their answers."""


# -- the two functions at the heart of the service ---------------------------------------

def admit(pool: WorkerPool, job: Job) -> JobFuture | Answer:
    """Offer ``job`` to the pool without waiting: its future, or the refusal to send."""
    try:
        future = pool.try_submit(job)
    except PoolClosed:
        return 503, {"error": "draining: not accepting new work"}
    if future is None:
        return 429, {"error": "busy: the pool is full, retry later"}
    return future


def answer(future: JobFuture) -> Answer:
    """Wait for an accepted job's end and say it in HTTP.

    The wait has no timeout of its own. A job that listens to its context
    ends at the request's deadline (504), and the bounded stop resolves
    every future still pending, also those of jobs that never ran
    (cancelled) or that it abandoned. A job that ignores its context holds
    its request until then: give the calls it makes timeouts of their own.
    """
    try:
        result = future.result()
    except CancelledError:  # never ran: dropped from the queue at shutdown
        return 503, {"job": future.job_id, "error": "not run: the service is shutting down"}
    except Abandoned:  # still running when the drain gave up on it
        return 503, {"job": future.job_id, "error": "abandoned: the service is shutting down"}
    except DeadlineExceeded:  # the job's own deadline passed
        return 504, {"job": future.job_id, "error": "the job's deadline passed"}
    except Canceled:  # stopped while running: the pool was cancelled
        return 503, {"job": future.job_id, "error": "cancelled: the service is shutting down"}
    except Exception as exc:  # the job raised: the server's fault, not the client's
        return 500, {"job": future.job_id, "error": f"{type(exc).__name__}: {exc}"}
    return 200, {"job": future.job_id, "result": result}


def handle(pool: WorkerPool, job: Job) -> Answer:
    """Run ``job`` on ``pool`` for one request; return ``(status, body)``."""
    admitted = admit(pool, job)
    return admitted if isinstance(admitted, tuple) else answer(admitted)


def stop(pool: WorkerPool, timeout: float, grace: float = 0.1) -> ShutdownReport:
    """Stop intake at once, drain the accepted jobs, give up after ``timeout`` + ``grace``.

    ``pool.shutdown`` closes intake before it waits, so a request that comes
    in while it drains is refused (``PoolClosed``: 503), never queued.
    """
    return pool.shutdown(timeout=timeout, grace=grace)


# -- the jobs ------------------------------------------------------------------------------

class Work:
    """``process(job)``: ``seconds`` of work that stops when ``job.ctx`` ends.

    A payload of digits (``b"1.5"``) asks for that many seconds instead. A
    job whose payload is ``b"hang"`` waits on an event nobody sets, ignoring
    its context: only the end of the process ends it.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._never = threading.Event()

    def __call__(self, job: Job) -> dict[str, Any]:
        if job.payload == b"hang":
            self._never.wait()
        seconds = float(job.payload) if job.payload else self.seconds
        job.ctx.sleep(seconds)  # raises Canceled/DeadlineExceeded once ctx is done
        return {"worker": current_worker_id(), "seconds": seconds}


# -- the HTTP side -----------------------------------------------------------------------

class JobServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that owns a pool and counts what happens to requests."""

    daemon_threads = True  # a request thread never keeps the process alive
    request_queue_size = 128  # bursts of connections wait in the kernel, not refused

    def __init__(self, port: int, pool: WorkerPool, *, allow_hang: bool = False,
                 request_timeout: float = 30.0) -> None:
        super().__init__(("127.0.0.1", port), RequestHandler)
        self.pool = pool
        self.allow_hang = allow_hang
        self.request_timeout = request_timeout
        self.draining = threading.Event()
        self._ids = itertools.count(1)
        self._changed = threading.Condition()
        # Requests the pool accepted are counted by the pool's ledger
        # (pool.stats.submitted): exactly, at the moment it takes the job.
        self.answered = 0  # accepted requests whose answer was written
        self.unanswered = 0  # accepted requests whose client could not be written to
        self.refused = 0  # requests turned away at intake (429, 503)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host name up (getfqdn), which can
        # take seconds without DNS; 127.0.0.1 needs no name.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def next_job(self, payload: bytes) -> tuple[Job, Any]:
        """A job for one request, with the request's own deadline; and its cancel function."""
        ctx, cancel = background().with_timeout(self.request_timeout)
        return Job(f"req-{next(self._ids)}", payload, ctx), cancel

    def count(self, name: str) -> None:
        with self._changed:
            setattr(self, name, getattr(self, name) + 1)
            self._changed.notify_all()

    @property
    def accepted(self) -> int:
        """Requests whose job the pool accepted."""
        return self.pool.stats.submitted

    def wait_answered(self, timeout: float) -> bool:
        """After the drain: wait until every accepted request is answered (or failed to be)."""
        with self._changed:
            return self._changed.wait_for(
                lambda: self.answered + self.unanswered >= self.accepted, timeout)


class RequestHandler(BaseHTTPRequestHandler):
    server: JobServer
    timeout = 10  # seconds a stalled client may hold its socket

    def do_GET(self) -> None:  # http.server's naming
        url = urlsplit(self.path)
        if url.path == "/healthz":
            if self.server.draining.is_set():
                self.reply(503, {"status": "draining"})
            else:
                self.reply(200, {"status": "serving"})
        elif url.path == "/stats":
            self.reply(200, _stats(self.server.pool))
        elif url.path == "/work":
            self.work(parse_qs(url.query))
        else:
            self.reply(404, {"error": f"no such path: {url.path}"})

    def work(self, query: dict[str, list[str]]) -> None:
        server = self.server
        hang = query.get("hang") == ["1"]
        if hang and not server.allow_hang:
            self.reply(400, {"error": "hang=1 needs --allow-hang"})
            return
        payload = b"hang" if hang else b""
        if "seconds" in query:
            try:
                seconds = float(query["seconds"][0])
            except ValueError:
                seconds = -1.0
            if not 0 <= seconds <= server.request_timeout:
                self.reply(400, {"error": f"seconds must be from 0 to {server.request_timeout:g}"})
                return
            payload = repr(seconds).encode()
        if server.draining.is_set():  # intake stops at the signal, before the pool closes
            server.count("refused")
            self.reply(503, {"error": "draining: not accepting new work"})
            return
        job, release = server.next_job(payload)
        try:
            admitted = admit(server.pool, job)
            if isinstance(admitted, tuple):
                server.count("refused")
                self.reply(*admitted)
                return
            status, body = answer(admitted)
        finally:
            release()
        self.reply(status, body, counted=True)

    def reply(self, status: int, body: dict[str, Any], *, counted: bool = False) -> None:
        """Write the answer; for an accepted request, count whether it got there."""
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 429:
                self.send_header("Retry-After", "1")
            if status == 503:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            if counted:
                self.server.count("unanswered")
            return
        if counted:
            self.server.count("answered")

    def log_message(self, format: str, *args: Any) -> None:  # the stdlib's signature
        pass  # one line per request would drown the log; the summary says what happened


def _stats(pool: WorkerPool) -> dict[str, int]:
    s = pool.stats
    return {name: getattr(s, name) for name in
            ("submitted", "queued", "running", "succeeded", "failed", "canceled", "timed_out",
             "abandoned")}


# -- the process ---------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8080, help="0: any free port (default 8080)")
    parser.add_argument("--workers", type=int, default=4, help="worker threads (default 4)")
    parser.add_argument("--buffer", type=int, default=None,
                        help="jobs that may wait for a worker (default: as many as workers)")
    parser.add_argument("--job-seconds", type=float, default=0.2,
                        help="how long one /work job takes (default 0.2)")
    parser.add_argument("--drain-timeout", type=float, default=5.0,
                        help="seconds the drain waits for accepted jobs (default 5)")
    parser.add_argument("--grace", type=float, default=0.1,
                        help="seconds more after cancelling the jobs still running (default 0.1)")
    parser.add_argument("--request-timeout", type=float, default=30.0,
                        help="each job's own deadline, in seconds (default 30)")
    parser.add_argument("--allow-hang", action="store_true",
                        help="let /work?hang=1 start a job that never returns (for demos)")
    return parser


SIGNALS = {signal.SIGTERM, signal.SIGINT}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Signals arrive as messages, as with Go's signal.Notify: blocked in every
    # thread (threads inherit the mask of the thread that starts them, so this
    # comes first), and taken by one thread that waits for them (sigwait).
    # Why not a handler: a process-directed signal goes to whichever thread
    # the kernel picks; with busy request threads it may not be the main
    # thread, and then a main thread blocked in a wait never runs the handler.
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    buffer = args.workers if args.buffer is None else args.buffer
    pool = WorkerPool(Work(args.job_seconds), args.workers, buffer=buffer)  # workers first
    server = JobServer(args.port, pool, allow_hang=args.allow_hang,
                       request_timeout=args.request_timeout)
    # The main thread only waits on this queue: the signals and the drain's
    # report arrive on it, in the order they happened.
    events: queue.SimpleQueue[int | ShutdownReport] = queue.SimpleQueue()

    def receive_signals() -> None:
        while True:
            events.put(signal.sigwait(SIGNALS))

    threading.Thread(target=receive_signals, name="signals", daemon=True).start()
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     name="http-serve", daemon=True).start()
    print(server.port, flush=True)
    log(f"serving on http://127.0.0.1:{server.port}/work with {args.workers} workers "
        f"(SIGTERM or Ctrl-C: drain and exit)")

    first = events.get()
    assert not isinstance(first, ShutdownReport)  # only a signal can come before the drain
    began = time.monotonic()
    server.draining.set()  # from now on every new request is answered 503
    log(f"{signal.Signals(first).name}: intake stopped; draining for at most "
        f"{args.drain_timeout:g} s + {args.grace:g} s")

    def drain() -> None:
        events.put(stop(pool, args.drain_timeout, args.grace))

    threading.Thread(target=drain, name="drain", daemon=True).start()
    exit_code = EXIT_CLEAN
    while not isinstance(message := events.get(), ShutdownReport):
        pool.cancel()  # a second signal: stop the running jobs now
        exit_code = 128 + int(message)
        log(f"{signal.Signals(int(message)).name} again: cancelled the running jobs")
    report = message
    answered = server.wait_answered(ANSWER_WAIT)  # the request threads write the last answers
    elapsed = time.monotonic() - began
    server.shutdown()
    server.server_close()
    print(json.dumps({"accepted": server.accepted, "answered": server.answered,
                      "refused": server.refused, "abandoned": len(report.abandoned),
                      "elapsed": round(elapsed, 3)}), flush=True)
    log(str(report))
    if exit_code == EXIT_CLEAN and not (report.clean and answered and not server.unanswered):
        exit_code = EXIT_UNCLEAN
    return exit_code


def log(line: str) -> None:
    print(f"http_service: {line}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
