from datetime import UTC, datetime

from apps.charts.models import Function


def test_a_functions_end_is_its_processed_at_both_ways():
    ended = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    function = Function(expression="t", processed_at=ended)
    assert function.finished_at == ended
    function.finished_at = None
    assert function.processed_at is None
