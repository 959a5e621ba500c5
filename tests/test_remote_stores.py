"""Remote stores against real servers: moto's S3 server, gcp-storage-emulator
and nginx over HTTPS.

One push/pull/activate suite runs unchanged against file://, s3:// (moto,
with IAM auth on, so libcurl's SigV4 signatures are checked), gs://
(gcp-storage-emulator; its own tests are in test_gcs_store.py) and https://
(a file store that nginx serves; pushes go to the file store, reads to the
https URL). Then bad input: unknown scheme, malformed URLs, a missing bucket,
wrong credentials, TLS without the CA, and secrets that must never appear.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import lazypath
import pytest
from conftest import assert_one_line_error, run_cli, tree_files, write_tree
from lazypath.errors import (
    ConflictError,
    InvalidInputError,
    LazypathError,
    NotFoundError,
    StorageError,
    UnavailableError,
    UnsupportedError,
)
from store_servers import (  # noqa: F401
    GOOGLE_VARS,
    fault_proxy_fixture,
    fetch,
    gcs_emulator_fixture,
    https_server_fixture,
    moto_s3_fixture,
)

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCY-SECRETKEY"


@dataclass
class Remote:
    kind: str
    push_url: str  # where pushes go
    url: str  # where reads go (the same but for https)
    env: dict


@pytest.fixture(params=["file", "s3", "gs", "https"])
def remote(request, tmp_path, monkeypatch) -> Remote:
    kind = request.param
    if kind == "file":
        url = (tmp_path / "store").as_uri()
        return Remote(kind, url, url, {})
    if kind == "s3":
        s3 = request.getfixturevalue("moto_s3")
        env = s3.env()
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        url = f"s3://{s3.make_bucket()}/team/app"
        return Remote(kind, url, url, env)
    if kind == "gs":
        gcs = request.getfixturevalue("gcs_emulator")
        for k in GOOGLE_VARS:
            monkeypatch.delenv(k, raising=False)
        env = gcs.env()
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        url = f"gs://{gcs.make_bucket()}/team/app"
        return Remote(kind, url, url, env)
    srv = request.getfixturevalue("https_server")
    path, url = srv.new_store()
    env = {"SSL_CERT_FILE": str(srv.ca_file)}
    monkeypatch.setenv("SSL_CERT_FILE", str(srv.ca_file))
    return Remote(kind, path.as_uri(), url, env)


FILES = {
    "app/__init__.py": "",
    "app/main.py": "def run():\n    return 'remote ok'\n",
    "app/data/table.bin": bytes(range(256)) * 300,
    "lib/util.py": "VALUE = 42\n",
    "README.md": "# hello\n",
}


def test_push_pull_activate(tmp_path, remote, restore_imports):
    src = write_tree(tmp_path / "src", FILES)
    report = lazypath.push_report(src, remote.push_url, tag="prod")
    assert report.digest.startswith("sha256:")
    assert report.blobs_uploaded == report.blobs_total > 0

    tree = lazypath.pull(remote.url, "prod")
    assert tree.digest == report.digest
    assert tree_files(Path(tree.path)) == tree_files(src)
    assert tree.requests > 0
    # bytes_read counts the ref, tree and index too; bytes_fetched only blobs.
    assert tree.bytes_read > tree.bytes_fetched > 0

    # By digest too, and a second pull is served by the node cache.
    again = lazypath.pull(remote.url, report.digest)
    assert again.path == tree.path and again.cached
    assert again.bytes_read == again.bytes_fetched == 0

    active = lazypath.activate(remote.url, "prod")
    assert sys.path[0] == active.path
    importlib.invalidate_caches()
    import app.main

    assert app.main.run() == "remote ok"


def test_repush_uploads_nothing_and_new_tag(tmp_path, remote):
    src = write_tree(tmp_path / "src", FILES)
    first = lazypath.push_report(src, remote.push_url, tag="v1")
    second = lazypath.push_report(src, remote.push_url, tag="v2")
    assert second.digest == first.digest
    assert second.tree_existed and second.blobs_uploaded == 0
    (src / "lib" / "util.py").write_text("VALUE = 43\n")
    third = lazypath.push_report(src, remote.push_url, tag="v3")
    assert third.blobs_uploaded == 1
    t = lazypath.pull(remote.url, "v3")
    assert (Path(t.path) / "lib" / "util.py").read_text() == "VALUE = 43\n"
    assert lazypath.pull(remote.url, "v1").digest == first.digest


def test_push_reads_only_indexes_it_has_not_seen(tmp_path, remote, monkeypatch):
    src = write_tree(tmp_path / "src", FILES)
    reports = []
    for v in range(4):
        (src / "lib" / "util.py").write_text(f"VALUE = {v}\n")
        reports.append(lazypath.push_report(src, remote.push_url))
    # Each push lists the store's indexes but reads only the one pushed
    # before it; the rest come from this machine's summary of the store.
    assert [r.store_indexes for r in reports] == [0, 1, 2, 3]
    assert [r.indexes_fetched for r in reports] == [0, 1, 1, 1]
    assert [r.blobs_uploaded for r in reports[1:]] == [1, 1, 1]

    # A machine without the summary reads them all, and still uploads one blob.
    monkeypatch.setenv("LAZYPATH_CACHE", str(tmp_path / "other-machine"))
    (src / "lib" / "util.py").write_text("VALUE = 'other'\n")
    other = lazypath.push_report(src, remote.push_url, tag="other")
    assert (other.store_indexes, other.indexes_fetched, other.blobs_uploaded) == (4, 4, 1)
    t = lazypath.pull(remote.url, "other")
    assert tree_files(Path(t.path)) == tree_files(src)


def test_push_reports_upload_progress(tmp_path, remote):
    src = write_tree(tmp_path / "src", {**FILES, "big.bin": os.urandom(3 << 20)})
    events = []
    report = lazypath.push_report(
        src, remote.push_url, progress=lambda *e: events.append(e), level=1
    )
    upload = [done for phase, done, total, unit in events if phase == "upload"]
    assert upload, events
    assert upload == sorted(upload)  # bytes only ever go out
    # Everything the push wrote went through the bar (retries would add more).
    assert upload[-1] >= report.bytes_uploaded > 3 << 20
    assert {"scan", "hash", "pack", "upload"} <= {e[0] for e in events}


def test_lazy_activation(tmp_path, remote, restore_imports):
    src = write_tree(tmp_path / "src", FILES)
    lazypath.push(src, remote.push_url, tag="prod")
    lazypath.activate(remote.url, "prod", mode="lazy")
    importlib.invalidate_caches()
    import lib.util

    assert lib.util.VALUE == 42


def test_cli_against_remote(tmp_path, remote):
    src = write_tree(tmp_path / "src", FILES)
    res = run_cli("push", src, remote.push_url, "--tag", "prod", "--json", env=remote.env)
    assert res.returncode == 0, res
    digest = res.json()["digest"]
    res = run_cli("activate", remote.url, "prod", "--json", env=remote.env)
    assert res.returncode == 0, res
    assert res.json()["digest"] == digest
    res = run_cli("cat", remote.url, "prod", "lib/util.py", env=remote.env)
    assert res.returncode == 0, res
    assert res.stdout == "VALUE = 42\n"
    res = run_cli("show", remote.url, "prod", "--json", env=remote.env)
    assert res.returncode == 0, res
    res = run_cli("ls", remote.url, "--json", env=remote.env)
    if remote.kind == "https":
        assert_one_line_error(res, remote.url, "cannot list")
    else:
        assert res.returncode == 0, res
        assert res.json()["refs"] == {"prod": digest}


def test_tag_is_compare_and_swap(tmp_path, remote):
    """Refs move only from the state the writer saw (S3 If-Match, file lock)."""
    src = write_tree(tmp_path / "src", FILES)
    first = lazypath.push(src, remote.push_url)
    (src / "lib" / "util.py").write_text("VALUE = 7\n")
    second = lazypath.push(src, remote.push_url)
    assert lazypath.tag(remote.push_url, first, "prod", expect="none") == first
    with pytest.raises(ConflictError) as ei:
        lazypath.tag(remote.push_url, second, "prod", expect="none")
    assert f"names {first}" in str(ei.value) and "'prod'" in str(ei.value)
    assert lazypath.pull(remote.url, "prod").digest == first
    lazypath.tag(remote.push_url, second, "prod", expect=first)
    # A promotion based on a stale read is refused on the CLI with exit 3.
    res = run_cli("tag", remote.push_url, first, "prod", "--expect", first, env=remote.env)
    assert_one_line_error(res, "'prod'", f"names {second}", code=3)
    assert lazypath.pull(remote.url, "prod").digest == second
    res = run_cli("tag", remote.push_url, first, "prod", "--expect", "sha256:nope")
    assert res.returncode == 1 and "want sha256:<64 hex> or 'none'" in res.stderr


def test_missing_ref_names_store(tmp_path, remote):
    src = write_tree(tmp_path / "src", FILES)
    lazypath.push(src, remote.push_url, tag="prod")
    with pytest.raises(NotFoundError) as ei:
        lazypath.pull(remote.url, "staging")
    assert "'staging'" in str(ei.value) and remote.url in str(ei.value)
    missing = "sha256:" + "0" * 64
    with pytest.raises(NotFoundError) as ei:
        lazypath.pull(remote.url, missing)
    assert missing in str(ei.value)


# ------------------------------------------------------------------ s3 specifics


def test_s3_large_pack_goes_multipart(tmp_path, moto_s3, monkeypatch):
    for k, v in moto_s3.env().items():
        monkeypatch.setenv(k, v)
    big = os.urandom(70 << 20)  # incompressible: one pack over the multipart threshold
    src = write_tree(tmp_path / "src", {"big.bin": big, "small.py": "x = 1\n"})
    url = f"s3://{moto_s3.make_bucket()}/big"
    report = lazypath.push_report(src, url, tag="prod")
    assert report.packs_uploaded == 1
    t = lazypath.pull(url, "prod")
    got = (Path(t.path) / "big.bin").read_bytes()
    assert hashlib.sha256(got).digest() == hashlib.sha256(big).digest()


def test_s3_virtual_host_addressing(tmp_path, moto_s3, monkeypatch):
    """bucket.localhost:PORT (libcurl resolves *.localhost to loopback)."""
    for k, v in moto_s3.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    port = moto_s3.endpoint.rsplit(":", 1)[1]
    bucket = moto_s3.make_bucket()
    url = f"s3://{bucket}/vh?endpoint=http://localhost:{port}&addressing=virtual"
    src = write_tree(tmp_path / "src", FILES)
    digest = lazypath.push(src, url, tag="prod")
    assert lazypath.pull(url, "prod").digest == digest
    # The same objects, seen path-style.
    assert lazypath.pull(f"s3://{bucket}/vh?endpoint={moto_s3.endpoint}", "prod").digest == digest


def test_s3_listing_paginates(tmp_path, moto_s3, monkeypatch):
    for k, v in moto_s3.env().items():
        monkeypatch.setenv(k, v)
    bucket = moto_s3.make_bucket()
    src = write_tree(tmp_path / "src", {"a.py": "a = 1\n"})
    digest = lazypath.push(src, f"s3://{bucket}/p", tag="r0000")
    client = moto_s3.client()
    for i in range(1, 1105):  # more than one ListObjectsV2 page (1000 keys)
        client.put_object(Bucket=bucket, Key=f"p/refs/r{i:04d}", Body=(digest + "\n").encode())
    client.put_object(Bucket=bucket, Key="other/refs/x", Body=b"ignored")
    res = run_cli("ls", f"s3://{bucket}/p", "--json", env=moto_s3.env())
    assert res.returncode == 0, res
    refs = res.json()["refs"]
    assert len(refs) == 1105 and set(refs.values()) == {digest}


def test_s3_profile_from_shared_files(tmp_path, moto_s3, monkeypatch):
    for k, v in moto_s3.env().items():
        monkeypatch.setenv(k, v)
    url = f"s3://{moto_s3.make_bucket()}/p"
    creds = tmp_path / "credentials"
    creds.write_text(
        f"[ci]\naws_access_key_id = {moto_s3.access_key}\n"
        f"aws_secret_access_key = {moto_s3.secret_key}\n"
    )
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_PROFILE", "ci")
    src = write_tree(tmp_path / "src", {"m.py": "M = 1\n"})
    digest = lazypath.push(src, url, tag="prod")
    assert lazypath.pull(url, "prod").digest == digest
    monkeypatch.setenv("AWS_PROFILE", "nosuchprofile")
    with pytest.raises(InvalidInputError, match="'nosuchprofile' not found"):
        lazypath.pull(url, "prod")


def test_s3_missing_bucket(tmp_path, moto_s3, monkeypatch):
    for k, v in moto_s3.env().items():
        monkeypatch.setenv(k, v)
    url = "s3://lp-no-such-bucket/app"
    with pytest.raises(InvalidInputError, match="bucket does not exist"):
        lazypath.pull(url, "prod")
    src = write_tree(tmp_path / "src", {"m.py": "M = 1\n"})
    with pytest.raises(InvalidInputError, match="bucket does not exist"):
        lazypath.push(src, url, tag="prod")
    res = run_cli("activate", url, "prod", env=moto_s3.env())
    assert_one_line_error(res, url, "bucket does not exist")


@pytest.mark.parametrize("which", ["secret", "key", "token"])
def test_s3_wrong_credentials_are_denied_without_the_secret(tmp_path, moto_s3, monkeypatch, which):
    env = moto_s3.env()
    url = f"s3://{moto_s3.make_bucket()}/app"
    if which == "secret":  # SignatureDoesNotMatch (403)
        env["AWS_SECRET_ACCESS_KEY"] = SECRET
    elif which == "key":  # InvalidAccessKeyId (403)
        env["AWS_ACCESS_KEY_ID"] = "AKIA" + "X" * 16
        env["AWS_SECRET_ACCESS_KEY"] = SECRET
    else:  # a session token the server doesn't know (400 InvalidToken)
        env["AWS_SESSION_TOKEN"] = "session-" + SECRET
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(StorageError) as ei:
        lazypath.pull(url, "prod")
    msg = str(ei.value)
    assert "access denied" in msg and url in msg
    assert SECRET not in msg and moto_s3.secret_key not in msg
    src = write_tree(tmp_path / "src", {"m.py": "M = 1\n"})
    res = run_cli("push", src, url, "--tag", "prod", env=env)
    assert_one_line_error(res, url, "access denied")
    assert SECRET not in res.stderr + res.stdout
    assert moto_s3.secret_key not in res.stderr + res.stdout


def test_s3_anonymous_public_bucket_over_https(tmp_path, https_server, monkeypatch):
    """A public bucket, played by nginx: path-style, unsigned, ranged GETs."""
    monkeypatch.setenv("SSL_CERT_FILE", str(https_server.ca_file))
    for var in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    bucket = "pub-" + os.urandom(4).hex()
    src = write_tree(tmp_path / "src", FILES)
    digest = lazypath.push(src, (https_server.root / bucket / "app").as_uri(), tag="prod")
    url = f"s3://{bucket}/app?endpoint={https_server.url}&addressing=path"
    tree = lazypath.pull(url, "prod")
    assert tree.digest == digest and tree_files(Path(tree.path)) == tree_files(src)
    lines = [ln for ln in https_server.access_log.read_text().splitlines() if f"/{bucket}/" in ln]
    assert lines and all(ln.endswith("auth=-") for ln in lines), lines
    assert any(f"GET /{bucket}/app/packs/" in ln and "range=bytes=" in ln for ln in lines)


# ------------------------------------------------------------------ faults


@pytest.mark.parametrize(
    "fault, needle",
    [("expired", "expired token (HTTP 400 ExpiredToken)"), ("skew", "clock skew (HTTP 403")],
)
def test_s3_expired_token_and_clock_skew(
    tmp_path, moto_s3, fault_proxy, monkeypatch, fault, needle
):
    """AWS's answers, injected by the proxy: one clear line, no retries, no secret."""
    env = {**moto_s3.env(), "AWS_SESSION_TOKEN": "FwoGZX-session-" + SECRET}
    env["AWS_ENDPOINT_URL_S3"] = fault_proxy.endpoint
    fault_proxy.always = ("/", fault)
    url = f"s3://{moto_s3.make_bucket()}/app"
    res = run_cli("activate", url, "prod", "--json", env=env)
    line = assert_one_line_error(res, url, needle)
    assert SECRET not in line and SECRET not in res.stdout
    assert len(fault_proxy.log) == 1  # not worth retrying
    src = write_tree(tmp_path / "src", {"m.py": "M = 1\n"})
    res = run_cli("push", src, url, "--tag", "prod", env=env)
    assert_one_line_error(res, url, needle)


def _cache_state(cache: Path) -> dict:
    return {
        sub: sorted(p.relative_to(cache).as_posix() for p in (cache / sub).rglob("*"))
        for sub in ("trees", "blobs")
    }


@pytest.mark.parametrize("fmt", [1, 2], ids=["format1", "format2"])
def test_s3_faults_are_retried_and_never_used(tmp_path, moto_s3, fault_proxy, monkeypatch, fmt):
    for k, v in moto_s3.env().items():
        monkeypatch.setenv(k, v)
    url = f"s3://{moto_s3.make_bucket()}/app"
    src = write_tree(tmp_path / "src", FILES)
    digest = lazypath.push(src, url, tag="prod", format=fmt)  # straight to moto
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", fault_proxy.endpoint)
    monkeypatch.setenv("LAZYPATH_HTTP_TIMEOUT", "1")  # "slow" (3 s) is a stall
    fault_proxy.slow_seconds = 3
    # Format 2 has no index: its directories come from packs/ too.
    index = [("/indexes/", "reset")] if fmt == 1 else []
    fault_proxy.plan = [
        ("/refs/", "503"),
        ("/trees/", "truncate"),
        *index,
        ("/packs/", "reset"),
        ("/packs/", "503"),
        ("/packs/", "truncate"),
        ("/packs/", "slow"),
    ]
    want = [f for _, f in fault_proxy.plan]
    tree = lazypath.pull(url, "prod")
    assert tree.digest == digest
    assert tree_files(Path(tree.path)) == tree_files(src)
    assert fault_proxy.plan == []  # every fault was hit
    faults = [f for _, _, f in fault_proxy.log if f]
    assert faults == want


def test_s3_persistent_faults_fail_after_bounded_retries(
    tmp_path, moto_s3, fault_proxy, monkeypatch, node_cache
):
    for k, v in moto_s3.env().items():
        monkeypatch.setenv(k, v)
    url = f"s3://{moto_s3.make_bucket()}/app"
    src = write_tree(tmp_path / "src", FILES)
    lazypath.push(src, url, tag="prod")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", fault_proxy.endpoint)
    monkeypatch.setenv("LAZYPATH_HTTP_ATTEMPTS", "3")
    fault_proxy.always = ("/packs/", "truncate")
    before = _cache_state(node_cache)
    with pytest.raises(UnavailableError) as ei:
        lazypath.pull(url, "prod")
    msg = str(ei.value)
    assert "gave up after 3 attempts" in msg and url in msg and "packs/" in msg
    assert "\n" not in msg
    assert len([1 for _, p, f in fault_proxy.log if "/packs/" in p]) == 3
    assert _cache_state(node_cache) == before  # nothing partial was published


# ------------------------------------------------------------------ https specifics


def test_https_is_read_only(tmp_path, https_server, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(https_server.ca_file))
    _, url = https_server.new_store()
    src = write_tree(tmp_path / "src", {"m.py": "M = 1\n"})
    with pytest.raises(UnsupportedError, match="read-only store"):
        lazypath.push(src, url, tag="prod")
    res = run_cli("push", src, url, env={"SSL_CERT_FILE": str(https_server.ca_file)})
    assert_one_line_error(res, url, "read-only store")


def test_https_verifies_tls(tmp_path, https_server, monkeypatch):
    path, url = https_server.new_store()
    src = write_tree(tmp_path / "src", {"m.py": "M = 1\n"})
    lazypath.push(src, path.as_uri(), tag="prod")
    assert fetch(f"{url}/refs/prod", https_server.ca_file).startswith(b"sha256:")
    for var in ("SSL_CERT_FILE", "CURL_CA_BUNDLE", "SSL_CERT_DIR"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(LazypathError) as ei:
        lazypath.pull(url, "prod")
    assert url in str(ei.value) and "certificate" in str(ei.value).lower()
    # CURL_CA_BUNDLE works as well as SSL_CERT_FILE.
    monkeypatch.setenv("CURL_CA_BUNDLE", str(https_server.ca_file))
    assert lazypath.pull(url, "prod").files == 1


def test_https_bearer_token_never_printed(tmp_path, https_server, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(https_server.ca_file))
    monkeypatch.setenv("LAZYPATH_HTTP_TOKEN", "tok-" + SECRET)
    path, url = https_server.new_store()
    src = write_tree(tmp_path / "src", {"m.py": "M = 1\n"})
    digest = lazypath.push(src, path.as_uri(), tag="prod")
    assert lazypath.pull(url, "prod").digest == digest  # nginx ignores the token
    with pytest.raises(NotFoundError) as ei:
        lazypath.pull(url, "missing")
    assert SECRET not in str(ei.value)
    res = run_cli("ls", url, env={"LAZYPATH_HTTP_TOKEN": "tok-" + SECRET})
    assert SECRET not in res.stderr + res.stdout


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "url, needle",
    [
        ("ftp://host/x", "unknown scheme 'ftp'"),
        ("s3://", "malformed s3 URL"),
        ("s3:///prefix", "malformed s3 URL"),
        ("s3://Bad_Bucket!/x", "malformed s3 URL"),
        ("s3://bucket/a//b", "malformed s3 URL"),
        ("s3://bucket/app?colour=blue", "unknown option 'colour'"),
        ("https://", "malformed https URL"),
        ("https://host:notaport/x", "malformed port"),
        ("http://127.0.0.1/x", "plain http is not supported"),
    ],
)
def test_bad_store_urls(url, needle):
    with pytest.raises(LazypathError) as ei:
        lazypath.pull(url, "prod")
    assert needle in str(ei.value)
    assert "\n" not in str(ei.value)
    assert_one_line_error(run_cli("activate", url, "prod"), needle)


@pytest.mark.parametrize(
    "url",
    [f"s3://AKIAEXAMPLE:{SECRET}@bucket/app", f"https://user:{SECRET}@127.0.0.1/app"],
)
def test_credentials_in_urls_are_refused_and_not_echoed(url):
    with pytest.raises(InvalidInputError) as ei:
        lazypath.pull(url, "prod")
    assert SECRET not in str(ei.value)
    res = run_cli("activate", url, "prod")
    line = assert_one_line_error(res, "credentials in the URL")
    assert SECRET not in line


def test_unreachable_endpoint_fails_after_bounded_retries(monkeypatch):
    from store_servers import free_port

    port = free_port()  # nothing listens there
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("LAZYPATH_HTTP_ATTEMPTS", "3")
    with pytest.raises(LazypathError) as ei:
        lazypath.pull("s3://bucket/app", "prod")
    msg = str(ei.value)
    assert "gave up after 3 attempts" in msg and "s3://bucket/app" in msg
    assert SECRET not in msg
