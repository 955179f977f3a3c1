"""Tests for gan_l2_lib.checks: the one copy of the library's argument checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gan_l2_lib.checks import (
    ExerciseNotDone,
    finite_float,
    int_at_least,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
    require_answers,
)


def _at_least_two(value, name):
    return int_at_least(value, name, 2)


@pytest.mark.parametrize(
    ("check", "good", "expected"),
    [
        (positive_int, 3, 3), (positive_int, np.int64(7), 7),
        (nonnegative_int, 0, 0), (nonnegative_int, np.uint8(5), 5),
        (_at_least_two, 2, 2),
        (finite_float, -2, -2.0), (finite_float, np.float32(0.5), 0.5),
        (positive_float, 1e-9, 1e-9), (positive_float, 4, 4.0),
        (nonnegative_float, 0, 0.0), (nonnegative_float, np.float64(1e-4), 1e-4),
    ],
)
def test_good_values_come_back_as_plain_python_numbers(check, good, expected):
    out = check(good, "x")
    assert out == expected and type(out) is type(expected)


@pytest.mark.parametrize(
    ("check", "bad", "match"),
    [
        (positive_int, True, "steps must be a positive integer, got True"),
        (positive_int, 2.0, "steps must be a positive integer, got 2.0"),
        (positive_int, 0, "steps must be a positive integer, got 0"),
        (positive_int, -3, "steps must be a positive integer, got -3"),
        (positive_int, "5", "steps must be a positive integer, got '5'"),
        (positive_int, None, "steps must be a positive integer, got None"),
        (nonnegative_int, False, "steps must be an integer >= 0, got False"),
        (nonnegative_int, -1, "steps must be an integer >= 0, got -1"),
        (nonnegative_int, 1.5, "steps must be an integer >= 0, got 1.5"),
        (_at_least_two, 1, "steps must be an integer >= 2, got 1"),
        (_at_least_two, True, "steps must be an integer >= 2, got True"),
        (finite_float, True, "steps must be a finite real number, got True of type bool"),
        (finite_float, "1", "steps must be a finite real number, got '1' of type str"),
        (finite_float, math.nan, "steps must be a finite real number, got nan"),
        (finite_float, -math.inf, "steps must be a finite real number, got -inf"),
        (positive_float, 0.0, "steps must be a finite number > 0, got 0.0"),
        (positive_float, -0.1, "steps must be a finite number > 0, got -0.1"),
        (positive_float, math.nan, "steps must be a finite number > 0, got nan"),
        (positive_float, math.inf, "steps must be a finite number > 0, got inf"),
        (positive_float, False, "steps must be a finite number > 0, got False"),
        (positive_float, [1.0], "steps must be a finite number > 0, got \\[1.0\\]"),
        (nonnegative_float, -1e-9, "steps must be >= 0, got -1e-09"),
        (nonnegative_float, math.nan, "steps must be a finite number >= 0, got nan"),
        (nonnegative_float, True, "steps must be a finite number >= 0, got True"),
        (nonnegative_float, None, "steps must be a finite number >= 0, got None"),
    ],
)
def test_bad_values_raise_a_message_with_name_rule_and_value(check, bad, match):
    with pytest.raises(ValueError, match=match):
        check(bad, "steps")


# --- require_answers: the notebook self-checks' guard ----------------------------------------


def _stub(w, lam):
    raise NotImplementedError("Exercise 2: write grad here")


def _answered(w, lam):
    return lam * w


def test_require_answers_passes_real_answers_including_zero_and_functions():
    require_answers("Exercise 1", x=0.0, f=_answered, counts=np.zeros(3), flag=False)


def test_require_answers_names_the_exercise_and_every_stubbed_answer():
    with pytest.raises(ExerciseNotDone, match=r"Exercise 3 not done yet: `a`, `f` are still stubs"):
        require_answers("Exercise 3", a=None, b=1.5, f=_stub)
    with pytest.raises(AssertionError, match=r"^Exercise 1 not done yet: `x` is still a stub\. Write"):
        require_answers("Exercise 1", x=None)


def test_a_function_that_raises_something_else_counts_as_answered():
    def checks_input(w):
        if w is None:
            raise NotImplementedError("None is not supported")
        return math.sqrt(w)

    require_answers("Exercise 1", f=checks_input)


@pytest.mark.parametrize(
    "exercise, answers, match",
    [("", {"x": 1}, "exercise must be a non-empty string"),
     (2, {"x": 1}, "exercise must be a non-empty string"),
     ("Exercise 1", {}, "name at least one answer")],
)
def test_require_answers_rejects_bad_arguments(exercise, answers, match):
    with pytest.raises(ValueError, match=match):
        require_answers(exercise, **answers)
