"""What the lifecycle tells the rest of the project, without knowing who listens.

apps.live subscribes in its `ready()` and broadcasts the events after commit; the jobs app
never imports it (dependencies point one way: live -> jobs).

- `job_changed`: one job changed; `kind` (the live kind, "calculation"), `obj_id`, `payload`.
- `jobs_changed`: many jobs changed by one write; `kind`, `events` ([(obj_id, payload), ...]).

Both are sent with `sender` the `JobKind`, inside the writing transaction: receivers that
act outside the database wait for the commit.
"""

from django.dispatch import Signal

job_changed = Signal()
jobs_changed = Signal()
