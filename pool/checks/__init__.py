"""Exercise checkers: run a learner's answer through named scenarios and say what is wrong.

Each stage notebook ends with an exercise: write the stage's function
yourself, then check it::

    from pool.checks import check_worker
    check_worker(my_worker)

A checker prints exactly one line per scenario, ``ok   <subject> <scenario>``
or ``FAIL <subject> <scenario>: <hint>``, and returns ``True`` if every
scenario passed. The hint says in plain words what is wrong and what to do,
e.g. ``the worker never called wg.done(): shutdown would wait forever``.

Guarantees, for every checker:

* **A broken answer cannot hang the notebook.** Each scenario runs in a
  daemon thread of its own with its own time bound, and every wait inside it
  is bounded too; a scenario whose answer deadlocks or loops fails after
  about a second. When a scenario ends, the checker releases the jobs it
  held, closes the channels it made and starts a best-effort shutdown of a
  pool it made, so threads of an answer that merely forgot something wind
  down. (A thread that loops forever cannot be killed, in Python or Go; it
  is a daemon thread when the checker started it, so it never keeps Python
  from exiting.)
* **A wrong answer never raises.** Whatever it raises becomes a ``FAIL``
  line. The checkers raise only ``TypeError`` when given something that is
  not callable.
* **The output is deterministic**: no timings, thread ids or addresses, so
  nbval can compare a notebook's committed output with a fresh run. Lines
  are printed from the calling thread, each as soon as its scenario ends.
* Uncaught exceptions in threads started while a check runs (say a worker
  thread that crashed) are caught through ``threading.excepthook`` for the
  duration of the check and reported in a hint instead of as a traceback.
  Exceptions from threads that existed before go to the previous hook.

* **Daemon-ness is really tested.** A new thread inherits ``daemon`` from
  the thread that starts it, so the scenarios that look at the threads an
  answer starts call it from a non-daemon thread (``_Env.start_nondaemon``),
  as a program's main thread would.

One module per exercise, on a shared harness (``_harness``: the runner, its
bounds, the helpers scenarios share): ``job`` and ``context`` (02),
``worker`` (03), ``channel`` and ``dispatcher`` (04), ``shutdown`` (05, 06),
``cancellation`` (07), ``tracking`` (08), ``production`` (09), ``service``
(10), ``processes`` (11), ``aio`` (12), ``idempotency`` (13). Every checker
is importable from ``pool.checks`` itself. Each has a corpus of wrong and
right answers in ``tests/`` (``*_answers.py``) that proves it tells them
apart.

Some scenarios fail a job on purpose; the reference worker logs that on the
``pool`` logger, which prints nothing unless the notebook configured logging.
"""

from .aio import check_async_pool
from .cancellation import check_process
from .channel import check_channel
from .context import check_child_context
from .dispatcher import check_start_workers
from .idempotency import check_idempotent
from .job import check_job
from .processes import check_run_with_hard_timeout, hard_timeout_job
from .production import check_stopper
from .service import check_service
from .shutdown import check_shutdown
from .tracking import check_pool
from .worker import check_worker

__all__ = [
    "check_async_pool",
    "check_channel",
    "check_child_context",
    "check_idempotent",
    "check_job",
    "check_pool",
    "check_process",
    "check_run_with_hard_timeout",
    "check_service",
    "check_shutdown",
    "check_start_workers",
    "check_stopper",
    "check_worker",
    "hard_timeout_job",
]
