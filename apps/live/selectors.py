"""Reads the live layer needs: which model a kind of event is about, and who may see it now."""

from django.apps import apps
from django.db import models

from apps.accounts.permissions import user_may_now, users_may_now
from apps.live.realtime import KINDS, Kind

# Looked up lazily so the live app does not import the domain apps (they import it).
_MODELS: dict[str, tuple[str, str]] = {
    "calculation": ("calculations", "Calculation"),
    "function": ("charts", "Function"),
}


def live_model(*, kind: Kind) -> type[models.Model]:
    app_label, model_name = _MODELS[kind]
    return apps.get_model(app_label, model_name)


def live_subscription_check(*, user_id: int, kind: Kind, obj_id: int | None = None) -> tuple[bool, bool]:
    """(may the user view `kind` now, does object `obj_id` exist), in one database visit: a
    subscribe costs one connection (none stay open under daphne). Existence is only looked
    up for a user who may view the kind; without `obj_id` (a stream) it is True."""
    model = live_model(kind=kind)
    if not user_may_now(user_id=user_id, model=model, action="view"):
        return False, False
    return True, obj_id is None or model._default_manager.filter(pk=obj_id).exists()


def live_kinds_viewable(*, user_ids: list[int]) -> dict[int, set[Kind]]:
    """For the periodic re-check of open sockets: the kinds each user may view now."""
    by_model = {live_model(kind=kind): kind for kind in KINDS}
    allowed = users_may_now(user_ids=user_ids, models=by_model, action="view")
    return {user_id: {by_model[model] for model in models} for user_id, models in allowed.items()}
