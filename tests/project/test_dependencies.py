"""Dependencies point one way (docs: STYLE layout): domain apps -> jobs, integrations, accounts
-> core, and live -> jobs, accounts by signals and the registry; no domain app imports another.
Every import in a layer's modules, at any depth (inside functions too), is walked with ast."""

import ast
from pathlib import Path

import pytest

APPS = Path(__file__).resolve().parents[2] / "apps"

# Each layer and the apps it may import (itself included).
ALLOWED = {
    "core": {"core"},
    "jobs": {"jobs", "core"},
    "accounts": {"accounts", "core"},
    "live": {"live", "jobs", "accounts", "core"},
    # The data service's client checks a request with the service's own parser (apps.dataservice).
    "integrations": {"integrations", "dataservice", "core"},
    # The domain apps also use live's admin widget (`apps.live.admin`) in their change lists.
    # Calculations sit above wells: a well run forecasts a well's history, and the wells' admin
    # gains its forecasts from here (apps.calculations.admin_wells); wells never import calculations.
    "calculations": {"calculations", "wells", "jobs", "integrations", "accounts", "live", "core"},
    "charts": {"charts", "jobs", "integrations", "accounts", "live", "core"},
    "wells": {"wells", "jobs", "integrations", "accounts", "live", "core"},
}

# Known exceptions, each with its reason. The core migration that creates the data service's
# PostgreSQL role calls the data service's helper: an applied migration stays where it ran.
EXCEPTIONS = {
    "core/migrations/0001_dataservice_role.py": {"dataservice"},
}


def imported_apps(package: str) -> dict[str, set[str]]:
    """{module path: the apps.<x> it imports}."""
    found: dict[str, set[str]] = {}
    for path in sorted((APPS / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            names |= {module.split(".")[1] for module in modules if module.startswith("apps.")}
        found[str(path.relative_to(APPS))] = names
    return found


@pytest.mark.parametrize("layer", ALLOWED)
def test_a_layer_imports_no_higher_layer(layer):
    imports = imported_apps(layer)
    assert imports, f"apps/{layer} has no modules"
    wrong = {
        module: sorted(extra)
        for module, names in imports.items()
        if (extra := names - ALLOWED[layer] - EXCEPTIONS.get(module, set()))
    }
    assert wrong == {}


def test_the_walk_sees_imports_inside_functions(tmp_path, monkeypatch):
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "late.py").write_text("def f():\n    from apps.live.realtime import stream_group\n")
    monkeypatch.setattr(f"{__name__}.APPS", tmp_path)
    assert imported_apps("core") == {"core/late.py": {"live"}}
