"""The documentation site builds strictly (no broken link, no page left out of the nav), the
README stays short and its links resolve, every setting is documented, and the docs describe
the product rather than how it was made."""

import ast
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mkdocs.config import load_config

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
MKDOCS = Path(sys.executable).parent / "mkdocs"
README_MAX_LINES = 250


def nav_pages(nav: list) -> list[str]:
    """Every page path of an MkDocs nav, however deeply nested."""
    pages: list[str] = []
    for item in nav:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        if isinstance(value, list):
            pages += nav_pages(value)
        elif not re.match(r"[a-z]+://", value):
            pages.append(value)
    return pages


def git_status() -> str:
    return subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_the_site_builds_strictly_and_changes_no_file_in_the_checkout(tmp_path):
    before = git_status()
    result = subprocess.run(
        [str(MKDOCS), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "index.html").is_file()
    assert git_status() == before


def test_the_rest_reference_renders_every_operation_of_the_openapi_document(tmp_path):
    from project.api import api

    document = api.get_openapi_schema()
    spec = importlib.util.spec_from_file_location(
        "calcboard_docs_openapi_hook", DOCS / "hooks" / "openapi.py"
    )
    assert spec and spec.loader
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    rendered = hook.render(document)

    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert f"### `{method.upper()} {path}`" in rendered
            assert f"`{operation['operationId']}`" in rendered
    for name in document["components"]["schemas"]:
        assert f"{{#schema-{name.lower()}}}" in rendered
    assert hook.MARKER in (DOCS / "reference" / "openapi.md").read_text()


def test_every_page_under_docs_is_in_the_nav():
    config = load_config(str(ROOT / "mkdocs.yml"))
    in_nav = nav_pages(config["nav"])
    pages = sorted(str(path.relative_to(DOCS)) for path in DOCS.rglob("*.md") if "hooks" not in path.parts)

    assert [page for page in pages if page not in in_nav] == []
    assert [page for page in in_nav if not (DOCS / page).is_file()] == []
    assert len(in_nav) == len(set(in_nav))


def test_the_readme_is_short_and_its_links_resolve():
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)

    assert len(readme.splitlines()) <= README_MAX_LINES
    assert "scripts/dev" in readme and "scripts/test" in readme
    local = [target for target in targets if not re.match(r"[a-z]+:", target)]
    assert local, "the README links into the docs"
    assert [target for target in local if not (ROOT / target).exists()] == []


def _settings_names() -> set[str]:
    """Every setting the settings modules assign, and each job kind's (apps.jobs.registry)."""
    names: set[str] = set()
    for module in (ROOT / "project" / "settings").glob("*.py"):
        if module.name in {"__init__.py", "env.py"}:
            continue
        for node in ast.walk(ast.parse(module.read_text())):
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AnnAssign)
                else []
            )
            for target in targets:
                names |= {
                    n.id
                    for n in ast.walk(target)
                    if isinstance(n, ast.Name) and n.id.isupper() and not n.id.startswith("_")
                }
    from apps.jobs.registry import job_kinds

    names |= {name for kind in job_kinds for name in kind.setting_names}
    return names - {"T"}


def test_every_setting_is_in_the_settings_reference():
    reference = (DOCS / "reference" / "settings.md").read_text()

    assert sorted(name for name in _settings_names() if f"`{name}`" not in reference) == []


@pytest.mark.parametrize(
    "phrase", ["load average", "other engineers", "quiet machine", "other test runs", "TODO"]
)
def test_the_docs_describe_the_product_not_how_it_was_made(phrase):
    texts = {path: path.read_text() for path in [ROOT / "README.md", *DOCS.rglob("*.md")]}

    assert [
        str(path.relative_to(ROOT)) for path, text in texts.items() if phrase.lower() in text.lower()
    ] == []
