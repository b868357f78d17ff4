"""``python -m pool demo``: see :mod:`pool.demo` (``python -m pool demo --help``)."""

from .demo import main

if __name__ == "__main__":
    raise SystemExit(main())
