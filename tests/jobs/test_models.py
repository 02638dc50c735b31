import pytest
from django.utils import timezone

from apps.jobs.models import IdempotencyRecord


@pytest.mark.django_db
def test_an_idempotency_record_reads_as_its_operation_and_key(django_user_model):
    user = django_user_model.objects.create_user(username="ada")
    record = IdempotencyRecord.objects.create(
        user=user,
        scope="calculation_create",
        key="order-7",
        request_hash="0" * 64,
        response_status=201,
        response_body={"id": 1},
        created_at=timezone.now(),
    )
    assert str(record) == "calculation_create order-7"
