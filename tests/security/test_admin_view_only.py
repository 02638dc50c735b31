"""A staff user who may only view: every action of every admin list is refused and changes
nothing (no row written, created or deleted, no job published, no token revoked)."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client, RequestFactory

from apps.accounts.services import api_token_create

User = get_user_model()


def every_action() -> list[tuple[str, str]]:
    """(model label, action name) for every action the admin offers someone with every right."""
    request = RequestFactory().get("/admin/")
    request.user = User(is_active=True, is_staff=True, is_superuser=True)  # never saved: no query
    return [
        (model._meta.label, name)
        for model, model_admin in admin.site._registry.items()
        for name in model_admin.get_actions(request)
    ]


ACTIONS = every_action()
# Actions that only read, offered to whoever may view the list (they change nothing either).
READ_ONLY_ACTIONS = {("calculations.Calculation", "compare_runs")}  # opens the comparison page


def snapshot() -> dict[str, list[dict]]:
    """Every row of every model the admin shows."""
    return {model._meta.label: list(model.objects.order_by("pk").values()) for model in admin.site._registry}


@pytest.fixture
def viewer(db) -> Client:
    """Staff, with the view permission of every model the admin shows, and nothing else."""
    person = User.objects.create_user(username="viewer", password="viewer-pass-123", is_staff=True)
    person.user_permissions.add(
        *(
            Permission.objects.get(
                content_type__app_label=model._meta.app_label, codename=f"view_{model._meta.model_name}"
            )
            for model in admin.site._registry
        )
    )
    client = Client()
    client.force_login(person)
    return client


def test_the_walk_finds_the_actions_of_every_job_list_and_of_the_tokens():
    assert {
        ("calculations.Calculation", "cancel"),
        ("calculations.Calculation", "run_again"),
        ("charts.Function", "refresh"),
        ("charts.Function", "cancel"),
        ("accounts.ApiToken", "revoke"),
        ("auth.User", "delete_selected"),
    } <= set(ACTIONS)


@pytest.mark.parametrize(("label", "action"), ACTIONS, ids=[f"{label}.{action}" for label, action in ACTIONS])
def test_a_view_only_staff_user_is_refused_every_action_and_nothing_changes(
    viewer, rows, scratch_queues, label, action, django_capture_on_commit_callbacks
):
    from django.contrib.auth.models import Group
    from django_celery_results.models import GroupResult, TaskResult

    api_token_create(user=User.objects.create_user(username="owner", password="owner-pass-123"), name="kept")
    Group.objects.create(name="analysts")
    TaskResult.objects.create(task_id="7f3a", status="SUCCESS")
    GroupResult.objects.create(group_id="7f3b")
    model = apps.get_model(label)
    changelist = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    selected = list(model.objects.values_list("pk", flat=True))
    assert selected, f"no {label} row to act on"
    form = viewer.get(changelist).context["action_form"]  # None: no action offered at all
    offered = [name for name, _label in form.fields["action"].choices] if form else []
    assert (action in offered) == ((label, action) in READ_ONLY_ACTIONS)
    before = snapshot()

    with django_capture_on_commit_callbacks(execute=True):
        response = viewer.post(changelist, {"action": action, "_selected_action": selected}, follow=True)

    assert response.status_code == 200
    if (label, action) not in READ_ONLY_ACTIONS:  # refused: nothing said but that nothing ran
        assert [str(message) for message in response.context["messages"]] in ([], ["No action selected."])
    assert snapshot() == before
    assert all(queue.message_count() == 0 for queue in scratch_queues.values())
