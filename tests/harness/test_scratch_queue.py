"""The tests' scratch queues report what really reached the broker, and fail when they cannot."""

import pytest
from amqp.exceptions import NotFound

from tests.conftest import PublishedTask, ScratchQueue, unique_queue


def test_a_new_scratch_queue_holds_nothing_and_what_is_published_there_is_read_back_in_order(settings):
    from project.celery import app

    queue = ScratchQueue(unique_queue("test-scratch"))
    try:
        assert queue.message_count() == 0
        for job_id in (7, 8):
            app.send_task("charts.render", args=[job_id], queue=queue.name, routing_key=queue.name)
        assert queue.message_count() == 2
        assert queue.take() == [PublishedTask("charts.render", [7]), PublishedTask("charts.render", [8])]
        assert queue.message_count() == 0
    finally:
        queue.delete()


def test_a_scratch_queue_that_is_gone_is_an_error_not_zero_messages():
    queue = ScratchQueue(unique_queue("test-scratch"))
    queue.delete()
    with pytest.raises(NotFound):
        queue.message_count()
