"""Schemas of every job kind's API."""

from typing import Literal

from apps.jobs.models import JobStatus

# A job's status as the API documents it (an enum in OpenAPI): the one vocabulary, JobStatus.
JobStatusName = Literal[tuple(JobStatus.values)]
