"""The job tests that act on both kinds use each app's row fixtures."""

from tests.calculations.conftest import make_calculation, make_finished  # noqa: F401
from tests.charts.conftest import make_function  # noqa: F401
