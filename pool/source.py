"""Show the package's own code in a notebook, rendered from the source files.

The notebooks call :func:`show_source` instead of pasting code, so the code a
learner reads is the code that runs, and the two can never drift apart.
"""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["show_source", "source_of"]


def source_of(obj: Any, *, skip_docstring: bool = False) -> str:
    """Return the source text of a function, class or module of ``pool``.

    With ``skip_docstring=True`` the leading docstring is left out (the
    notebook's prose says the same). Raises ``TypeError`` if ``obj`` has no
    retrievable source (a built-in, an instance).
    """
    try:
        text = inspect.getsource(obj)
    except (TypeError, OSError) as exc:
        raise TypeError(f"obj must be a function, class or module with source, got {obj!r}") \
            from exc
    if skip_docstring:
        text = _without_docstring(text, inspect.getdoc(obj))
    return text


def _without_docstring(text: str, doc: str | None) -> str:
    if not doc:
        return text
    for quote in ('"""', "'''"):
        start = text.find(quote)
        if start == -1:
            continue
        end = text.find(quote, start + 3)
        if end == -1:
            continue
        line_start = text.rfind("\n", 0, start) + 1
        line_end = text.find("\n", end)
        line_end = len(text) if line_end == -1 else line_end + 1
        if text[line_start:start].strip() == "":
            return text[:line_start] + text[line_end:]
    return text


def show_source(obj: Any, *, skip_docstring: bool = False) -> Any:
    """Return ``obj``'s source for display: highlighted in Jupyter, plain text elsewhere.

    In a notebook, the last expression of a cell is displayed, so
    ``show_source(pool.worker)`` renders the function with syntax colours
    (IPython's ``Code``). Outside IPython it returns the text. Never blocks;
    raises ``TypeError`` like :func:`source_of`.
    """
    text = source_of(obj, skip_docstring=skip_docstring)
    try:
        from IPython.display import Code
    except ImportError:  # plain Python: the text is the best display
        return text
    return Code(text, language="python")  # type: ignore[no-untyped-call]
