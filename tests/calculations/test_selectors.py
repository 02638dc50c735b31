import pytest

from apps.calculations.selectors import calculation_get, calculation_list, detail_fields_parse
from apps.calculations.tasks import calculation_run_task
from apps.core.errors import DomainError, NotFoundError
from apps.jobs.models import JobStatus


def test_the_list_selector_refuses_an_ordering_outside_the_whitelist(db):
    with pytest.raises(DomainError) as caught:
        calculation_list(ordering="name; drop table")
    assert (caught.value.errors[0].field, caught.value.errors[0].rule) == ("ordering", "literal_error")


def test_the_list_selector_refuses_page_zero(db):
    with pytest.raises(DomainError) as caught:
        calculation_list(page=0)
    assert caught.value.errors[0].field == "page"


@pytest.mark.parametrize("pk", [0, -1, 2**63, 123456789])
def test_getting_an_unknown_run_raises_not_found(db, pk):
    with pytest.raises(NotFoundError):
        calculation_get(calculation_id=pk)


def test_getting_a_run_returns_it(make_calculation):
    calculation = make_calculation()
    assert calculation_get(calculation_id=calculation.pk) == calculation


def test_optional_fields_come_back_in_a_fixed_order_without_duplicates():
    assert detail_fields_parse(fields="duration,name,duration") == ("name", "duration")
    assert detail_fields_parse(fields=None) == () == detail_fields_parse(fields=" , ")


def test_the_run_task_runs_the_calculation(make_calculation):
    calculation = make_calculation()
    calculation_run_task.apply(args=[calculation.pk]).get()
    calculation.refresh_from_db()
    assert calculation.status == JobStatus.FINISHED and calculation.rows.count() == 366
