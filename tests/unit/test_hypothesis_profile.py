"""The suite's Hypothesis profile (tests/conftest.py): property tests that no machine load can fail."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings


@pytest.mark.skipif(os.environ.get("HYPOTHESIS_PROFILE", "suite") != "suite", reason="another profile asked")
def test_property_tests_are_deterministic_and_clock_free() -> None:
    current = settings()
    assert current.deadline is None  # no per-example wall-clock limit
    assert HealthCheck.too_slow in current.suppress_health_check  # nor one on input generation
    assert current.derandomize is True  # the same examples on every run and every machine
    assert current.database is None  # no replay of examples saved by an earlier local run
