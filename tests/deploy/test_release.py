"""scripts/release: the hand-over archive the first task asks for."""

import subprocess
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_release_archive_holds_the_source_the_lock_files_compose_and_install_notes(tmp_path):
    result = subprocess.run(
        [str(ROOT / "scripts" / "release")],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "RELEASE_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    archive = Path(result.stdout.strip())

    assert archive == tmp_path / "calcboard-1.0.0.tar.gz"
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        install = tar.extractfile("calcboard-1.0.0/INSTALL.md").read().decode()
    for required in (
        "compose.yml",
        "requirements.lock",
        "pyproject.toml",
        "docker/highcharts/package-lock.json",
        "docker/app/Dockerfile",
        "docker/nginx/nginx.conf.template",
        "scripts/run",
        "manage.py",
        "project/settings/production.py",
        "apps/calculations/kernel.py",
        "README.md",
        ".env.example",
    ):
        assert f"calcboard-1.0.0/{required}" in names, required
    assert not [n for n in names if "/.venv/" in n or n.endswith("/.env") or "node_modules" in n]
    assert "docker compose up" in install and "scripts/dev" in install
