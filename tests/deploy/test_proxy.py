"""The front door: nginx (`scripts/run proxy`) in front of gunicorn and daphne, as scripts/dev
and compose run it. Every test talks to the real processes over real sockets."""

import gzip
import ipaddress
import json
import socket
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import websockets.sync.client
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings

from apps.accounts.services import api_token_create
from apps.calculations.models import Calculation
from apps.calculations.services import calculation_run
from apps.jobs.models import JobStatus
from harness import processes
from tests.conftest import permissions_grant
from tests.security.conftest import Reply, assert_error

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def token(django_user_model) -> str:
    user = django_user_model.objects.create_user(username="proxy-client", password="proxy-pass-123")
    permissions_grant(user, "view", "add", "change")
    return api_token_create(user=user, name="proxy")[1]


def test_the_api_answers_through_the_proxy(front_door, token):
    response = httpx.get(
        f"{front_door.base_url}/api/calculations", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 200 and response.json()["count"] == 0
    assert response.headers["Server"] == "nginx"


def test_a_body_over_the_limit_is_refused_by_the_proxy_before_it_is_sent(front_door, token):
    """nginx answers on the Content-Length alone: the body never reaches Python (or even
    leaves the client), and the answer is the application's one error shape."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    with socket.create_connection(("127.0.0.1", front_door.port), timeout=5) as sock:
        sock.sendall(
            (
                "POST /api/calculations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Authorization: Bearer {token}\r\nContent-Length: {limit + 1}\r\nConnection: close\r\n\r\n"
            ).encode()
        )
        raw = b""
        # Answered although not one byte of the body was sent (nginx then waits a moment for
        # the body it will discard before closing: read by Content-Length, not to the end).
        while b"\r\n\r\n" not in raw:
            raw += sock.recv(65536)
        head, _, body = raw.partition(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
        while len(body) < int(headers["Content-Length"]):
            body += sock.recv(65536)

    assert head.startswith(b"HTTP/1.1 413 ")
    assert headers["Content-Type"].startswith("application/json")
    error = json.loads(body)
    assert set(error) == {"detail", "errors"}
    assert error["errors"] == [
        {"field": "body", "rule": "too_large", "message": f"The body is larger than {limit} bytes."}
    ]
    assert not Calculation.objects.exists()


def test_a_body_over_the_limit_sent_whole_gets_the_same_413(front_door, token):
    body = json.dumps({"name": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE})
    response = httpx.post(
        f"{front_door.base_url}/api/calculations",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )

    assert_error(Reply(response), 413, field="body", rule="too_large")


def test_an_anonymous_post_gets_401_not_a_csrf_error(front_door):
    response = httpx.post(f"{front_door.base_url}/api/calculations", json={"lag": 1})

    assert_error(Reply(response), 401, field=None, rule="authentication")


def test_json_is_gzipped_when_the_client_accepts_it(front_door, token):
    run = Calculation.objects.create(
        name="gzip", date_start="2020-01-01", date_fin="2020-12-31", lag=1, status=JobStatus.QUEUED
    )
    calculation_run(calculation_id=run.pk)
    url = f"{front_door.base_url}/api/calculations/{run.pk}"
    auth = {"Authorization": f"Bearer {token}"}

    with httpx.Client() as client:
        plain = client.get(url, headers={**auth, "Accept-Encoding": "identity"})
        packed = client.send(
            client.build_request("GET", url, headers={**auth, "Accept-Encoding": "gzip"}), stream=True
        )
        raw = b"".join(packed.iter_raw())

    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(raw) == plain.content
    assert len(raw) < len(plain.content) / 3


def test_the_proxy_serves_static_files_itself(front_door):
    response = httpx.get(
        f"{front_door.base_url}/static/admin/css/base.css", headers={"Accept-Encoding": "gzip"}
    )

    assert response.status_code == 200 and response.headers["Content-Type"] == "text/css"
    assert response.headers["Cache-Control"].startswith("public, max-age=")
    assert response.headers["Content-Encoding"] == "gzip"
    # Straight from the disk: Django is not involved, so none of its headers are there.
    assert "X-Frame-Options" not in response.headers


def test_websockets_go_through_the_proxy_to_daphne(front_door, token):
    with websockets.sync.client.connect(
        front_door.ws_url,
        additional_headers={"Authorization": f"Bearer {token}", "Origin": front_door.base_url},
        open_timeout=10,
    ) as ws:
        ws.send(json.dumps({"action": "ping"}))
        assert json.loads(ws.recv(timeout=10)) == {"type": "pong"}


def test_the_admin_login_is_rate_limited_in_the_one_error_shape(test_db_name):
    door = processes.FrontDoor(test_db_name, name="ratelimit")
    try:
        login = f"{door.base_url}/admin/login/"
        # 10 a minute with a burst of 5 (constants of scripts/run): the seventh post at once is refused.
        statuses = [httpx.post(login, data={"username": "x", "password": "y"}).status_code for _ in range(7)]
        refused = httpx.post(login, data={"username": "x", "password": "y"})
        page = httpx.get(login)  # only posts count: the form itself still shows
    finally:
        door.stop()

    assert statuses[0] != 429 and 429 in statuses
    assert_error(Reply(refused), 429, field=None, rule="rate_limit")
    assert refused.headers["Retry-After"] == "60"
    assert page.status_code == 200


def test_a_down_application_is_a_503_in_the_one_error_shape(front_door, test_db_name):
    env = {**front_door.env, "PROXY_WEB_UPSTREAM": f"127.0.0.1:{processes.free_port()}"}
    port = processes.free_port()
    env.update(
        {
            "PROXY_LISTEN": f"127.0.0.1:{port}",
            "PROXY_VAR_DIR": str(processes.run_log_dir() / f"down-proxy-{port}"),
        }
    )
    proxy = processes.Process(f"down-proxy-{port}", [str(processes.RUN), "proxy"], env)
    try:
        proxy.wait_ready(
            lambda: processes.http_ok(f"http://127.0.0.1:{port}/proxy-health"),
            port=port,
            timeout=20,
            what="proxy",
        )
        response = httpx.get(f"http://127.0.0.1:{port}/api/calculations")
    finally:
        proxy.stop()

    assert_error(Reply(response), 503, field=None, rule="unavailable")


def self_signed(tmp_path) -> tuple[str, str]:
    """A certificate for 127.0.0.1, the same kind docs/how-to/tls.md makes with openssl."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_path), str(key_path)


def test_with_a_certificate_it_serves_https_redirects_http_and_sends_hsts_and_secure_cookies(
    test_db_name, tmp_path
):
    cert, _key = self_signed(tmp_path)
    tls_port = processes.free_port()
    door = processes.FrontDoor(
        test_db_name,
        name="tls",
        extra_env={"PROXY_CERT_DIR": str(Path(cert).parent), "PROXY_TLS_LISTEN": f"127.0.0.1:{tls_port}"},
    )
    try:
        redirect = httpx.get(f"{door.base_url}/admin/login/?next=/admin/")
        secure = httpx.get(f"https://127.0.0.1:{tls_port}/admin/login/", verify=cert)
        health = httpx.get(f"{door.base_url}/healthz")  # the plain-HTTP probe still works
    finally:
        door.stop()

    assert redirect.status_code == 308
    assert redirect.headers["Location"] == f"https://127.0.0.1:{tls_port}/admin/login/?next=/admin/"
    assert secure.status_code == 200
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    cookie = secure.headers["Set-Cookie"]
    assert cookie.startswith("csrftoken=") and "secure" in cookie.lower()
    assert health.status_code == 200


def test_nginx_accepts_the_rendered_configuration_in_both_modes(front_door, tmp_path):
    """`scripts/run proxy-check` renders what `scripts/run proxy` would serve and runs nginx -t."""
    cert, _key = self_signed(tmp_path)
    for extra in ({}, {"PROXY_CERT_DIR": str(Path(cert).parent)}):
        var_dir = tmp_path / f"conf-{len(extra)}"
        env = {**front_door.env, **extra, "PROXY_VAR_DIR": str(var_dir)}
        result = subprocess.run(
            [str(processes.RUN), "proxy-check"],
            cwd=processes.ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0, result.stderr
        assert "syntax is ok" in result.stderr
        assert ("tls" if extra else "plain") in result.stderr


def test_api_writes_are_rate_limited_per_client_and_reads_are_not(test_db_name):
    door = processes.FrontDoor(test_db_name, name="writelimit", extra_env={"PROXY_API_WRITE_RATE": "1r/m"})
    try:
        api = f"{door.base_url}/api/calculations"
        with httpx.Client() as client:
            # One a minute with a burst of 20 (scripts/run): the 22nd write at once is refused.
            writes = [client.post(api, json={"lag": 1}) for _ in range(22)]
            reads = [client.get(api) for _ in range(60)]
            login_page = client.get(f"{door.base_url}/admin/login/")
    finally:
        door.stop()

    assert writes[0].status_code == 401  # the application answered: not limited yet
    refused = writes[-1]
    assert_error(Reply(refused), 429, field=None, rule="rate_limit")
    assert refused.headers["Retry-After"] == "60"
    assert {reply.status_code for reply in reads} == {401}  # every read reached the application
    assert login_page.status_code == 200


def test_api_reads_are_limited_once_a_read_rate_is_set(test_db_name):
    door = processes.FrontDoor(
        test_db_name,
        name="readlimit",
        extra_env={"PROXY_API_READ_RATE": "1r/m", "PROXY_API_WRITE_RATE": "10r/s"},
    )
    try:
        with httpx.Client() as client:
            # A burst of 50 (scripts/run): the 52nd read at once is refused.
            reads = [client.get(f"{door.base_url}/api/calculations") for _ in range(52)]
    finally:
        door.stop()

    assert reads[0].status_code == 401
    assert_error(Reply(reads[-1]), 429, field=None, rule="rate_limit")
    assert reads[-1].headers["Retry-After"] == "60"


def test_over_tls_the_proxys_own_answers_keep_hsts_and_plain_http_sends_none(
    front_door, test_db_name, tmp_path
):
    """/static/, the 429 of the login limit and the 503 of a down application each set headers
    of their own, which in nginx would hide the server's HSTS."""
    cert, _ = self_signed(tmp_path)
    tls = {"PROXY_CERT_DIR": str(Path(cert).parent)}
    tls_port = processes.free_port()
    door = processes.FrontDoor(
        test_db_name, name="tls-hsts", extra_env={**tls, "PROXY_TLS_LISTEN": f"127.0.0.1:{tls_port}"}
    )
    try:
        base = f"https://127.0.0.1:{tls_port}"
        static = httpx.get(f"{base}/static/admin/css/base.css", verify=cert)
        login = f"{base}/admin/login/"
        refusals = [httpx.post(login, data={"username": "x", "password": "y"}, verify=cert) for _ in range(8)]
    finally:
        door.stop()
    down_tls_port, port = processes.free_port(), processes.free_port()
    env = {
        **front_door.env,
        **tls,
        "PROXY_WEB_UPSTREAM": f"127.0.0.1:{processes.free_port()}",
        "PROXY_LISTEN": f"127.0.0.1:{port}",
        "PROXY_TLS_LISTEN": f"127.0.0.1:{down_tls_port}",
        "PROXY_VAR_DIR": str(processes.run_log_dir() / f"down-tls-proxy-{port}"),
    }
    proxy = processes.Process(f"down-tls-proxy-{port}", [str(processes.RUN), "proxy"], env)
    try:
        proxy.wait_ready(
            lambda: processes.http_ok(f"http://127.0.0.1:{port}/healthz") or proxy.listens_on(down_tls_port),
            port=port,
            timeout=20,
            what="proxy",
        )
        down = httpx.get(f"https://127.0.0.1:{down_tls_port}/api/calculations", verify=cert)
    finally:
        proxy.stop()
    plain_static = httpx.get(f"{front_door.base_url}/static/admin/css/base.css")

    too_many = [response for response in refusals if response.status_code == 429]
    assert static.status_code == 200 and too_many and down.status_code == 503
    for response in (static, too_many[0], down):
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert static.headers["Cache-Control"].startswith("public, max-age=")
    assert too_many[0].headers["Retry-After"] == "60" and down.headers["Retry-After"] == "5"
    assert plain_static.status_code == 200 and "Strict-Transport-Security" not in plain_static.headers
