"""nbval settings for the course notebooks (pytest loads this when it collects notebooks/)."""

from __future__ import annotations

from typing import Any


def pytest_collectstart(collector: Any) -> None:
    # show_source() renders code as text/plain (the source itself) and as
    # text/html (Pygments' colouring). The plain text is what must not drift;
    # the HTML changes with the Pygments version, so nbval skips it.
    path = getattr(collector, "path", None)
    if path is not None and path.suffix == ".ipynb" and hasattr(collector, "skip_compare"):
        collector.skip_compare = (*collector.skip_compare, "text/html")
