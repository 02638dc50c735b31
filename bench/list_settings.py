"""Settings of the list benchmarks: the test settings (DEBUG off, cache and channel prefixes of
this run) with a second database, `large`, and a router that sends every query to the
database the benchmark is sampling."""

import os
from typing import Any

from django.db.models import Model

from project.settings.test import *  # noqa: F403
from project.settings.test import DATABASES

DATABASES["default"] = {**DATABASES["default"], "NAME": os.environ["BENCH_LIST_SMALL_DB"]}
DATABASES["large"] = {**DATABASES["default"], "NAME": os.environ["BENCH_LIST_LARGE_DB"]}
DATABASE_ROUTERS = ["list_settings.AliasRouter"]


class AliasRouter:
    alias = "default"

    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        return self.alias

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        return self.alias

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool:
        return True
