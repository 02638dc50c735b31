"""Schemas of every job kind's API."""

from typing import Literal, get_args

from apps.jobs.models import JobStatus

# A job's status as the API documents it (an enum in OpenAPI): the one vocabulary, JobStatus.
JobStatusName = Literal["queued", "running", "finished", "failed", "cancelled"]
assert list(get_args(JobStatusName)) == JobStatus.values  # the same names in the same order
