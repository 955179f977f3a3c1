"""Argument checks shared by the whole library: each returns the clean value or raises ValueError.

Also the guard at the top of every notebook self-check (``require_answers``): it turns an
exercise left as its student-copy stub into one clear ``ExerciseNotDone`` message.

Booleans are refused where a number is expected (``True`` is an ``int`` in Python, but
``steps=True`` is a mistake). Integers may be Python or numpy integers and come back as
``int``; real numbers may be any Python or numpy number and come back as ``float``.
"""

from __future__ import annotations

import inspect
import math

import numpy as np

_INTEGER_TYPES = (int, np.integer)
_REAL_TYPES = (int, float, np.integer, np.floating)


def _integer(value: int, name: str, minimum: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, _INTEGER_TYPES) or value < minimum:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(value)


def positive_int(value: int, name: str) -> int:
    """``int(value)`` if it is an integer >= 1 (not a bool).

    Raises:
        ValueError: ``"<name> must be a positive integer, got <value>"``.
    """
    return _integer(value, name, 1, "a positive integer")


def nonnegative_int(value: int, name: str) -> int:
    """``int(value)`` if it is an integer >= 0 (not a bool), e.g. a seed.

    Raises:
        ValueError: ``"<name> must be an integer >= 0, got <value>"``.
    """
    return _integer(value, name, 0, "an integer >= 0")


def int_at_least(value: int, name: str, minimum: int) -> int:
    """``int(value)`` if it is an integer >= ``minimum`` (not a bool).

    Raises:
        ValueError: ``"<name> must be an integer >= <minimum>, got <value>"``.
    """
    return _integer(value, name, minimum, f"an integer >= {minimum}")


def _real(value: float, name: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, _REAL_TYPES):
        raise ValueError(f"{name} must be {what}, got {value!r} of type {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be {what}, got {value}")
    return value


def finite_float(value: float, name: str) -> float:
    """``float(value)`` if it is a finite real number (not a bool, NaN or ±inf).

    Raises:
        ValueError: ``"<name> must be a finite real number, got <value>"``.
    """
    return _real(value, name, "a finite real number")


def positive_float(value: float, name: str) -> float:
    """``float(value)`` if it is a finite number > 0.

    Raises:
        ValueError: ``"<name> must be a finite number > 0, got <value>"``.
    """
    value = _real(value, name, "a finite number > 0")
    if value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return value


def nonnegative_float(value: float, name: str) -> float:
    """``float(value)`` if it is a finite number >= 0 (a penalty coefficient, a decay rate).

    Raises:
        ValueError: ``"<name> must be a finite number >= 0, got <value>"`` for a non-number,
            NaN or ±inf; ``"<name> must be >= 0, got <value>"`` for a negative number.
    """
    value = _real(value, name, "a finite number >= 0")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


# --- notebook self-checks ---------------------------------------------------------------------


class ExerciseNotDone(AssertionError):
    """A notebook self-check was run before its exercise was answered (the student copy's stub)."""


#: The cell tag of an exercise's solution cell: ``tools/make_student.py`` replaces such cells by a
#: stub in the student copies, and the book (``book/prepare.py``) folds them behind a toggle.
SOLUTION_TAG = "solution"


def _is_unanswered(value: object) -> bool:
    """True for a stub: ``None``, or a function whose whole body raises ``NotImplementedError``."""
    if value is None:
        return True
    code = getattr(value, "__code__", None)
    # ``def f(...): raise NotImplementedError("...")`` reads one global name and nothing else
    return inspect.isfunction(value) and code.co_names == ("NotImplementedError",)


def require_answers(exercise: str, **answers: object) -> None:
    """Stop a notebook self-check with a clear message while its exercise is still unanswered.

    The first line of every self-check cell. In the student copies (``make student``) each
    solution cell is a stub that sets the answer to ``None`` or defines the function with a body
    that only raises ``NotImplementedError``; without this line the check would crash somewhere
    inside on ``None``.

    Args:
        exercise: the exercise as the notebook names it, e.g. ``"Exercise 2"``.
        **answers: each name the self-check reads from the solution cell, with its value.

    Raises:
        ValueError: ``exercise`` is not a non-empty string, or no answer is given.
        ExerciseNotDone: (an ``AssertionError``) some answer is still a stub; the message names
            the exercise and the unanswered names.
    """
    if not isinstance(exercise, str) or not exercise.strip():
        raise ValueError(f"exercise must be a non-empty string such as 'Exercise 1', got {exercise!r}")
    if not answers:
        raise ValueError(f"{exercise}: name at least one answer, e.g. require_answers({exercise!r}, x=x)")
    missing = [name for name, value in answers.items() if _is_unanswered(value)]
    if missing:
        names = ", ".join(f"`{name}`" for name in missing)
        raise ExerciseNotDone(
            f"{exercise} not done yet: {names} {'is still a stub' if len(missing) == 1 else 'are still stubs'}. "
            "Write your answer in the cell above this check, run that cell, then run this check again.")
