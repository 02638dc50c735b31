"""compose.yml, the Dockerfiles, the Procfile and .env.example, checked statically: there is
no Docker engine on this machine, so these tests validate compose.yml against the Compose
Specification's own JSON schema and cross-check the files with the repository (commands
exist, health checks and start order hold, images are pinned, networks keep each service to
what it needs, every variable is documented)."""

import ast
import json
import os
import re
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (ROOT / "compose.yml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict] = COMPOSE["services"]
APP_DOCKERFILE = "docker/app/Dockerfile"
HIGHCHARTS_DOCKERFILE = "docker/highcharts/Dockerfile"

APP_PROCESSES = {"web", "ws", "worker", "beat", "dataservice", "migrate"}
SCALED = {"web", "ws", "worker"}
BACKING = {"postgres", "rabbitmq", "redis"}
ONE_SHOT = {"migrate"}
LONG_RUNNING = set(SERVICES) - ONE_SHOT
# A precise release, optionally followed by a variant and a digest. PostgreSQL numbers its
# releases major.minor since 10 (15.14 is a patch release); everything else major.minor.patch.
PINNED_TAG = re.compile(r"^\d+\.\d+\.\d+([.-][A-Za-z0-9.-]+)?(@sha256:[0-9a-f]{64})?$")
PINNED_POSTGRES_TAG = re.compile(r"^1\d\.\d+-[a-z]+(@sha256:[0-9a-f]{64})?$")
# Debian numbers its point releases major.minor (12.12).
PINNED_DEBIAN_TAG = re.compile(r"^1\d\.\d+-slim(@sha256:[0-9a-f]{64})?$")


def compose_schema() -> dict:
    """The Compose Specification's JSON schema (compose-spec/compose-spec, schema/compose-spec.json)
    as check-jsonschema vendors it."""
    from importlib.resources import files

    return json.loads((files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json").read_text())


def procfile() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            entries[name.strip()] = command.strip()
    return entries


def dockerfile_instructions(path: str, *, target: str | None = None) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped; with a
    target, the global ARGs and that stage only."""
    text = re.sub(r"\\\n", " ", (ROOT / path).read_text())
    pairs = []
    stage = None
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            instruction, _, rest = line.partition(" ")
            if instruction.upper() == "FROM":
                stage = rest.split()[-1] if " AS " in rest.upper() else None
            if target is None or (stage is None and instruction.upper() == "ARG") or stage == target:
                pairs.append((instruction.upper(), rest.strip()))
    return pairs


def base_image(path: str, from_arguments: str) -> str:
    """The image a FROM line names, with a build argument replaced by its default."""
    image = from_arguments.split()[0]
    defaults = dict(
        args.split("=", 1) for name, args in dockerfile_instructions(path) if name == "ARG" and "=" in args
    )
    return re.sub(r"\$\{(\w+)\}", lambda m: defaults[m[1]], image)


def exec_form(arguments: str) -> list[str]:
    return yaml.safe_load(arguments) if arguments.startswith("[") else shlex.split(arguments)


def effective_command(service: dict) -> list[str]:
    """What the container runs: the image's ENTRYPOINT plus compose's command (or the CMD)."""
    instructions = dockerfile_instructions(
        service["build"]["dockerfile"], target=service["build"].get("target")
    )
    entrypoint = [exec_form(args) for name, args in instructions if name == "ENTRYPOINT"][-1:] or [[]]
    cmd = [exec_form(args) for name, args in instructions if name == "CMD"][-1:] or [[]]
    command = service.get("command", cmd[0])
    if isinstance(command, str):
        command = shlex.split(command)
    # tini only forwards signals; what matters is the program it starts.
    program = [part for part in entrypoint[0] if not part.endswith("tini") and part != "--"]
    return program + command


def interpolated(value: str) -> str:
    """A compose value as compose would pass it, every ${...} filled with a sample."""
    return re.sub(r"\$\{[^}]*\}", "sample", value)


def documented_variables() -> set[str]:
    """Names in .env.example, set (`NAME=`) or shown with their default (`# NAME=`)."""
    pattern = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)
    return set(pattern.findall((ROOT / ".env.example").read_text()))


# --- commands --------------------------------------------------------------------------------


def test_it_is_valid_under_the_compose_specification_json_schema():
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema, format_checker=jsonschema.FormatChecker())

    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(COMPOSE)]
    assert not errors, errors


def test_the_schema_check_catches_a_misspelt_key():
    # The other half of the proof: the schema is strict, not a formality.
    schema = compose_schema()
    broken = {**COMPOSE, "services": {**SERVICES, "web": {**SERVICES["web"], "restrat": "always"}}}

    assert not jsonschema.validators.validator_for(schema)(schema).is_valid(broken)


def test_it_defines_the_product_processes_and_the_backing_services():
    assert set(SERVICES) == APP_PROCESSES | {"proxy", "highcharts"} | BACKING


@pytest.mark.parametrize("name", sorted(APP_PROCESSES))
def test_each_app_container_runs_the_same_scripts_run_entry_as_the_procfile(name):
    service = SERVICES[name]

    assert service["build"]["dockerfile"] == APP_DOCKERFILE
    assert service["build"]["target"] == "runtime"
    assert effective_command(service) == ["scripts/run", name]
    if name != "migrate":  # the one-shot has no Procfile line: scripts/dev migrates itself
        assert procfile()[name] == f"scripts/run {name}"


def test_the_proxy_container_runs_scripts_run_proxy_like_the_procfile():
    service = SERVICES["proxy"]

    assert service["build"] == {**service["build"], "dockerfile": APP_DOCKERFILE, "target": "proxy"}
    assert effective_command(service) == ["scripts/run", "proxy"]
    assert procfile()["proxy"] == "scripts/run proxy"


def test_every_procfile_process_has_a_container():
    assert set(procfile()) <= set(SERVICES)


def test_scripts_run_handles_every_process_name_compose_and_the_procfile_use():
    script = (ROOT / "scripts" / "run").read_text()
    handled = set(re.findall(r"^\s*([a-z|]+)\)", script, re.MULTILINE))
    names = {part for case in handled for part in case.split("|")}

    assert (APP_PROCESSES | {"proxy", "highcharts"}) <= names
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
        ("ws", "http://127.0.0.1:8000/healthz"),
        ("dataservice", "http://127.0.0.1:8100/health"),
        ("highcharts", "http://127.0.0.1:7801/health"),
    ],
)
def test_http_services_are_probed_on_their_health_url_without_curl(name, url):
    test = SERVICES[name]["healthcheck"]["test"]

    assert test[1] in ("python", "node"), "the slim images have no curl"
    assert url in " ".join(test)


def test_the_proxy_is_probed_on_its_own_health_location():
    test = SERVICES["proxy"]["healthcheck"]["test"]
    locations = (ROOT / "docker" / "nginx" / "locations.conf.template").read_text()

    assert test[:2] == ["CMD", "curl"] and "http://127.0.0.1:8000/proxy-health" in test
    assert "location = /proxy-health" in locations
    assert "curl" in " ".join(args for name, args in dockerfile_instructions(APP_DOCKERFILE, target="proxy"))


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


@pytest.mark.parametrize("name", ["web", "ws", "worker", "beat", "dataservice"])
def test_migrations_finish_before_the_app_processes_start(name):
    assert SERVICES[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_migrations_wait_for_a_healthy_database():
    assert SERVICES["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_the_proxy_waits_for_healthy_web_and_ws():
    assert SERVICES["proxy"]["depends_on"] == {
        "web": {"condition": "service_healthy"},
        "ws": {"condition": "service_healthy"},
    }


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
    bases = [base_image(path, args) for name, args in dockerfile_instructions(path) if name == "FROM"]

    assert bases
    for base in bases:
        if base in stages:
            continue  # an earlier stage of the same file
        repository, _, tag = base.partition(":")
        pattern = PINNED_DEBIAN_TAG if repository == "debian" else PINNED_TAG
        assert pattern.match(tag), f"{path}: {base} is not pinned to a release"
        assert "latest" not in tag


@pytest.mark.parametrize("path", [APP_DOCKERFILE, HIGHCHARTS_DOCKERFILE])
def test_base_images_are_build_arguments_with_the_pinned_default(path):
    """A smoke test without registry access substitutes images it built itself, and compose
    passes the same defaults."""
    froms = [args.split()[0] for name, args in dockerfile_instructions(path) if name == "FROM"]
    arguments = {re.fullmatch(r"\$\{(\w+)\}", image)[1] for image in froms if image.startswith("$")}
    defaults = dict(
        args.split("=", 1) for name, args in dockerfile_instructions(path) if name == "ARG" and "=" in args
    )

    assert arguments
    for service in SERVICES.values():
        build = service.get("build")
        if build and build["dockerfile"] == path:
            for name, value in build.get("args", {}).items():
                assert value == f"${{{name}:-{defaults[name]}}}"


@pytest.mark.parametrize(
    ("path", "target"),
    [(APP_DOCKERFILE, "runtime"), (APP_DOCKERFILE, "proxy"), (HIGHCHARTS_DOCKERFILE, None)],
)
def test_dockerfiles_run_as_a_non_root_user(path, target):
    users = [args for name, args in dockerfile_instructions(path, target=target) if name == "USER"]

    assert users, f"{path} has no USER"
    assert users[-1].split(":")[0] not in ("root", "0")


def test_the_app_image_is_multi_stage_on_python_3_11_slim_bookworm_and_the_proxy_on_debian_12():
    froms = [args for name, args in dockerfile_instructions(APP_DOCKERFILE) if name == "FROM"]
    stages = {args.split()[-1]: base_image(APP_DOCKERFILE, args) for args in froms}

    assert re.match(r"python:3\.11\.\d+-slim-bookworm$", stages["builder"])
    assert re.match(r"python:3\.11\.\d+-slim-bookworm$", stages["runtime"])
    assert stages["static"] == "builder"
    assert re.match(r"debian:12\.\d+-slim$", stages["proxy"])
    assert froms[-1].endswith("AS runtime"), "runtime must stay the default (last) target"


def test_the_proxy_image_carries_nginx_its_templates_and_the_collected_static_files():
    proxy = dockerfile_instructions(APP_DOCKERFILE, target="proxy")
    runs = " ".join(args for name, args in proxy if name == "RUN")
    copies = [args for name, args in proxy if name == "COPY"]

    assert "nginx-light" in runs and "gettext-base" in runs
    assert "docker/nginx docker/nginx" in copies
    assert "--from=static /app/staticfiles /app/staticfiles" in copies


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
    # The test settings are loaded by the test suite only (containers run production settings),
    # and may use test tools such as coverage.
    test_only = {ROOT / "project" / "settings" / "test.py"}
    for path in {*ROOT.glob("apps/**/*.py"), *ROOT.glob("project/**/*.py")} - test_only:
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


def test_only_the_proxy_publishes_ports_and_on_loopback_unless_told_otherwise():
    published = {name for name, service in SERVICES.items() if service.get("ports")}

    assert published == {"proxy"}
    assert SERVICES["proxy"]["ports"] == [
        "${PROXY_BIND_ADDRESS:-127.0.0.1}:${WEB_PUBLISHED_PORT:-8000}:8000",
        "${PROXY_BIND_ADDRESS:-127.0.0.1}:${TLS_PUBLISHED_PORT:-8443}:8443",
    ]
    assert not any(service.get("network_mode") == "host" for service in SERVICES.values())


@pytest.mark.parametrize("name", sorted(SCALED))
def test_scaled_services_have_no_fixed_name_or_host_port(name):
    # `docker compose up --scale web=3 --scale ws=2 --scale worker=4` needs both.
    assert "container_name" not in SERVICES[name]
    assert "ports" not in SERVICES[name]
    assert "hostname" not in SERVICES[name]


def test_the_proxy_finds_the_replicas_of_web_and_ws_through_compose_dns(tmp_path):
    env = SERVICES["proxy"]["environment"]
    locations = (ROOT / "docker" / "nginx" / "locations.conf.template").read_text()

    assert env["PROXY_WEB_UPSTREAM"] == "web:8000" and env["PROXY_WS_UPSTREAM"] == "ws:8000"
    # A variable in proxy_pass makes nginx resolve the name at run time, not once at start.
    assert "proxy_pass $web_upstream;" in locations and "proxy_pass $ws_upstream;" in locations
    # Upstreams given by name are resolved through the engine's DNS, the first nameserver of
    # resolv.conf (Docker: 127.0.0.11, podman: aardvark-dns); addresses need no resolver.
    nameserver = re.search(r"^nameserver\s+(\S+)", Path("/etc/resolv.conf").read_text(), re.MULTILINE)[1]
    nameserver = f"[{nameserver}]" if ":" in nameserver else nameserver
    for upstreams, resolver in (
        ({"PROXY_WEB_UPSTREAM": "web:8000", "PROXY_WS_UPSTREAM": "ws:8000"}, True),
        ({}, False),
    ):
        var_dir = tmp_path / f"resolver-{resolver}"
        subprocess.run(
            [str(ROOT / "scripts" / "run"), "proxy-check"],
            check=False,  # nginx -t may fail to resolve `web` here; the rendering is what counts
            cwd=ROOT,
            env={"PATH": os.environ["PATH"], "PROXY_VAR_DIR": str(var_dir), **upstreams},
            capture_output=True,
            timeout=30,
        )
        rendered = (var_dir / "nginx.conf").read_text()
        assert (f"resolver {nameserver} valid=5s ipv6=off;" in rendered) is resolver


def network_members() -> dict[str, set[str]]:
    members: dict[str, set[str]] = {name: set() for name in COMPOSE["networks"]}
    for name, service in SERVICES.items():
        assert "networks" in service, f"{name} would join the default network"
        for network in service["networks"]:
            members[network].add(name)
    return members


def test_each_network_joins_only_the_services_that_must_talk():
    assert network_members() == {
        "public": {"proxy"},
        "edge": {"proxy", "web", "ws"},
        "backend": APP_PROCESSES | BACKING,
        "services": {"worker", "dataservice", "highcharts"},
        "images": {"web", "highcharts"},
    }


def test_the_web_container_reaches_the_export_server_it_draws_run_images_with():
    shared = set(SERVICES["web"]["networks"]) & set(SERVICES["highcharts"]["networks"])
    assert shared and all(COMPOSE["networks"][name]["internal"] for name in shared)
    assert SERVICES["web"]["depends_on"]["highcharts"] == {"condition": "service_healthy"}


def test_only_the_proxys_network_has_a_way_out():
    for name, network in COMPOSE["networks"].items():
        assert (network or {}).get("internal", False) is (name != "public"), name


def test_redis_requires_a_password_that_the_app_processes_send():
    redis = SERVICES["redis"]
    app_env = SERVICES["web"]["environment"]

    assert "requirepass" in redis["command"][-1]
    assert redis["environment"]["REDISCLI_AUTH"].startswith("${REDIS_PASSWORD:?")  # its own health check
    assert app_env["REDIS_URL"].startswith("redis://:${REDIS_PASSWORD:?")
    assert urlsplit(interpolated(app_env["REDIS_URL"])).password == "sample"


def test_the_redis_password_is_on_no_command_line():
    """`ps` shows every process's arguments: the password reaches redis in a file instead."""
    command = " ".join(SERVICES["redis"]["command"])
    assert "REDIS_PASSWORD" not in command and "--requirepass" not in command
    assert "$$REDISCLI_AUTH" in command  # expanded by the container's shell, not by compose
    assert "umask 077" in command


def test_the_data_service_connects_as_its_own_role():
    env = SERVICES["dataservice"]["environment"]

    assert env["DATASERVICE_POSTGRES_USER"] == "calcboard_points"
    assert env["DATASERVICE_POSTGRES_PASSWORD"].startswith("${DATASERVICE_POSTGRES_PASSWORD:?")
    assert SERVICES["migrate"]["environment"]["DATASERVICE_POSTGRES_USER"] == "calcboard_points"


def test_the_data_service_gets_no_secret_key_broker_or_redis_credentials():
    service = SERVICES["dataservice"]
    assert "env_file" not in service  # .env holds every secret
    env = service["environment"]
    for secret in (
        "DJANGO_SECRET_KEY",
        "RABBITMQ_PASSWORD",
        "REDIS_PASSWORD",
        "CELERY_BROKER_URL",
        "REDIS_URL",
        "POSTGRES_PASSWORD",
        "POSTGRES_SUPERUSER_PASSWORD",
    ):
        assert secret not in env, secret
        assert all("${" + secret not in str(value) for value in env.values()), secret
    assert service["environment"]["DATASERVICE_LISTEN"] == "0.0.0.0:8100"
    assert service["environment"]["DJANGO_SETTINGS_MODULE"] == "project.settings.production"


def test_the_application_connects_as_its_own_role_and_only_migrate_gets_the_superuser():
    postgres = SERVICES["postgres"]["environment"]
    assert postgres["POSTGRES_USER"] == "postgres"  # the image makes this one the superuser
    assert postgres["POSTGRES_PASSWORD"].startswith("${POSTGRES_SUPERUSER_PASSWORD:?")
    for name in APP_PROCESSES - {"dataservice"}:
        env = SERVICES[name]["environment"]
        assert interpolated(env["POSTGRES_USER"]) != "postgres" and "calcboard" in env["POSTGRES_USER"], name
        assert env["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?"), name
    holders = {
        name
        for name, service in SERVICES.items()
        if "POSTGRES_SUPERUSER_PASSWORD" in str(service.get("environment"))
    }
    assert holders == {"migrate", "postgres"}
    assert SERVICES["migrate"]["environment"]["POSTGRES_SUPERUSER"] == postgres["POSTGRES_USER"]
    run = (ROOT / "scripts" / "run").read_text()
    assert run.index("manage.py database_roles_ensure") < run.index("manage.py migrate --noinput")


def test_postgres_keeps_its_data_in_a_named_volume():
    mounts = SERVICES["postgres"]["volumes"]
    volume, _, target = mounts[0].partition(":")

    assert target == "/var/lib/postgresql/data"
    assert volume in COMPOSE["volumes"]
    assert not volume.startswith((".", "/"))


@pytest.mark.parametrize("name", sorted(APP_PROCESSES - {"dataservice"}))
def test_app_containers_bind_all_interfaces_and_reach_services_by_name(name):
    env = SERVICES[name]["environment"]

    assert env["DJANGO_SETTINGS_MODULE"] == "project.settings.production"
    assert env["WEB_LISTEN"] == env["WS_LISTEN"] == "0.0.0.0:8000"
    assert env["DATASERVICE_LISTEN"] == "0.0.0.0:8100"
    assert env["POSTGRES_HOST"] == "postgres"
    assert urlsplit(interpolated(env["REDIS_URL"])).hostname == "redis"
    assert env["CELERY_BROKER_URL"].endswith("@rabbitmq:5672//")
    assert urlsplit(env["DATASERVICE_URL"]).hostname == "dataservice"
    assert urlsplit(env["EXPORT_SERVER_URL"]).hostname == "highcharts"
    assert {"path": ".env", "required": False} in SERVICES[name]["env_file"]


def test_the_export_server_binds_all_interfaces_inside_its_container():
    assert SERVICES["highcharts"]["environment"]["EXPORT_SERVER_LISTEN"] == "0.0.0.0:7801"


def test_secrets_have_no_default_in_compose():
    for name in (
        "DJANGO_SECRET_KEY",
        "POSTGRES_PASSWORD",
        "POSTGRES_SUPERUSER_PASSWORD",
        "RABBITMQ_PASSWORD",
        "REDIS_PASSWORD",
        "DATASERVICE_POSTGRES_PASSWORD",
    ):
        uses = re.findall(r"\$\{" + name + r"(:?[-?][^}]*)?\}", COMPOSE_TEXT)
        assert uses, name
        assert all(use.startswith((":?", "?")) for use in uses), f"{name} must be required, not defaulted"


# --- configuration is documented ---------------------------------------------------------------

# Process plumbing, not configuration: the platform's own, and the data service's note to its
# settings of the module it was started with (apps/dataservice/asgi.py).
PLUMBING = {"TMPDIR", "FORCE_COLOR", "PATH", "DATASERVICE_PARENT_SETTINGS"}
OPERATOR_LIMIT = 35
WIRING_HEADING = "### Set by compose and the scripts, not in .env"


def variables_the_code_reads() -> set[str]:
    """Every environment variable apps/, project/, docker/'s Python and the process scripts read."""
    read: set[str] = set()
    call = re.compile(
        r"""(?:env_(?:str|int|bool|list)|os\.environ\.(?:get|setdefault)|os\.getenv)\(\s*['"]([A-Z][A-Z0-9_]*)['"]"""
    )
    for path in [*ROOT.glob("apps/**/*.py"), *ROOT.glob("project/**/*.py"), *ROOT.glob("docker/**/*.py")]:
        if "node_modules" in path.parts:
            continue
        read |= set(call.findall(path.read_text()))
        read |= set(re.findall(r"""os\.environ\[\s*['"]([A-Z][A-Z0-9_]*)['"]\s*\]""", path.read_text()))
    for script in ("run", "dev", "highcharts"):
        read |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]*):-", (ROOT / "scripts" / script).read_text()))
    return read - PLUMBING


def deploy_docs_tables() -> tuple[set[str], set[str]]:
    """The variables of docs/reference/settings.md's "Environment variables": the operator
    tables (what .env holds) and the wiring table (what compose and the scripts set)."""
    docs = (ROOT / "docs" / "reference" / "settings.md").read_text()
    section = docs[docs.index("## Environment variables") :]
    section = section[: section.find("\n## ", 1) if "\n## " in section[1:] else len(section)]
    operator, _, wiring = section.partition(WIRING_HEADING)
    row = re.compile(r"^\|\s*`([A-Z][A-Z0-9_]*)`", re.MULTILINE)
    assert wiring, f"docs/reference/settings.md has no {WIRING_HEADING!r} table"
    return set(row.findall(operator)), set(row.findall(wiring))


def test_env_example_lists_at_most_35_variables():
    assert len(documented_variables()) <= OPERATOR_LIMIT, sorted(documented_variables())


def test_every_variable_compose_interpolates_is_in_env_example():
    interpolated = set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", COMPOSE_TEXT))

    assert interpolated
    assert interpolated <= documented_variables(), interpolated - documented_variables()


def test_the_deploy_docs_operator_tables_are_exactly_env_example():
    operator, _ = deploy_docs_tables()

    assert operator == documented_variables(), {
        "in .env.example, not in the docs": sorted(documented_variables() - operator),
        "in the docs, not in .env.example": sorted(operator - documented_variables()),
    }


def test_every_variable_the_code_reads_is_an_operators_or_wiring_and_nothing_else_is_documented():
    operator, wiring = deploy_docs_tables()
    read = variables_the_code_reads()

    assert not operator & wiring, sorted(operator & wiring)
    assert read <= operator | wiring, f"read but documented nowhere: {sorted(read - operator - wiring)}"
    # No stale rows: every documented variable is read by the code (compose's own build
    # arguments and published ports are read by compose itself).
    compose_reads = set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", COMPOSE_TEXT))
    assert wiring <= read, f"documented as wiring, read by nothing: {sorted(wiring - read)}"
    assert operator <= read | compose_reads, (
        f"in .env.example, read by nothing: {sorted(operator - read - compose_reads)}"
    )


def test_the_wiring_variables_are_not_in_env_example():
    _, wiring = deploy_docs_tables()

    assert not wiring & documented_variables(), sorted(wiring & documented_variables())


def test_the_proxy_refuses_the_same_body_size_as_django():
    from django.conf import settings

    constant = re.search(r"PROXY_MAX_BODY_BYTES=(\d+)", (ROOT / "scripts" / "run").read_text())

    assert constant and int(constant[1]) == settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def test_env_example_holds_no_secret_values():
    values = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", (ROOT / ".env.example").read_text(), re.MULTILINE))

    assert values["DJANGO_SECRET_KEY"] == ""
    assert values["POSTGRES_PASSWORD"] == ""
    assert values["POSTGRES_SUPERUSER_PASSWORD"] == ""
    assert values["RABBITMQ_PASSWORD"] == ""
    assert values["REDIS_PASSWORD"] == ""
    assert values["DATASERVICE_POSTGRES_PASSWORD"] == ""
    # Empty: the compose stack's migrate generates the first admin's password and prints it.
    assert values["DJANGO_SUPERUSER_PASSWORD"] == ""


def test_dockerignore_keeps_local_state_and_secrets_out_of_the_images():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}

    assert {".git", ".venv", "**/node_modules", "var", ".env", "docker/nginx/tls"} <= ignored


def test_env_example_ships_the_safe_production_default_for_https():
    """Copied as is, .env keeps the redirect, Secure cookies and HSTS on; a plain-HTTP trial
    turns them off on purpose."""
    values = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert values.get("DJANGO_HTTPS", "true").lower() in {"true", "1", "yes", "on"}
    assert re.search(r"^# DJANGO_HTTPS=true$", (ROOT / ".env.example").read_text(), re.MULTILINE)
