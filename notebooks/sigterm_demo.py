"""A tiny service for notebook 06: its worker hangs, then a deploy sends it SIGTERM.

    python sigterm_demo.py [--handle] [--daemon]

It starts one worker with stage 3's ``start_workers``, gives it a job that
never returns (it waits on an event nobody sets), prints ``ready`` and waits
to be told to stop. The notebook runs it as a child process, sends it
SIGTERM, watches what happens, and always kills it at the end.

- Without ``--handle`` SIGTERM keeps its default action: the operating
  system ends the process at once, whatever its threads are doing.
- With ``--handle`` a handler turns SIGTERM into a graceful stop: the main
  thread shuts the pool down with a 0.2 s timeout (which gives up on the hung
  worker), prints a line and returns from ``main``. The interpreter then
  waits for every non-daemon thread before it exits, so unless ``--daemon``
  made the worker a daemon thread, the process never exits.

Only the main thread prints (to the pipe the notebook reads); the worker never does.
"""

from __future__ import annotations

import argparse
import signal
import threading
from types import FrameType

from pool import Job, shutdown, start_workers


def main(argv: list[str] | None = None) -> None:
    """Run the service until SIGTERM (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handle", action="store_true", help="handle SIGTERM: stop gracefully")
    parser.add_argument("--daemon", action="store_true", help="make the worker a daemon thread")
    args = parser.parse_args(argv)

    stop = threading.Event()
    if args.handle:
        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            stop.set()  # only note it: the main thread does the stopping

        signal.signal(signal.SIGTERM, on_sigterm)

    never = threading.Event()  # nobody sets it: the job hangs
    jobs, wg = start_workers(1, lambda job: never.wait(), daemon=args.daemon)
    jobs.send(Job("stuck"))
    print("ready", flush=True)

    stop.wait()  # without --handle, SIGTERM ends the process while it waits here
    clean = shutdown(jobs, wg, timeout=0.2)
    print(f"SIGTERM handled: shutdown returned {clean}; main returns", flush=True)


if __name__ == "__main__":
    main()
