"""The compose smoke test: build every image, start compose.yml with podman, drive the stack
through its one published port, tear everything down. Run it with `scripts/compose-smoke`
(which installs podman first); docs/how-to/compose-smoke-test.md explains the phases.

No registry is reachable here, so the base images compose and the Dockerfiles name are built
as stand-ins from Debian's packages (docker/standins/), tagged with the names the files use,
in a podman storage that belongs to the smoke alone (CALCBOARD_SMOKE_CACHE, default
/var/cache/calcboard-smoke): the machine's own podman images are never touched, and base
images and built layers stay cached there between runs.

Every run has its own compose project name and published port and works on a copy of the
working tree (tracked and untracked files, not ignored ones) in a temporary folder holding the
generated .env, so a run collides neither with another run nor with a developer's stack or
.env. Exit status 0 only when every phase passed; on failure the reason and the last log
lines of the service that failed are printed, and the stack is removed either way.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import websockets
import yaml

ROOT = Path(__file__).resolve().parents[1]
STANDINS = ROOT / "docker" / "standins"
CACHE = Path(os.environ.get("CALCBOARD_SMOKE_CACHE", "/var/cache/calcboard-smoke"))
MINBASE_IMAGE = "localhost/calcboard-standin/debian-minbase:bookworm"
BASE_IMAGE = "localhost/calcboard-standin/debian:bookworm"
HOST_TRUST = Path("/etc/ssl/certs/ca-certificates.crt")
BASE_TARBALL = CACHE / "debian-bookworm-minbase.tar"
# Repository name of an official image -> the stand-in folder that replaces it.
STANDIN_FOR = {"debian": "debian", "python": "python", "node": "node", "postgres": "postgres",
               "rabbitmq": "rabbitmq", "redis": "redis"}
HEALTH_TIMEOUT = float(os.environ.get("CALCBOARD_SMOKE_HEALTH_TIMEOUT", "600"))
JOB_TIMEOUT = float(os.environ.get("CALCBOARD_SMOKE_JOB_TIMEOUT", "180"))


class SmokeError(Exception):
    """A phase failed; the message says what and why."""


# --- output -----------------------------------------------------------------------------

@dataclass
class Timer:
    phases: list[tuple[str, float, str]] = field(default_factory=list)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        print(f"\n=== {name}", flush=True)
        start = time.monotonic()
        outcome = "failed"
        try:
            yield
            outcome = "ok"
        finally:
            seconds = time.monotonic() - start
            self.phases.append((name, seconds, outcome))
            print(f"=== {name}: {outcome} in {seconds:.1f} s", flush=True)

    def report(self) -> str:
        width = max(len(name) for name, _, _ in self.phases)
        lines = ["", "phase".ljust(width) + "   seconds  outcome"]
        for name, seconds, outcome in self.phases:
            lines.append(f"{name.ljust(width)}  {seconds:8.1f}  {outcome}")
        lines.append("total".ljust(width) + f"  {sum(s for _, s, _ in self.phases):8.1f}")
        return "\n".join(lines)


def log(message: str) -> None:
    print(f"  {message}", flush=True)


# --- podman -----------------------------------------------------------------------------

def podman_environment() -> dict[str, str]:
    """The smoke's own podman configuration: the two settings this machine kind needs
    (no default ulimits, runc) and a storage and network setup of its own."""
    CACHE.mkdir(parents=True, exist_ok=True)
    containers_conf = CACHE / "containers.conf"
    containers_conf.write_text(
        "[containers]\n"
        "# podman's default nofile/nproc limits exceed this machine's hard limits.\n"
        "default_ulimits = []\n"
        "[engine]\n"
        "# crun fails here (cgroups v1 hybrid mode); runc works.\n"
        'runtime = "runc"\n'
        "[network]\n"
        "# netavark + aardvark-dns: service names resolve inside compose networks.\n"
        'network_backend = "netavark"\n'
    )
    storage_conf = CACHE / "storage.conf"
    storage_conf.write_text(
        f'[storage]\ndriver = "overlay"\ngraphroot = "{CACHE / "storage"}"\n'
        f'runroot = "/run/calcboard-smoke/storage"\n'
    )
    registries_conf = CACHE / "registries.conf"
    # Short names (postgres:15.14-bookworm) resolve to the stand-ins tagged docker.io/library/...;
    # nothing is ever pulled (every build and run passes --pull never or finds the image).
    registries_conf.write_text('unqualified-search-registries = ["docker.io"]\nshort-name-mode = "permissive"\n')
    # A clean environment: compose interpolates ${VAR} from the caller's environment before the
    # generated .env, so a POSTGRES_PASSWORD exported by a shell or a test run must not leak in.
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "TERM", "TMPDIR", "USER"}
    return {
        **{key: value for key, value in os.environ.items() if key in keep},
        "CONTAINERS_CONF": str(containers_conf),
        "CONTAINERS_STORAGE_CONF": str(storage_conf),
        "CONTAINERS_REGISTRIES_CONF": str(registries_conf),
    }


ENV: dict[str, str] = {}


def run(args: list[str], *, check: bool = True, capture: bool = False, input: bytes | None = None,
        timeout: float | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run a command with the smoke's podman environment; a failure raises SmokeError with the
    command's own words."""
    result = subprocess.run(
        args, env=ENV, cwd=cwd, input=input, timeout=timeout,
        stdout=subprocess.PIPE if capture else None, stderr=subprocess.PIPE if capture else None,
    )
    if check and result.returncode != 0:
        detail = ""
        if capture:
            detail = (result.stderr or b"").decode(errors="replace")[-3000:] or (result.stdout or b"").decode(errors="replace")[-3000:]
        raise SmokeError(f"`{' '.join(args[:6])}{' ...' if len(args) > 6 else ''}` exited {result.returncode}\n{detail}")
    return result


def podman_output(*args: str) -> str:
    return run(["podman", *args], capture=True).stdout.decode()


def image_exists(ref: str) -> bool:
    return run(["podman", "image", "exists", ref], check=False).returncode == 0


@contextlib.contextmanager
def cache_lock() -> Iterator[None]:
    """One run at a time builds the base and the stand-ins; the others wait and then reuse."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "build.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def check_podman_runs_containers() -> None:
    version = podman_output("version", "--format", "{{.Client.Version}}").strip()
    log(f"podman {version}, runtime runc, storage {CACHE / 'storage'}")
    result = run(["podman", "run", "--rm", "--pull", "never", "--network", "none", BASE_IMAGE, "true"],
                 check=False, capture=True)
    if result.returncode != 0:
        raise SmokeError("podman cannot start a container here:\n" + result.stderr.decode(errors="replace"))


# --- base and stand-in images -----------------------------------------------------------

def base_image(workdir: Path) -> None:
    """Debian 12 minbase, debootstrapped once (cached as a tarball) and imported, plus the
    host's certificate authorities (see trust_layer)."""
    if image_exists(MINBASE_IMAGE):
        log(f"{MINBASE_IMAGE}: cached")
    else:
        minbase_image()
    trust_layer(workdir)


def trust_layer(workdir: Path) -> None:
    """The base every stand-in builds on: minbase plus the host's CA bundle, trusted by apt,
    pip, npm and Python alike. The registries are reached through whatever TLS setup the host
    trusts (here a proxy with its own authority); a container with Debian's bundle alone would
    refuse PyPI and npm. A cached layer unless the host's bundle changed."""
    context = workdir / "trust"
    context.mkdir()
    shutil.copyfile(HOST_TRUST, context / "host-trust.crt")
    (context / "Dockerfile").write_text(
        f"FROM {MINBASE_IMAGE}\n"
        "COPY host-trust.crt /usr/local/share/ca-certificates/host-trust.crt\n"
        "RUN mkdir -p /etc/ssl/certs && cp /usr/local/share/ca-certificates/host-trust.crt /etc/ssl/certs/ca-certificates.crt\n"
        "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt PIP_CERT=/etc/ssl/certs/ca-certificates.crt "
        "REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt\n"
    )
    run(["podman", "build", "--pull=never", "--layers", "-q", "-t", BASE_IMAGE, str(context)], capture=True)
    log(f"{BASE_IMAGE}: minbase + the host's CA bundle")


def minbase_image() -> None:
    if not BASE_TARBALL.exists():
        rootfs = CACHE / "rootfs.tmp"
        shutil.rmtree(rootfs, ignore_errors=True)
        log("debootstrap --variant=minbase bookworm (a few minutes: about 200 MB from the Debian mirror)")
        run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs)], capture=True)
        # What Debian's own container images set: no daemons started by package scripts during
        # a build, no apt caches or docs in the layers.
        policy = rootfs / "usr/sbin/policy-rc.d"
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        (rootfs / "etc/apt/apt.conf.d/docker-clean").write_text(
            'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };\n'
            'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };\n'
            'Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";\n'
        )
        (rootfs / "etc/apt/apt.conf.d/docker-no-recommends").write_text('APT::Install-Recommends "false";\n')
        shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
        (rootfs / "var/cache/apt/archives/partial").mkdir(parents=True)
        partial = BASE_TARBALL.with_suffix(".partial")
        run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(partial), "."])
        partial.rename(BASE_TARBALL)
        shutil.rmtree(rootfs)
    log(f"podman import {BASE_TARBALL.name} {MINBASE_IMAGE}")
    run(["podman", "import", "--change", 'CMD ["bash"]', "--change", "ENV LANG=C.UTF-8",
         str(BASE_TARBALL), MINBASE_IMAGE], capture=True)


@dataclass(frozen=True)
class Needed:
    """One base image the compose files name, and how the smoke satisfies it."""
    reference: str           # as written: postgres:15.14-bookworm, node:20...@sha256:...
    standin: str             # folder under docker/standins/
    tag: str                 # what the stand-in is tagged: docker.io/library/postgres:15.14-bookworm
    build_arg: str | None    # the Dockerfile ARG that names it, when it carries a digest


def qualified(reference: str) -> str:
    """postgres:15 -> docker.io/library/postgres:15 (the name podman resolves a short name to),
    digest dropped: a digest names content, which a stand-in cannot have."""
    name = reference.split("@", 1)[0]
    first = name.split("/", 1)[0]
    if "/" not in name:
        name = f"docker.io/library/{name}"
    elif "." not in first and ":" not in first and first != "localhost":
        name = f"docker.io/{name}"
    return name


def standin_of(reference: str) -> str:
    repository = reference.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0]
    if repository not in STANDIN_FOR:
        raise SmokeError(f"no stand-in for base image {reference!r}: add docker/standins/{repository}/")
    return STANDIN_FOR[repository]


def dockerfile_bases(path: Path, build_args: dict[str, str]) -> list[tuple[str, str | None]]:
    """(base reference, ARG naming it or None) for every FROM that is not an earlier stage;
    an ARG's value is compose's build argument, else the Dockerfile's default."""
    text = re.sub(r"\\\n", " ", path.read_text())
    args: dict[str, str] = dict(build_args)
    stages: set[str] = set()
    bases = []
    for line in text.splitlines():
        line = line.strip()
        if match := re.match(r"(?i)ARG\s+(\w+)=(\S+)", line):
            args.setdefault(match[1], match[2].strip("\"'"))
        elif match := re.match(r"(?i)FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", line):
            written = match[1]
            arg = None
            if ref_match := re.fullmatch(r"\$\{?(\w+)\}?", written):
                arg = ref_match[1]
                if arg not in args:
                    raise SmokeError(f"{path}: FROM ${arg} without a default")
                written = args[arg]
            if written.lower() not in stages and written != "scratch":
                bases.append((written, arg))
            if match[2]:
                stages.add(match[2].lower())
    return bases


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${X}, ${X:-default}, ${X-default}, ${X:?error} and $$, for the values the smoke
    reads itself (image names and build arguments)."""
    def replace(match: re.Match) -> str:
        if match[0] == "$$":
            return "$"
        name, operator, default = match["name"], match["op"], match["default"] or ""
        present = name in env and (env[name] != "" or operator in {"-", "?"})
        if operator in {":-", "-"}:
            return env[name] if present else default
        if operator in {":?", "?"} and not present:
            raise SmokeError(f"compose needs {name}: {default}")
        return env.get(name, "")
    return re.sub(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<default>[^}]*))?\}", replace, value)


def needed_images(compose: dict, project: Path, env: dict[str, str]) -> list[Needed]:
    needed: dict[str, Needed] = {}
    for name, service in compose["services"].items():
        build = service.get("build")
        if build is None:
            image = interpolate(service["image"], env)
            needed.setdefault(image, Needed(image, standin_of(image), qualified(image), None))
            continue
        if isinstance(build, str):
            build = {"context": build}
        dockerfile = project / build.get("context", ".") / build.get("dockerfile", "Dockerfile")
        compose_args = build.get("args") or {}
        if isinstance(compose_args, list):
            compose_args = dict(item.split("=", 1) for item in compose_args)
        compose_args = {key: interpolate(str(value), env) for key, value in compose_args.items()}
        for reference, arg in dockerfile_bases(dockerfile, compose_args):
            if "@sha256:" in reference and arg is None:
                raise SmokeError(
                    f"{dockerfile.relative_to(project)} (service {name}) pins FROM {reference} by digest: "
                    "no local image can have that digest. Name the base image with a build argument "
                    "(ARG X=...@sha256:..., FROM ${X}) so the smoke can substitute its stand-in."
                )
            key = f"{reference} {arg}"
            needed.setdefault(key, Needed(reference, standin_of(reference), qualified(reference),
                                          arg if "@" in reference else None))
    return list(needed.values())


def image_builders(compose: dict, env: dict[str, str]) -> list[str]:
    """One service per image that compose builds. podman-compose builds an image once for
    every service naming it (six parallel builds of calcboard-app); one at a time, the later
    builds reuse the earlier ones' layers (the proxy's stages share the app's builder)."""
    first: dict[str, str] = {}
    for name, service in compose["services"].items():
        if service.get("build") is not None:
            first.setdefault(interpolate(service.get("image", name), env), name)
    return list(first.values())


def standin_images(needed: list[Needed]) -> None:
    built: dict[str, str] = {}
    for item in needed:
        if item.standin not in built:
            local = f"localhost/calcboard-standin/{item.standin}:latest"
            start = time.monotonic()
            run(["podman", "build", "--pull=never", "--layers", "-q", "--build-arg", f"BASE={BASE_IMAGE}",
                 "-t", local, str(STANDINS / item.standin)], capture=True)
            built[item.standin] = local
            log(f"stand-in {item.standin}: {time.monotonic() - start:.1f} s")
        run(["podman", "tag", built[item.standin], item.tag])
        log(f"{item.reference} -> {item.tag} (stand-in {item.standin})")


# --- the project copy, .env and compose ---------------------------------------------------

def free_port(*, taken: set[int]) -> int:
    """A port nothing listens on now (bound and released; compose binds it moments later)."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port not in taken:
            return port


def project_copy(workdir: Path) -> Path:
    """The working tree as a clone would have it plus uncommitted edits: tracked and untracked
    files, never ignored ones (.env, .venv, node_modules)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, check=True, stdout=subprocess.PIPE).stdout
    project = workdir / "calcboard"
    project.mkdir()
    for raw in listed.split(b"\0"):
        if not raw:
            continue
        source = ROOT / raw.decode()
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree
        target = project / raw.decode()
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    return project


@dataclass
class Stack:
    project: Path
    name: str
    env: dict[str, str]
    ports: dict[str, int]   # *_PUBLISHED_PORT -> the free port this run publishes it on

    @property
    def port(self) -> int:
        return self.ports["WEB_PUBLISHED_PORT"]

    def compose(self, *args: str, capture: bool = False, check: bool = True) -> subprocess.CompletedProcess:
        return run([str(Path(sys.executable).parent / "podman-compose"), "-p", self.name,
                    "--env-file", str(self.project / ".env"), "-f", str(self.project / "compose.yml"), *args],
                   capture=capture, check=check, cwd=self.project)

    def build(self, *args: str, log_file: Path) -> None:
        """podman-compose build, its (long) output in log_file; the tail of it on failure."""
        with open(log_file, "wb") as output:
            result = subprocess.run(
                [str(Path(sys.executable).parent / "podman-compose"), "-p", self.name, "--env-file",
                 str(self.project / ".env"), "-f", str(self.project / "compose.yml"), "build", *args],
                env=ENV, cwd=self.project, stdout=output, stderr=subprocess.STDOUT,
            )
        text = log_file.read_text(errors="replace")
        built = re.findall(r"Successfully tagged (\S+)", text)
        if result.returncode != 0 or not built:
            raise SmokeError(f"podman-compose build {args[0]} exited {result.returncode}:\n"
                             + "\n".join(text.splitlines()[-80:]))
        log(f"{args[0]}: built {', '.join(sorted(set(built)))}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def write_env(project: Path) -> tuple[dict[str, str], dict[str, int]]:
    """.env.example with its blanks filled: a fresh random value for every secret (a *PASSWORD
    or *SECRET_KEY) and a free port for every *_PUBLISHED_PORT that .env.example or compose.yml
    names, commented out or not (a default such as 8443 would meet another stack). Returns the
    values and the ports."""
    compose_text = (project / "compose.yml").read_text()
    port_keys = set(re.findall(r"\$\{(\w+_PUBLISHED_PORT)\b", compose_text))
    lines: list[str] = []
    env: dict[str, str] = {}
    ports: dict[str, int] = {}
    for line in (project / ".env.example").read_text().splitlines():
        match = re.match(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match and (match[1] is None or match[2] in port_keys):
            key, value = match[2], match[3].strip()
            if key.endswith("_PUBLISHED_PORT"):
                ports[key] = free_port(taken=set(ports.values()))
                value = str(ports[key])
            elif key.endswith("SECRET_KEY"):
                value = secrets.token_urlsafe(50)
            elif key.endswith("PASSWORD"):
                value = secrets.token_hex(16)
            env[key] = value
            line = f"{key}={value}"
        lines.append(line)
    for key in sorted(port_keys - set(ports)):
        ports[key] = free_port(taken=set(ports.values()))
        env[key] = str(ports[key])
        lines.append(f"{key}={ports[key]}")
    if "WEB_PUBLISHED_PORT" not in ports:
        raise SmokeError("neither .env.example nor compose.yml names WEB_PUBLISHED_PORT: where is the front door?")
    # The smoke drives plain HTTP on 127.0.0.1, the trial docs/deploy.md describes; .env.example
    # ships the production default (HTTPS on).
    env["DJANGO_HTTPS"] = "false"
    lines.append("DJANGO_HTTPS=false")
    (project / ".env").write_text("\n".join(lines) + "\n")
    return env, ports


# --- start in dependency order, wait for health ---------------------------------------------

CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


def depends(service: dict) -> dict[str, str]:
    value = service.get("depends_on") or {}
    if isinstance(value, list):
        return {name: "service_started" for name in value}
    return {name: spec.get("condition", "service_started") for name, spec in value.items()}


@dataclass
class State:
    status: str        # created / running / exited ...
    exit_code: int
    health: str        # "" when the service has no health check
    restarts: int


def container_of(stack: Stack, service: str) -> str:
    names = podman_output("ps", "-a", "--filter", f"label=io.podman.compose.project={stack.name}",
                          "--filter", f"label=io.podman.compose.service={service}",
                          "--format", "{{.Names}}").split()
    if not names:
        raise SmokeError(f"service {service}: no container was created")
    return names[0]


def state_of(container: str) -> State:
    data = json.loads(podman_output("inspect", container))[0]
    health = (data["State"].get("Health") or data["State"].get("Healthcheck") or {}).get("Status", "")
    if not data["Config"].get("Healthcheck"):
        health = ""
    return State(data["State"]["Status"], data["State"]["ExitCode"], health, data.get("RestartCount", 0))


def health_check(container: str) -> str:
    """Runs the container's own health check once; podman keeps the state (retries, start
    period). Returns what the check printed."""
    result = run(["podman", "healthcheck", "run", container], check=False, capture=True)
    return (result.stdout + result.stderr).decode(errors="replace").strip()


def seconds(duration: str | int | float | None, default: float) -> float:
    """Compose durations: 15s, 1m30s, 500ms, 1h."""
    if duration is None:
        return default
    if isinstance(duration, (int, float)):
        return float(duration)
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", duration)
    if not parts:
        raise SmokeError(f"cannot read the duration {duration!r}")
    return sum(float(number) * units[unit] for number, unit in parts)


def health_budget(service: dict) -> float:
    """How long compose gives a container before it is unhealthy: the start period, then
    `retries` failed checks `interval` apart (Docker's defaults where compose is silent)."""
    check = service.get("healthcheck") or {}
    return (seconds(check.get("start_period"), 0) + int(check.get("retries", 3)) * seconds(check.get("interval"), 30)
            + seconds(check.get("timeout"), 30))


def logs_tail(container: str, lines: int = 40) -> str:
    result = run(["podman", "logs", "--tail", str(lines), container], check=False, capture=True)
    return (result.stdout + result.stderr).decode(errors="replace")


def start_in_order(stack: Stack, compose: dict, timer_log=log) -> None:
    """Start every service once its depends_on conditions hold, and wait until every health
    check passes and every one-shot service has exited 0.

    podman 4.3 (Debian 12) cannot wait for a health condition (podman-compose skips
    `service_healthy` on podman < 4.6) and, without systemd, never runs health checks on its
    own; so the smoke runs each container's own health check (`podman healthcheck run`, which
    keeps podman's health state with its retries and start period) and starts a service with
    `podman-compose up -d --no-deps` only when what it waits for is there."""
    services: dict[str, dict] = compose["services"]
    one_shot = {name for name, s in services.items() if s.get("restart", "no") == "no"}
    started: dict[str, str] = {}   # service -> container
    start_time: dict[str, float] = {}
    satisfied: set[tuple[str, str]] = set()
    deadline = time.monotonic() + HEALTH_TIMEOUT

    def holds(name: str, condition: str) -> bool:
        if (name, condition) in satisfied:
            return True
        if name not in started:
            return False
        state = state_of(started[name])
        ok = {
            "service_started": state.status in {"running", "exited"},
            "service_healthy": state.health == "healthy",
            "service_completed_successfully": state.status == "exited" and state.exit_code == 0,
        }[condition]
        if ok:
            satisfied.add((name, condition))
        return ok

    while True:
        ready = [name for name in services if name not in started
                 and all(holds(dep, cond) for dep, cond in depends(services[name]).items())]
        if ready:
            timer_log(f"up -d --no-deps {' '.join(ready)}")
            stack.compose("up", "-d", "--no-build", "--no-deps", *ready, capture=True)
            for name in ready:
                started[name] = container_of(stack, name)
                start_time[name] = time.monotonic()
        pending, checking = [], []
        for name, container in started.items():
            state = state_of(container)
            if name in one_shot:
                if state.status == "exited" and state.exit_code != 0:
                    raise SmokeError(f"{name} exited {state.exit_code}:\n{logs_tail(container)}")
                if state.status != "exited":
                    pending.append(name)
                continue
            if state.status != "running" or state.restarts:
                raise SmokeError(f"{name} is {state.status} (exit {state.exit_code}, restarted {state.restarts} "
                                 f"times):\n{logs_tail(container)}")
            if state.health and state.health != "healthy":
                checking.append(name)
        # Checked every 2 s rather than every `interval` (in parallel: one check can take its
        # whole timeout), so a service counts as unhealthy only once compose's own budget for
        # it has run out.
        with ThreadPoolExecutor(max_workers=max(1, len(checking))) as pool:
            said = dict(zip(checking, pool.map(health_check, [started[n] for n in checking])))
        for name in checking:
            waited = time.monotonic() - start_time[name]
            if state_of(started[name]).health == "healthy":
                timer_log(f"{name} healthy after {waited:.1f} s")
            elif waited > health_budget(services[name]):
                raise SmokeError(f"{name} is unhealthy after {waited:.0f} s: {said[name]}\n{logs_tail(started[name])}")
            else:
                pending.append(name)
        if len(started) == len(services) and not pending:
            return
        if time.monotonic() > deadline:
            waiting = sorted(set(services) - set(started))
            raise SmokeError(f"after {HEALTH_TIMEOUT:.0f} s still waiting for {pending} (not started: {waiting})\n"
                             + "\n".join(f"--- {n}\n{logs_tail(started[n], 15)}" for n in pending))
        time.sleep(2)


# --- through the front door ---------------------------------------------------------------

async def form_token(http, path: str) -> str:
    """The CSRF token of the admin form at `path`, read the way a browser gets it."""
    page = await http.get(path)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if page.status_code != 200 or token is None:
        raise SmokeError(f"GET {path} answered {page.status_code} without a form")
    return token[1]


async def drive(stack: Stack) -> None:
    """What a user does, through the published port only."""
    origin = stack.url  # 127.0.0.1 is in .env.example's DJANGO_ALLOWED_HOSTS
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        # The containers are healthy inside their networks; the published port may still take
        # a moment to forward (the engine's port forwarder), so the first request is retried.
        deadline = time.monotonic() + 90
        while True:
            try:
                health = await http.get("/healthz", timeout=10)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(1)
        if health.status_code != 200:
            raise SmokeError(f"GET /healthz answered {health.status_code}: {health.text[:500]}")
        log(f"/healthz: {health.json()}")

        # The admin login, the way a browser does it: the form's CSRF token, then the POST.
        token = await form_token(http, "/admin/login/?next=/admin/")
        login = await http.post(
            "/admin/login/?next=/admin/",
            data={"username": stack.env.get("DJANGO_SUPERUSER_USERNAME", "admin"),
                  "password": stack.env["DJANGO_SUPERUSER_PASSWORD"],
                  "csrfmiddlewaretoken": token, "next": "/admin/"},
            headers={"Referer": f"{origin}/admin/login/", "Origin": origin},
        )
        if login.status_code != 302 or "sessionid" not in http.cookies:
            raise SmokeError(f"admin login failed: {login.status_code} {login.text[:300]}")
        admin = await http.get("/admin/")
        if admin.status_code != 200 or "Calculations" not in admin.text:
            raise SmokeError(f"GET /admin/ after login answered {admin.status_code}")
        log("admin login: ok")
        csrf = {"X-CSRFToken": http.cookies["csrftoken"], "Referer": f"{origin}/admin/", "Origin": origin}

        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
        ws_url = f"ws://127.0.0.1:{stack.port}/ws/events/"
        async with websockets.connect(ws_url, origin=origin, additional_headers={"Cookie": cookie}) as ws:
            for stream in ("calculations", "functions"):
                await ws.send(json.dumps({"action": "subscribe", "stream": stream}))
                reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if reply.get("type") != "subscribed":
                    raise SmokeError(f"websocket subscribe {stream}: {reply}")
            log("websocket: subscribed to calculations and functions")

            created = await http.post("/api/calculations", json={"date_start": "2024-01-01", "date_fin": "2024-03-31",
                                                                  "lag": 7, "name": "compose smoke"}, headers=csrf)
            if created.status_code != 201:
                raise SmokeError(f"POST /api/calculations answered {created.status_code}: {created.text[:500]}")
            calculation_id = created.json()["id"]

            add_token = await form_token(http, "/admin/charts/function/add/")
            added = await http.post(
                "/admin/charts/function/add/",
                data={"csrfmiddlewaretoken": add_token, "preset": "", "expression": "t + 2/t",
                      "dt": "1", "interval": "30", "_continue": "1"},
                headers={"Referer": f"{origin}/admin/charts/function/add/", "Origin": origin},
            )
            change = re.search(r"/admin/charts/function/(\d+)/change/", added.headers.get("location", ""))
            if added.status_code != 302 or change is None:
                raise SmokeError(f"admin add function answered {added.status_code}: {added.text[-800:]}")
            function_id = int(change[1])
            log(f"created calculation {calculation_id} (API) and function {function_id} (admin)")

            seen: dict[tuple[str, int], list[str]] = {("calculation", calculation_id): [],
                                                      ("function", function_id): []}
            deadline = time.monotonic() + JOB_TIMEOUT
            while any(not s or s[-1] not in {"finished", "failed"} for s in seen.values()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SmokeError(f"no final status over the websocket within {JOB_TIMEOUT:.0f} s: {seen}")
                try:
                    message = json.loads(await asyncio.wait_for(ws.recv(), remaining))
                except TimeoutError:
                    continue
                event = message.get("event") or {}
                key = (event.get("kind"), event.get("id"))
                if message.get("type") == "event" and key in seen:
                    status = event.get("status")
                    if not seen[key] or seen[key][-1] != status:
                        seen[key].append(status)
            for (kind, pk), statuses in seen.items():
                log(f"websocket {kind} {pk}: {' -> '.join(statuses)}")
                if statuses[-1] != "finished":
                    raise SmokeError(f"{kind} {pk} ended {statuses[-1]}")

        detail = (await http.get(f"/api/calculations/{calculation_id}")).json()
        rows = detail.get("result") or []
        if detail.get("status") != "finished" or not rows or set(rows[0]) < {"date", "liquid", "oil", "water", "wct"}:
            raise SmokeError(f"GET /api/calculations/{calculation_id}: {json.dumps(detail)[:500]}")
        log(f"calculation {calculation_id}: finished, {len(rows)} rows")

        png = await http.get(f"/api/functions/{function_id}/chart.png")
        if png.status_code != 200 or not png.content.startswith(b"\x89PNG\r\n\x1a\n"):
            raise SmokeError(f"GET /api/functions/{function_id}/chart.png answered {png.status_code}: {png.content[:200]!r}")
        log(f"function {function_id}: PNG, {len(png.content)} bytes")

        # A finished run's images are drawn by the web container through the export server.
        url = f"/api/calculations/{calculation_id}/chart"
        run_png = await http.get(f"{url}.png?width=800&height=400")
        if run_png.status_code != 200 or png_size(run_png.content) != (800, 400):
            raise SmokeError(f"GET {url}.png answered {run_png.status_code}: {run_png.content[:300]!r}")
        run_svg = await http.get(f"{url}.svg")
        svg_text = run_svg.text if run_svg.status_code == 200 else ""
        wanted = ("<svg", "compose smoke", "Water cut, %", 'width="1200"', 'height="600"')
        if run_svg.headers.get("content-type") != "image/svg+xml" or not all(w in svg_text for w in wanted):
            raise SmokeError(f"GET {url}.svg answered {run_svg.status_code}: {run_svg.text[:300]!r}")
        log(f"calculation {calculation_id}: PNG 800x400 ({len(run_png.content)} bytes), SVG 1200x600 with its title")


def png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's header; None for anything that is not a PNG."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n") or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def check_least_privilege(stack: Stack, compose: dict) -> None:
    """The application's PostgreSQL role is no superuser and owns every table; the data service
    container holds no secret it does not use; no process shows the Redis password."""
    postgres = container_of(stack, "postgres")
    app_role = stack.env.get("POSTGRES_USER") or "calcboard"
    database = stack.env.get("POSTGRES_DB") or "calcboard"
    query = (f"SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = '{app_role}'; "
             f"SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner <> '{app_role}'")
    psql = ["psql", "-U", "postgres", "-d", database, "-tA", "-c", query]
    answer = podman_output("exec", "--user", "postgres", postgres, *psql).split()
    if answer != ["f|f|f", "0"]:
        raise SmokeError(f"role {app_role}: rolsuper|rolcreaterole|rolcreatedb, tables owned by others = {answer}")
    log(f"postgres: {app_role} is no superuser (rolsuper false) and owns every table")

    dataservice = json.loads(podman_output("inspect", container_of(stack, "dataservice")))[0]
    names = {entry.split("=", 1)[0] for entry in dataservice["Config"]["Env"]}
    secrets_held = names & {"DJANGO_SECRET_KEY", "CELERY_BROKER_URL", "REDIS_URL", "REDIS_PASSWORD",
                            "RABBITMQ_PASSWORD", "POSTGRES_PASSWORD", "POSTGRES_SUPERUSER_PASSWORD"}
    if secrets_held:
        raise SmokeError(f"the dataservice container holds {sorted(secrets_held)}")
    log("dataservice: no secret key, broker, Redis or application database credentials")

    redis = container_of(stack, "redis")
    command_lines = podman_output("exec", redis, "sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '")
    if stack.env["REDIS_PASSWORD"] in command_lines or "redis-server" not in command_lines:
        raise SmokeError("the Redis password is on a command line (ps shows it)")
    log("redis: the password is on no command line")


def check_isolation(stack: Stack, compose: dict, front_door: str) -> None:
    """Only the front door publishes a port; nothing else answers from the host, neither on
    a published port nor at its container address."""
    for name, service in compose["services"].items():
        if service.get("restart", "no") == "no":
            continue
        container = container_of(stack, name)
        data = json.loads(podman_output("inspect", container))[0]
        bindings = {port: hosts for port, hosts in (data["NetworkSettings"].get("Ports") or {}).items() if hosts}
        if name == front_door:
            host_ports = {int(h["HostPort"]) for hosts in bindings.values() for h in hosts}
            if host_ports != set(stack.ports.values()):
                raise SmokeError(f"{name} publishes {sorted(host_ports)}, expected {stack.ports}")
            log(f"{name}: publishes {', '.join(f'{k}={v}' for k, v in stack.ports.items())} and nothing else")
            continue
        if bindings:
            raise SmokeError(f"{name} publishes {bindings}: only {front_door} may")
        # What keeps a service off the host is having no published port. (The host is the
        # gateway of every bridge, so root here could still open a container's own address;
        # the smoke sends nothing there: it only talks to the published front door.)
        log(f"{name}: no published port")


def front_door_of(compose: dict) -> str:
    publishing = [name for name, s in compose["services"].items() if s.get("ports")]
    if len(publishing) != 1:
        raise SmokeError(f"expected one service publishing a port, found {publishing}")
    return publishing[0]


def stack_volumes(stack: Stack) -> list[str]:
    ids = podman_output("ps", "-a", "-q", "--filter", f"label=io.podman.compose.project={stack.name}").split()
    if not ids:
        return []
    return sorted({mount["Name"] for data in json.loads(podman_output("inspect", *ids))
                   for mount in data.get("Mounts", []) if mount.get("Type") == "volume" and mount.get("Name")})


# --- main ---------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="leave the stack running for a look (prints how to remove it)")
    options = parser.parse_args()

    ENV.update(podman_environment())
    timer = Timer()
    run_id = uuid.uuid4().hex[:8]
    stack: Stack | None = None
    failure: str | None = None
    workdir = Path(tempfile.mkdtemp(prefix=f"calcboard-smoke-{run_id}-"))
    try:
        with timer.phase("base image (debootstrap, cached)"), cache_lock():
            base_image(workdir)
            check_podman_runs_containers()
        with timer.phase("project copy and .env"):
            project = project_copy(workdir)
            compose = yaml.safe_load((project / "compose.yml").read_text())
            env, ports = write_env(project)
            needed = needed_images(compose, project, env)
            stack = Stack(project, f"calcboard-smoke-{run_id}", env, ports)
            log(f"project {stack.name}, front door {stack.url}, files in {project}")
            if marker := os.environ.get("CALCBOARD_SMOKE_PROJECT_FILE"):
                Path(marker).write_text(stack.name)  # scripts/compose-smoke's trap removes it if killed
        with timer.phase("stand-in images"), cache_lock():
            standin_images(needed)
        with timer.phase("project images (podman-compose build)"):
            build_args = [f"--build-arg={n.build_arg}={n.tag}" for n in needed if n.build_arg]
            for service in image_builders(compose, env):
                stack.build(service, *build_args, log_file=workdir / f"build-{service}.log")
        with timer.phase("start in dependency order, wait for health"):
            start_in_order(stack, compose)
        with timer.phase("drive the front door"):
            asyncio.run(drive(stack))
        with timer.phase("isolation"):
            check_isolation(stack, compose, front_door_of(compose))
        with timer.phase("least privilege"):
            check_least_privilege(stack, compose)
    except (SmokeError, subprocess.TimeoutExpired, httpx.HTTPError, OSError, websockets.WebSocketException) as error:
        failure = f"{type(error).__name__}: {error}" if not isinstance(error, SmokeError) else str(error)
    finally:
        if stack is not None and not options.keep:
            with timer.phase("down (containers, volumes, networks)"):
                volumes = stack_volumes(stack)
                stack.compose("down", "-v", "-t", "10", capture=True, check=False)
                # podman-compose's down -v removes the named volumes only; the anonymous ones
                # (an image's VOLUME, such as redis's /data) stay behind without this.
                for volume in volumes:
                    run(["podman", "volume", "rm", "-f", volume], check=False, capture=True)
                leftovers = podman_output("ps", "-a", "-q", "--filter", f"label=io.podman.compose.project={stack.name}")
                if leftovers.strip():
                    failure = failure or f"containers left after down: {leftovers.split()}"
        elif stack is not None:
            print(f"\nkept: {stack.url}; remove with\n  CONTAINERS_CONF={ENV['CONTAINERS_CONF']} "
                  f"CONTAINERS_STORAGE_CONF={ENV['CONTAINERS_STORAGE_CONF']} {' '.join(map(str, ['podman-compose', '-p', stack.name, '-f', stack.project / 'compose.yml', 'down', '-v']))}")
        if not options.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(timer.report(), flush=True)
    if failure:
        print(f"\ncompose smoke FAILED: {failure}", file=sys.stderr, flush=True)
        return 1
    print("\ncompose smoke passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
