"""Developer machine: the local stack started by `scripts/dev`."""

from project.settings.base import *  # noqa: F403
from project.settings.jobs import *  # noqa: F403
from project.settings.live import *  # noqa: F403
from project.settings.services import *  # noqa: F403

DEBUG = True
