"""Import the notebooks' reference solutions, and read a checker's output.

The solutions live in notebooks/solutions/ as plain modules whose names start
with a digit, so they are imported by path.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SOLUTIONS = Path(__file__).resolve().parent.parent / "notebooks" / "solutions"


def load_solution(stem: str) -> ModuleType:
    """Import notebooks/solutions/<stem>.py."""
    path = SOLUTIONS / f"{stem}.py"
    spec = importlib.util.spec_from_file_location(f"solution_{stem}", path)
    assert spec is not None and spec.loader is not None, f"cannot import {path}"
    module = importlib.util.module_from_spec(spec)
    # Registered first, as `import` would: a dataclass looks its module up while it is made.
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[spec.name]
        raise
    return module


def failed_lines(output: str) -> list[str]:
    """The lines of a checker's output that are not ``ok``."""
    return [line for line in output.splitlines() if not line.startswith("ok   ")]
