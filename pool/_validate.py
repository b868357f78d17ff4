"""Argument checks shared by every public entry point.

Each check names the argument in its message, so a learner who passes
``workers="3"`` reads ``workers must be an int, got str`` rather than a
traceback from deep inside a thread.
"""

from __future__ import annotations

import math
import threading
from typing import Any

# threading waits overflow above TIMEOUT_MAX; anything longer is "forever"
# for practical purposes, so clamp instead of raising OverflowError.
_MAX_WAIT = threading.TIMEOUT_MAX


def type_name(value: object) -> str:
    return type(value).__name__


def check_int(value: object, name: str, *, minimum: int) -> int:
    """Return ``value`` if it is an int (not a bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type_name(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_seconds(value: object, name: str) -> float:
    """Return ``value`` as a float number of seconds >= 0 (inf allowed)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {type_name(value)}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    try:
        seconds = float(value)
    except OverflowError:  # an int too large for a float: longer than forever
        return math.inf
    if math.isnan(seconds):
        raise ValueError(f"{name} must be a number of seconds, got NaN")
    return seconds


def check_timeout(value: object, name: str = "timeout") -> float | None:
    """Return ``None`` (wait forever) or a finite float >= 0.

    ``math.inf`` also means forever and is returned as ``None``.
    """
    if value is None:
        return None
    seconds = check_seconds(value, name)
    if math.isinf(seconds):
        return None
    return seconds


def check_probability(value: object, name: str) -> float:
    """Return ``value`` as a float in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number in [0, 1], got {type_name(value)}")
    if math.isnan(value) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be in [0, 1], got {value}")
    return float(value)


def check_callable(value: Any, name: str) -> Any:
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {type_name(value)}")
    return value


def wait_bound(remaining: float | None) -> float | None:
    """Clamp a wait so threading never raises OverflowError."""
    if remaining is None:
        return None
    return min(max(remaining, 0.0), _MAX_WAIT)
