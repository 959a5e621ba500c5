"""Real servers for the remote-store tests, started on 127.0.0.1 and stopped afterwards.

- `moto_s3`: moto's S3 server (moto[server]) as a separate process on a free
  port, with IAM authentication switched on after setup, so every request the
  core makes must carry a valid SigV4 signature from libcurl. One IAM user
  with s3:* is created; its keys are in `MotoS3.access_key/secret_key`.
- `https_server`: nginx serving a directory over HTTPS with a CA and a server
  certificate (for 127.0.0.1 and localhost) that the fixture generates with
  the `cryptography` package. Push a file store under `HttpsServer.root` and
  read it as `HttpsServer.url/<name>`; trust `HttpsServer.ca_file`.

- `gcs_emulator`: gcp-storage-emulator as a separate process, in memory, on
  a free port; buckets are made through its JSON API. `gcs_proxy` is a
  FaultProxy in front of it that also logs (and can check) Authorization.
- `token_server`: a loopback OAuth2 token endpoint that verifies
  service-account JWTs, and a GCE metadata server.

Use them with `from store_servers import https_server_fixture, moto_s3_fixture  # noqa: F401`
(the fixtures are named `moto_s3`, `https_server`, `gcs_emulator`, `gcs_proxy`
and `token_server`).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not listen on 127.0.0.1:{port}: {log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# ------------------------------------------------------------------ moto S3


@dataclass
class MotoS3:
    endpoint: str
    access_key: str
    secret_key: str

    def env(self) -> dict[str, str]:
        """Environment for the core: this endpoint, these keys, no shared files."""
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": REGION,
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
            "AWS_CONFIG_FILE": "/nonexistent/config",
        }

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )

    def make_bucket(self) -> str:
        name = "lp-" + uuid.uuid4().hex[:16]
        self.client().create_bucket(Bucket=name)
        return name


@pytest.fixture(scope="session", name="moto_s3")
def moto_s3_fixture(tmp_path_factory) -> MotoS3:
    import boto3

    d = tmp_path_factory.mktemp("moto")
    log = d / "moto.log"
    port = free_port()
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "setup",
        "AWS_SECRET_ACCESS_KEY": "setup",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
        "AWS_CONFIG_FILE": "/nonexistent/config",
    }
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from moto.server import main; main()",
                "-H",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        _wait_listening(port, proc, log)
        endpoint = f"http://127.0.0.1:{port}"
        iam = boto3.client(
            "iam",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="setup",
            aws_secret_access_key="setup",
        )
        iam.create_user(UserName="lazypath")
        iam.put_user_policy(
            UserName="lazypath",
            PolicyName="s3-all",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
                }
            ),
        )
        key = iam.create_access_key(UserName="lazypath")["AccessKey"]
        # From now on every request must be signed by a known key.
        req = urllib.request.Request(
            f"{endpoint}/moto-api/reset-auth",
            data=b"0",
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200
        yield MotoS3(endpoint, key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        _stop(proc)


# ------------------------------------------------------------------ nginx + TLS


@dataclass
class HttpsServer:
    url: str  # https://127.0.0.1:PORT
    root: Path  # served directory
    ca_file: Path
    access_log: Path  # "METHOD URI STATUS range=... auth=..." per request

    def new_store(self) -> tuple[Path, str]:
        """A fresh (file store path, https URL) pair served by this server."""
        name = "s-" + uuid.uuid4().hex[:12]
        return self.root / name, f"{self.url}/{name}"


def _make_ca_and_cert(d: Path) -> tuple[Path, Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lazypath test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = d / "ca.pem", d / "server.pem", d / "server.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    return ca_file, cert_file, key_file


@pytest.fixture(scope="session", name="https_server")
def https_server_fixture(tmp_path_factory) -> HttpsServer:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        pytest.fail("nginx is not installed (scripts/bootstrap.sh installs nginx-light)")
    d = tmp_path_factory.mktemp("nginx")
    root = d / "www"
    root.mkdir()
    ca_file, cert_file, key_file = _make_ca_and_cert(d)
    port = free_port()
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (d / sub).mkdir()
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read tmp_path
    conf = d / "nginx.conf"
    conf.write_text(
        f"""{user}daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 256; }}
http {{
    log_format lp '$request_method $uri $status range=$http_range auth=$http_authorization';
    access_log {d}/access.log lp;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert_file};
        ssl_certificate_key {key_file};
        root {root};
        location / {{ }}
    }}
}}
"""
    )
    log = d / "nginx.out"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [nginx, "-p", str(d), "-e", str(d / "error.log"), "-c", str(conf)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_listening(port, proc, d / "error.log")
        yield HttpsServer(f"https://127.0.0.1:{port}", root, ca_file, d / "access.log")
    finally:
        _stop(proc)


def fetch(url: str, ca_file: Path) -> bytes:
    """GET with Python's own TLS stack (for checking the fixture itself)."""
    import ssl

    ctx = ssl.create_default_context(cafile=str(ca_file))
    try:
        with urllib.request.urlopen(url, context=ctx, timeout=10) as r:
            return r.read()
    except urllib.error.HTTPError as e:
        return e.read()


# ------------------------------------------------------------------ fault proxy


class FaultProxy:
    """A loopback HTTP proxy in front of `upstream` that injects faults.

    `plan` is a list of (path substring, fault) consumed in order: the first
    entry whose substring is in a request's path is applied to that request
    and removed. With `always` set, (substring, fault) applies to every
    matching request. Faults: "reset" (close without answering), "503"
    (SlowDown), "truncate" (promise the whole body, send half, close),
    "slow" (answer after `slow_seconds`), and AWS's own answers to a stale
    session token, "expired" (400 ExpiredToken), and to a wrong clock, "skew"
    (403 RequestTimeTooSkewed). The Host header is passed through,
    so SigV4 signatures made for the proxy's address still verify.

    Eventually consistent listing: with `hide_new_seconds` > 0, an S3 key
    (path-style) first created through the proxy, by a PUT that succeeded,
    is left out of every ListObjectsV2 answer for that many seconds, while
    GET and HEAD of it see it at once (keys created while it is 0 are
    never hidden). A key overwritten keeps its first
    time (it was listed before); a key deleted through the proxy is new
    again when it is next created. `hidden` counts the entries left out.
    """

    def __init__(self, upstream: str):
        import http.client
        import http.server
        import threading

        self.upstream = upstream.split("://", 1)[1]
        self.plan: list[tuple[str, str]] = []
        self.always: tuple[str, str] | None = None
        self.slow_seconds = 3.0
        self.log: list[tuple[str, str, str]] = []  # (method, path, fault or "")
        # The Authorization header of every request ("" when none), and an
        # optional hook (method, path, authorization) -> None to forward the
        # request, or (status, JSON body) to answer it instead.
        self.auth_log: list[str] = []
        self.intercept = None
        self.hide_new_seconds = 0.0
        self.hidden = 0
        self._created: dict[str, float] = {}  # "/bucket/key" -> when first created
        self._lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                fault = proxy._take(self.path)
                auth = self.headers.get("Authorization", "")
                with proxy._lock:
                    proxy.log.append((self.command, self.path, fault))
                    proxy.auth_log.append(auth)
                self.close_connection = True
                answer = proxy.intercept(self.command, self.path, auth) if proxy.intercept else None
                if answer is not None:
                    status, err = answer
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(err)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(err)
                    return
                if fault == "reset":
                    return
                canned = {
                    "503": (503, b"<Error><Code>SlowDown</Code><Message>slow</Message></Error>"),
                    "expired": (
                        400,
                        b"<Error><Code>ExpiredToken</Code>"
                        b"<Message>The provided token has expired.</Message></Error>",
                    ),
                    "skew": (
                        403,
                        b"<Error><Code>RequestTimeTooSkewed</Code><Message>The difference "
                        b"between the request time and the current time is too large."
                        b"</Message></Error>",
                    ),
                }
                if fault in canned:
                    status, err = canned[fault]
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(err)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(err)
                    return
                conn = http.client.HTTPConnection(proxy.upstream, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                if fault == "slow":
                    time.sleep(proxy.slow_seconds)
                data = proxy._consistency(self.command, self.path, resp.status, data)
                try:
                    self.send_response(resp.status)
                    for k, v in resp.getheaders():
                        if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                            self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data[: len(data) // 2] if fault == "truncate" else data)
                except OSError:
                    pass  # the client gave up (a timeout we caused)

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _handle

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _take(self, path: str) -> str:
        with self._lock:
            for i, (sub, fault) in enumerate(self.plan):
                if sub in path:
                    del self.plan[i]
                    return fault
            if self.always and self.always[0] in path:
                return self.always[1]
        return ""

    def _consistency(self, method: str, path: str, status: int, data: bytes) -> bytes:
        """Records creations and deletions; hides young keys from listings."""
        import re
        import urllib.parse

        key, _, query = path.partition("?")
        key = urllib.parse.unquote(key)
        with self._lock:
            if method == "PUT" and status == 200 and not query and self.hide_new_seconds > 0:
                self._created.setdefault(key, time.monotonic())
            elif method == "DELETE" and status in (200, 204):
                self._created.pop(key, None)
        if method != "GET" or "list-type=2" not in query or self.hide_new_seconds <= 0:
            return data
        bucket = key.strip("/").split("/", 1)[0]
        now = time.monotonic()

        def keep(m: re.Match) -> bytes:
            name = re.search(rb"<Key>(.*?)</Key>", m.group(0)).group(1).decode()
            at = self._created.get(f"/{bucket}/{name}")
            if at is not None and now - at < self.hide_new_seconds:
                self.hidden += 1
                return b""
            return m.group(0)

        with self._lock:
            return re.sub(rb"<Contents>.*?</Contents>", keep, data, flags=re.S)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(name="fault_proxy")
def fault_proxy_fixture(moto_s3) -> FaultProxy:
    """A FaultProxy in front of the session's moto S3 server."""
    proxy = FaultProxy(moto_s3.endpoint)
    try:
        yield proxy
    finally:
        proxy.close()


# ------------------------------------------------------------------ GCS


GOOGLE_VARS = (
    "STORAGE_EMULATOR_HOST",
    "GOOGLE_OAUTH_ACCESS_TOKEN",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GCE_METADATA_HOST",
)


@dataclass
class GcsEmulator:
    endpoint: str  # http://127.0.0.1:PORT

    @property
    def host(self) -> str:
        return self.endpoint.split("://", 1)[1]

    def env(self, host: str | None = None) -> dict[str, str]:
        """Environment for the core: requests to this emulator (or `host`)."""
        return {"STORAGE_EMULATOR_HOST": host or self.host}

    def make_bucket(self) -> str:
        name = "lp-" + uuid.uuid4().hex[:16]
        req = urllib.request.Request(
            f"{self.endpoint}/storage/v1/b?project=lazypath",
            data=json.dumps({"name": name}).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200
        return name

    def get(self, bucket: str, name: str) -> bytes:
        quoted = urllib.parse.quote(name, safe="")
        url = f"{self.endpoint}/storage/v1/b/{bucket}/o/{quoted}?alt=media"
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.read()

    def put(self, bucket: str, name: str, data: bytes) -> None:
        quoted = urllib.parse.quote(name, safe="")
        req = urllib.request.Request(
            f"{self.endpoint}/upload/storage/v1/b/{bucket}/o?uploadType=media&name={quoted}",
            data=data,
            method="POST",
            headers={"Content-Type": "application/octet-stream"},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200


@pytest.fixture(scope="session", name="gcs_emulator")
def gcs_emulator_fixture(tmp_path_factory) -> GcsEmulator:
    """gcp-storage-emulator as a separate process, in memory, on a free port."""
    d = tmp_path_factory.mktemp("gcs")
    log = d / "gcs.log"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in GOOGLE_VARS}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gcp_storage_emulator",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--in-memory",
                "--quiet",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=d,
        )
    try:
        _wait_listening(port, proc, log)
        endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:  # listening is not answering: wait for the JSON API
            try:
                with urllib.request.urlopen(f"{endpoint}/storage/v1/b", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)
        yield GcsEmulator(endpoint)
    finally:
        _stop(proc)


@pytest.fixture(name="gcs_proxy")
def gcs_proxy_fixture(gcs_emulator) -> FaultProxy:
    """A FaultProxy (faults, Authorization log, intercept hook) in front of the emulator."""
    proxy = FaultProxy(gcs_emulator.endpoint)
    try:
        yield proxy
    finally:
        proxy.close()


class TokenServer:
    """A loopback OAuth2 token endpoint and GCE metadata server.

    POST /token verifies a service-account JWT (RS256 against `public_key`,
    iss, aud, scope, iat/exp) before answering {"access_token": "sa-N",
    "expires_in": expires_in}; a bad assertion gets 400 invalid_grant.
    GET /computeMetadata/v1/instance/service-accounts/default/token needs
    "Metadata-Flavor: Google" and answers "md-N". `issued` lists every token
    handed out; `rejected` every refused request's reason.
    """

    def __init__(self):
        import http.server
        import threading

        from cryptography.hazmat.primitives.asymmetric import rsa

        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_key = self.private_key.public_key()
        self.client_email = "lazypath-ci@test-project.iam.gserviceaccount.com"
        self.expires_in = 3600
        self.issued: list[str] = []
        self.rejected: list[str] = []
        self.clock_offset = 0  # seconds added to "now" when checking iat
        self._lock = threading.Lock()
        srv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(self, status: int, doc: dict) -> None:
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _issue(self, prefix: str) -> None:
                with srv._lock:
                    tok = f"{prefix}-{len(srv.issued) + 1}-{uuid.uuid4().hex}"
                    srv.issued.append(tok)
                self._answer(
                    200,
                    {"access_token": tok, "expires_in": srv.expires_in, "token_type": "Bearer"},
                )

            def _refuse(self, status: int, error: str, why: str) -> None:
                with srv._lock:
                    srv.rejected.append(why)
                self._answer(status, {"error": error, "error_description": why})

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(n).decode())
                if self.path != "/token":
                    return self._refuse(404, "not_found", "no such endpoint")
                if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
                    return self._refuse(400, "unsupported_grant_type", "grant_type")
                why = srv.check_jwt(form.get("assertion", [""])[0], srv.url + "/token")
                if why:
                    return self._refuse(400, "invalid_grant", why)
                self._issue("sa")

            def do_GET(self):
                if self.path != "/computeMetadata/v1/instance/service-accounts/default/token":
                    return self._refuse(404, "not_found", "no such endpoint")
                if self.headers.get("Metadata-Flavor") != "Google":
                    return self._refuse(403, "forbidden", "missing Metadata-Flavor")
                self._issue("md")

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.host = f"127.0.0.1:{self._server.server_address[1]}"
        self.url = f"http://{self.host}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def check_jwt(self, jwt: str, audience: str) -> str:
        """'' when `jwt` is a valid assertion for this key, else why not."""
        import base64

        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        def b64(s: str) -> bytes:
            return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

        parts = jwt.split(".")
        if len(parts) != 3:
            return "not a JWT"
        try:
            header = json.loads(b64(parts[0]))
            claims = json.loads(b64(parts[1]))
            self.public_key.verify(
                b64(parts[2]),
                f"{parts[0]}.{parts[1]}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            return "bad signature"
        except ValueError:
            return "malformed JWT"
        if header.get("alg") != "RS256" or header.get("typ") != "JWT":
            return "bad header"
        if claims.get("iss") != self.client_email:
            return "bad iss"
        if claims.get("aud") != audience:
            return "bad aud"
        if claims.get("scope") != "https://www.googleapis.com/auth/devstorage.read_write":
            return "bad scope"
        now = time.time() + self.clock_offset
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int) or exp - iat != 3600:
            return "bad iat/exp"
        if abs(iat - now) > 300:
            return (
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                "reasonable timeframe. Check your iat and exp values in the JWT claim."
            )
        return ""

    def write_key_file(self, path: Path, token_uri: str | None = None) -> Path:
        from cryptography.hazmat.primitives import serialization

        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        doc = {
            "type": "service_account",
            "project_id": "test-project",
            "private_key_id": uuid.uuid4().hex,
            "private_key": pem,
            "client_email": self.client_email,
            "client_id": "1234",
            "token_uri": token_uri or f"{self.url}/token",
        }
        path.write_text(json.dumps(doc))
        path.chmod(0o600)
        return path

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(name="token_server")
def token_server_fixture() -> TokenServer:
    srv = TokenServer()
    try:
        yield srv
    finally:
        srv.close()
