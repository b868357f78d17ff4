"""Finding the processes a test left behind, from /proc (no psutil needed).

:func:`descendants` lists every process below this one (children,
grandchildren: a forkserver's workers are its children, not ours) with its
state, so zombies show too. The forkserver and the resource tracker that
``multiprocessing`` keeps for the life of the interpreter are left out;
anything else a test started and did not reap is a leak.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from pathlib import Path

import pytest


def _stat(pid: int) -> tuple[int, str] | None:
    """``(ppid, state)`` of ``pid``, or ``None`` if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()  # after "pid (comm) "
    return int(fields[1]), fields[0]


def state(pid: int) -> str | None:
    """The process state letter of ``pid`` (``"Z"``: zombie), ``None`` if it is gone."""
    stat = _stat(pid)
    return None if stat is None else stat[1]


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    return state(pid) not in (None, "Z")


def _keepers() -> set[int]:
    """The helper processes multiprocessing keeps for the whole session."""
    pids = set()
    from multiprocessing import forkserver, resource_tracker

    for pid in (getattr(forkserver._forkserver, "_forkserver_pid", None),
                getattr(resource_tracker._resource_tracker, "_pid", None)):
        if pid is not None:
            pids.add(pid)
    return pids


def descendants(root: int | None = None) -> dict[int, str]:
    """Every process below ``root`` (default: this one): pid -> state letter.

    Leaves out the forkserver and the resource tracker themselves (not
    what they started).
    """
    root = os.getpid() if root is None else root
    children: dict[int, list[tuple[int, str]]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None:
                children.setdefault(stat[0], []).append((int(entry), stat[1]))
    keep = _keepers()
    found: dict[int, str] = {}
    stack = [root]
    while stack:
        for pid, letter in children.get(stack.pop(), []):
            stack.append(pid)
            if pid not in keep:
                found[pid] = letter
    return found


def describe(pids: dict[int, str]) -> str:
    parts = []
    for pid, letter in sorted(pids.items()):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:80]
        except OSError:
            cmd = "?"
        parts.append(f"{pid} [{letter}] {cmd}")
    return "; ".join(parts)


def left_behind(before: dict[int, str], wait: float = 2.0) -> dict[int, str]:
    """Processes below this one that were not there ``before``, after up to ``wait`` s."""
    limit = time.monotonic() + wait
    while True:
        new = {pid: s for pid, s in descendants().items() if pid not in before}
        if not new and not multiprocessing.active_children():
            return {}
        if time.monotonic() >= limit:
            return new
        time.sleep(0.01)


needs_proc = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="reads /proc to find leftover processes")
