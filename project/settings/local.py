"""Developer machine: the local stack started by `scripts/dev`."""

from project.settings.base import *  # noqa: F403
from project.settings.env import env_bool

DEBUG = env_bool("DJANGO_DEBUG", True)
