"""compose.yml, the Dockerfiles, the Procfile and .env.example, checked statically: there is
no Docker engine on this machine, so these tests read the files and cross-check them with
the repository (commands exist, health checks and start order hold, images are pinned,
every variable is documented)."""

import ast
import re
import shlex
import sys
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (ROOT / "compose.yml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict] = COMPOSE["services"]
APP_DOCKERFILE = "docker/app/Dockerfile"
HIGHCHARTS_DOCKERFILE = "docker/highcharts/Dockerfile"

APP_PROCESSES = {"web", "worker", "beat", "dataservice", "migrate"}
BACKING = {"postgres", "rabbitmq", "redis"}
ONE_SHOT = {"migrate"}
LONG_RUNNING = set(SERVICES) - ONE_SHOT
# A precise release, optionally followed by a variant and a digest. PostgreSQL numbers its
# releases major.minor since 10 (15.14 is a patch release); everything else major.minor.patch.
PINNED_TAG = re.compile(r"^\d+\.\d+\.\d+([.-][A-Za-z0-9.-]+)?(@sha256:[0-9a-f]{64})?$")
PINNED_POSTGRES_TAG = re.compile(r"^1\d\.\d+-[a-z]+(@sha256:[0-9a-f]{64})?$")


def procfile() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            entries[name.strip()] = command.strip()
    return entries


def dockerfile_instructions(path: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / path).read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, rest = line.partition(" ")
            pairs.append((instruction.upper(), rest.strip()))
    return pairs


def exec_form(arguments: str) -> list[str]:
    return yaml.safe_load(arguments) if arguments.startswith("[") else shlex.split(arguments)


def effective_command(service: dict) -> list[str]:
    """What the container runs: the image's ENTRYPOINT plus compose's command (or the CMD)."""
    instructions = dockerfile_instructions(service["build"]["dockerfile"])
    entrypoint = [exec_form(args) for name, args in instructions if name == "ENTRYPOINT"][-1:] or [[]]
    cmd = [exec_form(args) for name, args in instructions if name == "CMD"][-1:] or [[]]
    command = service.get("command", cmd[0])
    if isinstance(command, str):
        command = shlex.split(command)
    # tini only forwards signals; what matters is the program it starts.
    program = [part for part in entrypoint[0] if not part.endswith("tini") and part != "--"]
    return program + command


def documented_variables() -> set[str]:
    """Names in .env.example, set (`NAME=`) or shown with their default (`# NAME=`)."""
    pattern = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)
    return set(pattern.findall((ROOT / ".env.example").read_text()))


# --- commands --------------------------------------------------------------------------------


def test_it_defines_the_product_processes_and_the_backing_services():
    assert set(SERVICES) == APP_PROCESSES | {"highcharts"} | BACKING


@pytest.mark.parametrize("name", sorted(APP_PROCESSES))
def test_each_app_container_runs_the_same_scripts_run_entry_as_the_procfile(name):
    service = SERVICES[name]

    assert service["build"]["dockerfile"] == APP_DOCKERFILE
    assert effective_command(service) == ["scripts/run", name]
    if name != "migrate":  # the one-shot has no Procfile line: scripts/dev migrates itself
        assert procfile()[name] == f"scripts/run {name}"


def test_every_procfile_process_has_a_container():
    assert set(procfile()) <= set(SERVICES)


def test_scripts_run_handles_every_process_name_compose_and_the_procfile_use():
    script = (ROOT / "scripts" / "run").read_text()
    handled = set(re.findall(r"^\s*([a-z|]+)\)", script, re.MULTILINE))
    names = {part for case in handled for part in case.split("|")}

    assert (APP_PROCESSES | {"highcharts"}) <= names
    assert (ROOT / "scripts" / "run").stat().st_mode & 0o111


def test_the_export_server_container_runs_the_script_the_procfile_runs():
    service = SERVICES["highcharts"]
    run_case = re.search(
        r"^\s*highcharts\)\s*\n\s*exec (\S+)", (ROOT / "scripts" / "run").read_text(), re.MULTILINE
    )

    assert service["build"]["dockerfile"] == HIGHCHARTS_DOCKERFILE
    assert procfile()["highcharts"] == "scripts/run highcharts"
    assert run_case and run_case.group(1) == "scripts/highcharts"
    assert effective_command(service) == ["scripts/highcharts"]
    assert (ROOT / "scripts" / "highcharts").stat().st_mode & 0o111


@pytest.mark.parametrize("name", sorted(n for n, s in SERVICES.items() if "build" in s))
def test_every_built_service_points_at_a_dockerfile_in_the_repo(name):
    build = SERVICES[name]["build"]

    assert (ROOT / build["context"] / build["dockerfile"]).is_file()


# --- health and start order ----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(LONG_RUNNING))
def test_every_long_running_service_has_a_health_check(name):
    check = SERVICES[name].get("healthcheck", {})

    assert check.get("test"), f"{name} has no healthcheck"
    assert check["test"][0] in ("CMD", "CMD-SHELL")
    assert not check.get("disable", False)
    assert {"interval", "timeout", "retries"} <= set(check)


def test_the_one_shot_migration_never_restarts():
    assert SERVICES["migrate"]["restart"] == "no"
    assert "healthcheck" not in SERVICES["migrate"]


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("web", "http://127.0.0.1:8000/healthz"),
        ("dataservice", "http://127.0.0.1:8100/health"),
        ("highcharts", "http://127.0.0.1:7801/health"),
    ],
)
def test_http_services_are_probed_on_their_health_url_without_curl(name, url):
    test = SERVICES[name]["healthcheck"]["test"]

    assert test[1] in ("python", "node"), "the slim images have no curl"
    assert url in " ".join(test)


def test_the_web_health_url_is_routed():
    from django.urls import resolve

    assert resolve("/healthz").url_name == "healthz"


@pytest.mark.parametrize("name", sorted(n for n, s in SERVICES.items() if "depends_on" in s))
def test_every_dependency_waits_on_a_condition(name):
    depends_on = SERVICES[name]["depends_on"]

    assert isinstance(depends_on, dict), f"{name}: list-form depends_on waits for nothing"
    for dependency, spec in depends_on.items():
        expected = "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
        assert spec.get("condition") == expected, f"{name} -> {dependency}"
        if expected == "service_healthy":
            assert "healthcheck" in SERVICES[dependency]


@pytest.mark.parametrize("name", ["web", "worker", "beat", "dataservice"])
def test_migrations_finish_before_the_app_processes_start(name):
    assert SERVICES[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_migrations_wait_for_a_healthy_database():
    assert SERVICES["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_the_worker_waits_for_every_service_its_tasks_call():
    assert {"postgres", "rabbitmq", "redis", "dataservice", "highcharts"} <= set(
        SERVICES["worker"]["depends_on"]
    )


# --- images ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BACKING))
def test_backing_services_use_official_images_pinned_to_a_release(name):
    image = SERVICES[name]["image"]
    repository, _, tag = image.partition(":")

    assert repository == name
    assert (PINNED_POSTGRES_TAG if name == "postgres" else PINNED_TAG).match(tag), image


@pytest.mark.parametrize("path", [APP_DOCKERFILE, HIGHCHARTS_DOCKERFILE])
def test_dockerfiles_use_pinned_base_images(path):
    stages = {
        args.split()[-1]
        for name, args in dockerfile_instructions(path)
        if name == "FROM" and " AS " in args.upper()
    }
    bases = [args.split()[0] for name, args in dockerfile_instructions(path) if name == "FROM"]

    assert bases
    for base in bases:
        if base in stages:
            continue  # an earlier stage of the same file
        _, _, tag = base.partition(":")
        assert PINNED_TAG.match(tag), f"{path}: {base} is not pinned to a release"
        assert "latest" not in tag


@pytest.mark.parametrize("path", [APP_DOCKERFILE, HIGHCHARTS_DOCKERFILE])
def test_dockerfiles_run_as_a_non_root_user(path):
    users = [args for name, args in dockerfile_instructions(path) if name == "USER"]

    assert users, f"{path} has no USER"
    assert users[-1].split(":")[0] not in ("root", "0")


def test_the_app_image_is_multi_stage_on_python_3_11_slim_bookworm():
    froms = [args for name, args in dockerfile_instructions(APP_DOCKERFILE) if name == "FROM"]

    assert len(froms) >= 2
    assert all(re.match(r"python:3\.11\.\d+-slim-bookworm\b", line) for line in froms)


def test_the_app_image_installs_the_locked_runtime_dependencies_and_collects_static_files():
    runs = " ".join(args for name, args in dockerfile_instructions(APP_DOCKERFILE) if name == "RUN")

    assert "-c requirements.lock" in runs
    assert "/app/.venv" in runs
    assert "collectstatic" in runs
    assert "DJANGO_SECRET_KEY=" in runs


def test_the_app_image_defaults_to_production_settings():
    env = " ".join(args for name, args in dockerfile_instructions(APP_DOCKERFILE) if name == "ENV")

    assert "DJANGO_SETTINGS_MODULE=project.settings.production" in env


def test_app_code_imports_only_what_the_image_installs():
    """The image gets [project].dependencies only (no test tools): an import of anything else
    in apps/ or project/ would crash the containers at start-up."""
    import tomllib

    runtime = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    installed: set[str] = set()
    pending = [Requirement(line) for line in runtime]
    while pending:
        requirement = pending.pop()
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        if name in installed:
            continue
        installed.add(name)
        for line in metadata.requires(requirement.name) or []:
            dependency = Requirement(line)
            extras = requirement.extras or {""}
            if dependency.marker is None or any(
                dependency.marker.evaluate({"extra": extra}) for extra in extras
            ):
                pending.append(dependency)

    providers = metadata.packages_distributions()
    missing = {}
    for path in [*ROOT.glob("apps/**/*.py"), *ROOT.glob("project/**/*.py")]:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top in ("apps", "project"):
                    continue
                dists = {re.sub(r"[-_.]+", "-", d).lower() for d in providers.get(top, [])}
                if not dists & installed:
                    missing.setdefault(top, []).append(str(path.relative_to(ROOT)))

    assert not missing, f"imported but not in [project].dependencies: {missing}"


# --- network and data ------------------------------------------------------------------------


def test_only_web_publishes_a_port():
    published = {name for name, service in SERVICES.items() if service.get("ports")}

    assert published == {"web"}
    assert SERVICES["web"]["ports"] == ["${WEB_PUBLISHED_PORT:-8000}:8000"]
    assert not any(service.get("network_mode") == "host" for service in SERVICES.values())


def test_postgres_keeps_its_data_in_a_named_volume():
    mounts = SERVICES["postgres"]["volumes"]
    volume, _, target = mounts[0].partition(":")

    assert target == "/var/lib/postgresql/data"
    assert volume in COMPOSE["volumes"]
    assert not volume.startswith((".", "/"))


@pytest.mark.parametrize("name", sorted(APP_PROCESSES))
def test_app_containers_bind_all_interfaces_and_reach_services_by_name(name):
    env = SERVICES[name]["environment"]

    assert env["DJANGO_SETTINGS_MODULE"] == "project.settings.production"
    assert env["WEB_HOST"] == "0.0.0.0"
    assert env["DATASERVICE_HOST"] == "0.0.0.0"
    assert env["POSTGRES_HOST"] == "postgres"
    assert urlsplit(env["REDIS_URL"]).hostname == "redis"
    assert env["CELERY_BROKER_URL"].endswith("@rabbitmq:5672//")
    assert urlsplit(env["DATASERVICE_URL"]).hostname == "dataservice"
    assert urlsplit(env["EXPORT_SERVER_URL"]).hostname == "highcharts"
    assert {"path": ".env", "required": False} in SERVICES[name]["env_file"]


def test_the_export_server_binds_all_interfaces_inside_its_container():
    assert SERVICES["highcharts"]["environment"]["EXPORT_SERVER_HOST"] == "0.0.0.0"


def test_secrets_have_no_default_in_compose():
    for name in ("DJANGO_SECRET_KEY", "POSTGRES_PASSWORD", "RABBITMQ_PASSWORD"):
        uses = re.findall(r"\$\{" + name + r"(:?[-?][^}]*)?\}", COMPOSE_TEXT)
        assert uses, name
        assert all(use.startswith((":?", "?")) for use in uses), f"{name} must be required, not defaulted"


# --- configuration is documented ---------------------------------------------------------------


def test_every_variable_compose_interpolates_is_in_env_example():
    interpolated = set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", COMPOSE_TEXT))

    assert interpolated
    assert interpolated <= documented_variables(), interpolated - documented_variables()


def test_every_variable_the_code_reads_is_in_env_example():
    read: set[str] = set()
    call = re.compile(
        r"""(?:env_(?:str|int|float|bool|list)|os\.environ\.get|os\.getenv)\(\s*['"]([A-Z][A-Z0-9_]*)['"]"""
    )
    for path in [*ROOT.glob("apps/**/*.py"), *ROOT.glob("project/**/*.py")]:
        read |= set(call.findall(path.read_text()))
        read |= set(re.findall(r"""os\.environ\[\s*['"]([A-Z][A-Z0-9_]*)['"]\s*\]""", path.read_text()))
    for script in ("run", "dev", "highcharts"):
        read |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]*):-", (ROOT / "scripts" / script).read_text()))
    # Process plumbing, not configuration.
    read -= {"TMPDIR", "FORCE_COLOR", "PATH"}

    assert read <= documented_variables(), (
        f"add to .env.example and docs/deploy.md: {sorted(read - documented_variables())}"
    )


def test_every_variable_in_env_example_is_in_the_deploy_docs_table():
    docs = (ROOT / "docs" / "deploy.md").read_text()
    in_table = set(re.findall(r"^\|\s*`([A-Z][A-Z0-9_]*)`", docs, re.MULTILINE))

    assert documented_variables() <= in_table, sorted(documented_variables() - in_table)


def test_env_example_holds_no_secret_values():
    values = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", (ROOT / ".env.example").read_text(), re.MULTILINE))

    assert values["DJANGO_SECRET_KEY"] == ""
    assert values["POSTGRES_PASSWORD"] == ""
    assert values["RABBITMQ_PASSWORD"] == ""


def test_dockerignore_keeps_local_state_and_secrets_out_of_the_images():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}

    assert {".git", ".venv", "**/node_modules", "var", ".env"} <= ignored
