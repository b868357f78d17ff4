"""Shared, generic fixtures. Keep this file small: test-specific helpers live in the tests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from poolhelpers import MakePool, Pools

# How long teardown waits for a helper thread before calling it leaked.
JOIN_TIMEOUT = 5.0


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """An Event a deliberately blocked job waits on; always set at teardown."""
    event = threading.Event()
    try:
        yield event
    finally:
        event.set()


class Spawned:
    """A call running in a daemon thread of its own.

    ``finished`` is an Event set when the call returns or raises;
    ``join(timeout)`` returns the call's result or re-raises its exception.
    """

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> None:
        self.finished = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self._call = (fn, args, kwargs)
        self.thread = threading.Thread(target=self._run, name=f"spawned-{fn.__name__}",
                                       daemon=True)

    def _run(self) -> None:
        fn, args, kwargs = self._call
        try:
            self.result = fn(*args, **kwargs)
        except BaseException as exc:  # reported to the test by join()
            self.error = exc
        finally:
            self.finished.set()

    def join(self, timeout: float = JOIN_TIMEOUT) -> Any:
        """Wait for the call; return its result or re-raise what it raised."""
        if not self.finished.wait(timeout):
            raise AssertionError(f"{self.thread.name} still running after {timeout} s")
        self.thread.join(timeout)
        if self.error is not None:
            raise self.error
        return self.result


@pytest.fixture
def spawn(release: threading.Event) -> Iterator[Callable[..., Spawned]]:
    """``spawn(fn, *args, **kwargs)`` runs ``fn`` in a daemon thread.

    At teardown ``release`` is set and every spawned call must finish within
    JOIN_TIMEOUT, so no test leaves a thread behind.
    """
    spawned: list[Spawned] = []

    def start(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Spawned:
        call = Spawned(fn, args, kwargs)
        spawned.append(call)
        call.thread.start()
        return call

    yield start
    release.set()
    leaked = [s.thread.name for s in spawned if not s.finished.wait(JOIN_TIMEOUT)]
    for s in spawned:
        s.thread.join(JOIN_TIMEOUT)
    assert not leaked, f"threads still running at teardown: {leaked}"


@pytest.fixture
def make_pool(release: threading.Event) -> Iterator[MakePool]:
    """``make_pool(process, workers, **kwargs)``; shut down and joined at teardown."""
    pools = Pools(release)
    yield pools
    alive = pools.close()
    assert not alive, f"worker threads still alive at teardown: {alive}"
