"""A TypeScript client against the real API: types generated from the live OpenAPI document by
openapi-typescript, a small program (tests/clients/calcboard-client.mts) using them through
openapi-fetch, compiled with `tsc --strict` and run with node against a real server. The
npm packages are pinned in tests/clients/package-lock.json (scripts/install-client-tools)."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from apps.accounts.services import api_token_create
from tests.conftest import permissions_grant

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ROOT / "tests/clients"
BIN = CLIENTS / "node_modules/.bin"


@pytest.fixture(scope="module")
def tools() -> Path:
    subprocess.run([str(ROOT / "scripts/install-client-tools")], check=True, timeout=600)
    return BIN


def project(tmp_path: Path, live_server, *programs: str) -> Path:
    """A folder with the pinned node_modules, the live schema's types and `programs`."""
    (tmp_path / "node_modules").symlink_to(CLIENTS / "node_modules")
    generated = subprocess.run(
        [
            str(BIN / "openapi-typescript"),
            f"{live_server.url}/api/openapi.json",
            "-o",
            str(tmp_path / "schema.d.ts"),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    config = json.loads((CLIENTS / "tsconfig.json").read_text())
    (tmp_path / "tsconfig.json").write_text(json.dumps({**config, "files": list(programs)}))
    for program in programs:
        shutil.copy(CLIENTS / program, tmp_path / program)
    return tmp_path


def tsc(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "tsc"), "-p", str(folder / "tsconfig.json")],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def token(transactional_db, django_user_model) -> str:
    user = django_user_model.objects.create_user(username="typescript", password="x-unused-password-1")
    permissions_grant(user, "view", "add", "change")
    return api_token_create(user=user, name="typescript")[1]


def test_a_typed_client_compiles_strictly_and_drives_the_real_api(tools, tmp_path, live_server, token):
    folder = project(tmp_path, live_server, "calcboard-client.mts")
    compiled = tsc(folder)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    ran = subprocess.run(
        ["node", str(folder / "out/calcboard-client.mjs")],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "CALCBOARD_URL": live_server.url, "CALCBOARD_TOKEN": token},
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    seen = json.loads(ran.stdout.strip().splitlines()[-1])

    calculation_id = seen["created"]["id"]
    assert seen["created"] == {
        "id": calculation_id,
        "status": 201,
        "location": f"/api/calculations/{calculation_id}",
    }
    assert seen["list"] == {"ids": [calculation_id], "count": 1, "page": 1, "page_size": 5}
    detail = seen["detail"]
    assert (detail["id"], detail["name"], detail["error"], detail["has_result"]) == (
        calculation_id,
        "typed client",
        None,
        False,
    )
    assert detail["launched_at"].endswith("Z") and len(detail["launched_at"]) == len(
        "2024-01-01T00:00:00.000000Z"
    )
    assert seen["refused"] == {"status": 422, "rules": [["page_size", "greater_than_equal"]]}
    assert seen["missing"] == {"status": 404, "rule": "not_found"}
    assert seen["functions"] == [{"id": seen["function_id"], "error": None}]


def test_the_generated_types_refuse_a_wrong_call(tools, tmp_path, live_server, transactional_db):
    compiled = tsc(project(tmp_path, live_server, "wrong-types.mts"))
    assert compiled.returncode != 0
    errors = [line for line in compiled.stdout.splitlines() if "error TS" in line]
    assert any("page_size" in line or "string" in line for line in errors), compiled.stdout
    assert any('"lost"' in line for line in compiled.stdout.splitlines()), compiled.stdout
