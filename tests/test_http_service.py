"""examples/http_service.py, for real: a child process serving HTTP on 127.0.0.1.

Each test starts the service with ``--port 0``, reads its port from the
first stdout line, talks to it with urllib (no proxy), and always ends it: a
finally block sends SIGKILL if it is still running and reaps it, and the
test then checks that no child process of the test is left.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is POSIX"),
]

SERVICE = Path(__file__).resolve().parent.parent / "examples" / "http_service.py"
START_BOUND = 20.0  # seconds for the child to print its port (a cold, loaded machine)
SLACK = 1.5  # seconds a child may take past its drain bound to write, close and exit
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Service:
    proc: subprocess.Popen[str]
    port: int
    stdout: str = ""
    stderr: str = ""
    statuses: list[int] = field(default_factory=list)

    def get(self, path: str, timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
        """GET ``path``: (status, JSON body); an HTTP error status is an answer too."""
        try:
            with NO_PROXY.open(f"http://127.0.0.1:{self.port}{path}", timeout=timeout) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            with e:
                return e.code, json.loads(e.read() or b"{}")

    def wait_until(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0
                   ) -> None:
        """Poll /stats until ``predicate(stats)``."""
        deadline = time.monotonic() + timeout
        while True:
            stats = self.get("/stats")[1]
            if predicate(stats):
                return
            assert time.monotonic() < deadline, f"/stats never matched: {stats}"
            time.sleep(0.01)

    def wait_draining(self, timeout: float = 2.0) -> None:
        """Poll /healthz until it says 503 (the service has taken the signal)."""
        deadline = time.monotonic() + timeout
        while self.get("/healthz")[0] != 503:
            if time.monotonic() > deadline:
                self.proc.kill()
                _, err = self.proc.communicate(timeout=10)
                raise AssertionError(f"/healthz never said draining; the service's log:\n{err}")
            time.sleep(0.005)

    def stop(self, timeout: float) -> tuple[int, dict[str, Any], float]:
        """SIGTERM; wait at most ``timeout`` for the exit: (exit code, summary, seconds)."""
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.stdout, self.stderr = self.proc.communicate(timeout=timeout)
        elapsed = time.monotonic() - began
        summary = json.loads(self.stdout.strip().splitlines()[-1])
        return self.proc.returncode, summary, elapsed


def children_of_this_process() -> set[int]:
    """Live child pids of this process (Linux /proc), or an empty set where unknown."""
    found: set[int] = set()
    for children in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
        found |= {int(pid) for pid in children.read_text().split()}
    return found


@pytest.fixture
def start() -> Iterator[Callable[..., Service]]:
    """``start(*options)`` runs the service; every child is ended and reaped at teardown."""
    started: list[subprocess.Popen[str]] = []

    def run(*options: str) -> Service:
        proc = subprocess.Popen([sys.executable, str(SERVICE), "--port", "0", *options],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started.append(proc)
        assert proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            ready = sel.select(START_BOUND)
        assert ready, f"the service printed no port within {START_BOUND} s"
        line = proc.stdout.readline()
        assert line.strip().isdigit(), f"first line is not a port: {line!r}"
        return Service(proc, int(line))

    try:
        yield run
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=10)
    assert all(proc.returncode is not None for proc in started)
    left = children_of_this_process() & {proc.pid for proc in started}
    assert not left, f"child processes left behind: {left}"


def test_first_line_is_the_port_and_a_job_answers_200_with_its_result(
    start: Callable[..., Service],
) -> None:
    service = start("--workers", "2", "--job-seconds", "0.05")
    status, body = service.get("/work")
    assert status == 200
    assert body["job"] == "req-1" and body["result"]["worker"] in (1, 2)
    assert service.get("/healthz") == (200, {"status": "serving"})
    code, summary, _ = service.stop(timeout=10)
    assert code == 0
    assert summary == {"accepted": 1, "answered": 1, "refused": 0, "abandoned": 0,
                       "elapsed": summary["elapsed"]}


def test_a_full_pool_answers_429_at_once_without_queueing(start: Callable[..., Service]) -> None:
    service = start("--workers", "1", "--buffer", "0", "--job-seconds", "1.0")
    first: list[tuple[int, dict[str, Any]]] = []
    holder = threading.Thread(target=lambda: first.append(service.get("/work")))
    holder.start()
    try:
        service.wait_until(lambda s: s["running"] == 1)
        began = time.monotonic()
        status, body = service.get("/work")
        assert status == 429 and "busy" in body["error"]
        assert time.monotonic() - began < 0.5  # did not wait for the running job
        assert service.get("/stats")[1]["submitted"] == 1  # the refused request queued nothing
    finally:
        holder.join(10)
    assert first and first[0][0] == 200
    code, summary, _ = service.stop(timeout=10)
    assert code == 0 and summary["refused"] == 1 and summary["accepted"] == 1


def test_sigterm_mid_load_answers_every_accepted_request_and_exits_0_within_the_bound(
    start: Callable[..., Service],
) -> None:
    drain_timeout, grace = 2.0, 0.1
    service = start("--workers", "4", "--buffer", "2", "--job-seconds", "0.2",
                    "--drain-timeout", str(drain_timeout), "--grace", str(grace))
    seen: list[int | str] = []
    stop_sending = threading.Event()

    def client() -> None:
        deadline = time.monotonic() + 10
        while not stop_sending.is_set() and time.monotonic() < deadline:
            try:
                status, _ = service.get("/work")
            except OSError as exc:  # no answer at all: the test fails on it below
                seen.append(type(exc).__name__)
                return
            seen.append(status)
            if status == 503:
                return  # the service is going away
            if status == 429:
                time.sleep(0.02)

    clients = [threading.Thread(target=client) for _ in range(8)]
    for t in clients:
        t.start()
    try:
        service.wait_until(lambda s: s["succeeded"] >= 8 and s["running"] > 0)
        service.proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        service.wait_draining()  # intake stops at once
        probes = [service.get("/work")[0] for _ in range(3)]
        stop_sending.set()
    finally:
        stop_sending.set()
        for t in clients:
            t.join(15)
    service.stdout, service.stderr = service.proc.communicate(
        timeout=drain_timeout + grace + SLACK + 5)
    exited_after = time.monotonic() - signalled
    summary = json.loads(service.stdout.strip().splitlines()[-1])
    counts = Counter(seen)
    assert probes == [503, 503, 503]
    assert service.proc.returncode == 0, service.stderr
    assert set(counts) <= {200, 429, 503}, counts  # every request was answered
    assert counts[200] == summary["accepted"] == summary["answered"] > 0, (counts, summary)
    assert counts[429] + counts[503] + len(probes) == summary["refused"], (counts, summary)
    assert counts[429] > 0  # 8 clients on 4 workers + 2 waiting: the pool was full
    assert summary["abandoned"] == 0
    assert summary["elapsed"] <= drain_timeout + grace + 1.0
    assert exited_after <= drain_timeout + grace + SLACK + 1.0


def test_a_hung_job_is_abandoned_at_the_bound_and_the_exit_is_non_zero(
    start: Callable[..., Service],
) -> None:
    drain_timeout, grace = 0.3, 0.1
    service = start("--workers", "2", "--job-seconds", "0.1", "--allow-hang",
                    "--drain-timeout", str(drain_timeout), "--grace", str(grace))
    answers: dict[str, tuple[int, dict[str, Any]]] = {}
    threads = [threading.Thread(target=lambda: answers.setdefault("hung",
                                                                  service.get("/work?hang=1"))),
               threading.Thread(target=lambda: answers.setdefault("quick", service.get("/work")))]
    threads[0].start()
    service.wait_until(lambda s: s["running"] == 1)
    threads[1].start()
    service.wait_until(lambda s: s["submitted"] == 2)
    try:
        code, summary, elapsed = service.stop(timeout=drain_timeout + grace + SLACK + 5)
    finally:
        for t in threads:
            t.join(10)
    assert code == 1
    assert summary["abandoned"] == 1 and summary["accepted"] == summary["answered"] == 2
    assert answers["quick"][0] == 200
    assert answers["hung"][0] == 503 and "abandoned" in answers["hung"][1]["error"]
    assert drain_timeout <= summary["elapsed"] <= drain_timeout + grace + 0.5
    assert elapsed <= drain_timeout + grace + SLACK
    assert "abandoned: job 'req-1'" in service.stderr


def test_seconds_sets_one_jobs_length_and_bad_requests_get_4xx(
    start: Callable[..., Service],
) -> None:
    service = start("--workers", "1", "--request-timeout", "5")
    status, body = service.get("/work?seconds=0.01")
    assert status == 200 and body["result"]["seconds"] == 0.01
    for path in ("/work?hang=1", "/work?seconds=abc", "/work?seconds=-1", "/work?seconds=6"):
        assert service.get(path)[0] == 400, path  # hang=1 needs --allow-hang
    assert service.get("/nowhere")[0] == 404
    code, summary, _ = service.stop(timeout=10)
    assert code == 0 and summary["accepted"] == 1 and summary["refused"] == 0


def test_a_second_sigterm_cancels_the_running_jobs(start: Callable[..., Service]) -> None:
    service = start("--workers", "1", "--job-seconds", "5", "--drain-timeout", "10")
    answer: list[tuple[int, dict[str, Any]]] = []
    client = threading.Thread(target=lambda: answer.append(service.get("/work")))
    client.start()
    try:
        service.wait_until(lambda s: s["running"] == 1)
        began = time.monotonic()
        service.proc.send_signal(signal.SIGTERM)
        service.wait_draining()
        service.proc.send_signal(signal.SIGTERM)
        service.stdout, service.stderr = service.proc.communicate(timeout=10)
        elapsed = time.monotonic() - began
    finally:
        client.join(10)
    assert service.proc.returncode == 128 + signal.SIGTERM
    assert elapsed < 3.0  # not the 5 s job, not the 10 s drain
    assert answer and answer[0][0] == 503 and "cancelled" in answer[0][1]["error"]
    assert json.loads(service.stdout.splitlines()[-1])["answered"] == 1
