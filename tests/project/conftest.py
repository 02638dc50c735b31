"""Fixtures of the project-wide tests, borrowed from the apps' tests: rows in a given state."""

from tests.calculations.conftest import make_calculation, make_finished  # noqa: F401 (fixtures)
from tests.charts.conftest import make_function  # noqa: F401 (a fixture)
