"""Reads the live layer needs: which model a kind of event is about."""

from django.apps import apps
from django.db import models

from apps.live.realtime import Kind

# Looked up lazily so the live app does not import the domain apps (they import it).
_MODELS: dict[str, tuple[str, str]] = {
    "calculation": ("calculations", "Calculation"),
    "function": ("charts", "Function"),
    "historyimport": ("wells", "HistoryImport"),
}


def live_model(*, kind: Kind) -> type[models.Model]:
    app_label, model_name = _MODELS[kind]
    return apps.get_model(app_label, model_name)


def live_object_exists(*, kind: Kind, obj_id: int) -> bool:
    return live_model(kind=kind)._default_manager.filter(pk=obj_id).exists()
