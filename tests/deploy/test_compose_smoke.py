"""compose.yml run for real: `scripts/compose-smoke` builds every image (base images as
stand-ins from Debian's packages), starts the stack with podman-compose, drives it through the
one published port and removes it (docs/how-to/compose-smoke-test.md).

Never skipped: where podman cannot start a container the smoke exits non-zero with podman's
own reason, and this test fails with it."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# A machine with warm caches runs it in a few minutes; a fresh one debootstraps Debian and
# builds every image first (docs/how-to/compose-smoke-test.md has both times).
FRESH_MACHINE_SECONDS = 3600


@pytest.mark.compose
@pytest.mark.timeout(FRESH_MACHINE_SECONDS)
def test_the_compose_stack_builds_starts_and_serves_through_its_front_door():
    result = subprocess.run(
        [str(ROOT / "scripts" / "compose-smoke")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=FRESH_MACHINE_SECONDS - 60,
    )
    # The phase table is the last thing it prints; shown with -s or -rA, and on failure.
    sys.stdout.write(result.stdout[-6000:])

    assert result.returncode == 0, result.stdout[-15000:]
    assert "compose smoke passed" in result.stdout
