"""gs:// specifics against gcp-storage-emulator, through a loopback proxy.

The shared push/pull/activate suite runs against gs:// in
test_remote_stores.py. Here: where tokens come from (GOOGLE_OAUTH_ACCESS_TOKEN,
a service-account key exchanged at a loopback token endpoint that checks the
JWT's RS256 signature and claims, a metadata server via GCE_METADATA_HOST),
that the bearer token reaches the storage server (the proxy in front of the
emulator logs and checks Authorization) and never a message or --json;
refresh of short-lived tokens; bad input (wrong or expired token, missing
bucket, malformed key file, clock skew); faults; resumable uploads;
conditional ref writes (ifGenerationMatch).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import urllib.parse
from pathlib import Path

import lazypath
import pytest
from conftest import assert_one_line_error, run_cli, tree_files, write_tree
from lazypath.errors import (
    ConflictError,
    InvalidInputError,
    StorageError,
    UnavailableError,
)
from store_servers import (  # noqa: F401
    GOOGLE_VARS,
    gcs_emulator_fixture,
    gcs_proxy_fixture,
    token_server_fixture,
)

SECRET = "ya29.SECRET-TOKEN-b8f2c41d9e"
FILES = {
    "app/__init__.py": "",
    "app/main.py": "def run():\n    return 'gcs ok'\n",
    "app/data/table.bin": bytes(range(256)) * 300,
    "lib/util.py": "VALUE = 42\n",
}


def _gcs_error(status: int, message: str, reason: str) -> tuple[int, bytes]:
    doc = {"error": {"code": status, "message": message, "errors": [{"reason": reason}]}}
    return status, json.dumps(doc).encode()


@pytest.fixture
def gs(gcs_emulator, gcs_proxy, monkeypatch):
    """Environment with gs traffic through the proxy and no Google variables;
    returns (url, env) for a fresh bucket."""
    for k in GOOGLE_VARS:
        monkeypatch.delenv(k, raising=False)
    env = gcs_emulator.env(gcs_proxy.endpoint.split("://", 1)[1])
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return f"gs://{gcs_emulator.make_bucket()}/app", env


def _accept_only(tokens) -> callable:
    """An intercept hook: 401 (as GCS answers) unless the bearer token is in `tokens`."""
    denied: list[str] = []

    def hook(method, path, auth):
        if auth.startswith("Bearer ") and auth[len("Bearer ") :] in tokens:
            return None
        denied.append(auth)
        return _gcs_error(401, "Invalid Credentials", "authError")

    hook.denied = denied
    return hook


def _no_secret(text: str, *secrets: str) -> None:
    for s in secrets:
        assert s not in text


# ------------------------------------------------------------------ token sources


def test_access_token_reaches_the_server_and_is_never_printed(tmp_path, gs, gcs_proxy, monkeypatch):
    url, env = gs
    gcs_proxy.intercept = _accept_only({SECRET})
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", SECRET)
    src = write_tree(tmp_path / "src", FILES)
    digest = lazypath.push(src, url, tag="prod")
    tree = lazypath.pull(url, "prod")
    assert tree.digest == digest and tree_files(Path(tree.path)) == tree_files(src)
    assert gcs_proxy.auth_log and set(gcs_proxy.auth_log) == {f"Bearer {SECRET}"}
    assert gcs_proxy.intercept.denied == []

    cli_env = {**env, "GOOGLE_OAUTH_ACCESS_TOKEN": SECRET}
    for args in (("push", src, url, "--tag", "v2", "--json"), ("ls", url, "--json")):
        res = run_cli(*args, env=cli_env)
        assert res.returncode == 0, res
        _no_secret(res.stdout + res.stderr, SECRET)
    res = run_cli("activate", url, "nosuchref", "--json", env=cli_env)
    assert_one_line_error(res, url, "'nosuchref'")
    _no_secret(res.stdout + res.stderr, SECRET)


def test_wrong_token_is_access_denied_without_the_token(tmp_path, gs, gcs_proxy, monkeypatch):
    url, env = gs
    gcs_proxy.intercept = _accept_only({"the-right-token"})
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", SECRET)
    with pytest.raises(StorageError) as ei:
        lazypath.pull(url, "prod")
    msg = str(ei.value)
    assert "access denied" in msg and url in msg and "GOOGLE_OAUTH_ACCESS_TOKEN" in msg
    assert "\n" not in msg
    _no_secret(msg, SECRET)
    src = write_tree(tmp_path / "src", {"m.py": "M = 1\n"})
    res = run_cli(
        "push",
        src,
        url,
        "--tag",
        "prod",
        "--json",
        env={**env, "GOOGLE_OAUTH_ACCESS_TOKEN": SECRET},
    )
    assert_one_line_error(res, url, "access denied")
    _no_secret(res.stdout + res.stderr, SECRET)
    # A token without the permission: 403.
    gcs_proxy.intercept = lambda m, p, a: _gcs_error(
        403, "caller lacks storage.objects.get", "forbidden"
    )
    with pytest.raises(StorageError, match="access denied \\(HTTP 403 forbidden"):
        lazypath.pull(url, "prod")


def test_expired_token_says_so(gs, gcs_proxy, monkeypatch):
    url, _ = gs
    gcs_proxy.intercept = lambda m, p, a: _gcs_error(
        401, "The access token has expired", "authError"
    )
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", SECRET)
    with pytest.raises(StorageError) as ei:
        lazypath.pull(url, "prod")
    assert "expired token" in str(ei.value) and url in str(ei.value)
    _no_secret(str(ei.value), SECRET)


def test_service_account_key_is_exchanged_for_a_token(
    tmp_path, gs, gcs_proxy, token_server, monkeypatch
):
    url, env = gs
    key = token_server.write_key_file(tmp_path / "sa.json")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    gcs_proxy.intercept = _accept_only(token_server.issued)
    src = write_tree(tmp_path / "src", FILES)
    digest = lazypath.push(src, url, tag="prod")
    assert lazypath.pull(url, "prod").digest == digest
    assert token_server.rejected == [] and gcs_proxy.intercept.denied == []
    # One token per opened store, cached across its many requests.
    assert 1 <= len(token_server.issued) <= 3 < len(gcs_proxy.auth_log)
    assert {a.split(" ", 1)[1] for a in gcs_proxy.auth_log} <= set(token_server.issued)
    res = run_cli("ls", url, "--json", env={**env, "GOOGLE_APPLICATION_CREDENTIALS": str(key)})
    assert res.returncode == 0 and res.json()["refs"] == {"prod": digest}, res
    pem_line = key.read_text().split("\\n")[1]
    for tok in token_server.issued:
        _no_secret(res.stdout + res.stderr, tok, pem_line)


def test_short_lived_tokens_are_refreshed_before_expiry(
    tmp_path, gs, gcs_proxy, token_server, monkeypatch
):
    url, _ = gs
    key = token_server.write_key_file(tmp_path / "sa.json")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    src = write_tree(tmp_path / "src", FILES)
    digest = lazypath.push(src, url, tag="prod")
    token_server.expires_in = 1
    issued_at: dict[str, float] = {}
    denied: list[str] = []

    def hook(method, path, auth):  # the server side of expiry
        tok = auth.split(" ", 1)[-1]
        if tok not in token_server.issued:
            denied.append("unknown")
            return _gcs_error(401, "Invalid Credentials", "authError")
        first = issued_at.setdefault(tok, time.monotonic())
        if time.monotonic() - first > 2.5:
            denied.append("expired")
            return _gcs_error(401, "The access token has expired", "authError")
        return None

    gcs_proxy.intercept = hook
    gcs_proxy.slow_seconds = 1.5
    gcs_proxy.plan = [("%2Ftrees%2F", "slow"), ("%2Fpacks%2F", "slow")]
    before = len(token_server.issued)
    tree = lazypath.pull(url, "prod")
    assert tree.digest == digest
    assert gcs_proxy.plan == []
    assert denied == []  # refreshed before the server would refuse
    assert len(token_server.issued) - before >= 2


def test_metadata_server_token(tmp_path, gs, gcs_proxy, token_server, monkeypatch):
    url, _ = gs
    monkeypatch.setenv("GCE_METADATA_HOST", token_server.host)
    gcs_proxy.intercept = _accept_only(token_server.issued)
    src = write_tree(tmp_path / "src", FILES)
    digest = lazypath.push(src, url, tag="prod")
    assert lazypath.pull(url, "prod").digest == digest
    assert token_server.issued and all(t.startswith("md-") for t in token_server.issued)
    assert gcs_proxy.intercept.denied == []


def test_anonymous_against_the_emulator(tmp_path, gs, gcs_proxy):
    url, _ = gs
    src = write_tree(tmp_path / "src", {"m.py": "M = 1\n"})
    digest = lazypath.push(src, url, tag="prod")
    assert lazypath.pull(url, "prod").digest == digest
    assert set(gcs_proxy.auth_log) == {""}


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "content, needle",
    [
        ("{not json " + SECRET, "malformed (not a JSON object)"),
        (
            json.dumps({"type": "service_account", "client_email": "a@b", "private_key": SECRET}),
            "malformed private_key",
        ),
        (
            json.dumps({"type": "authorized_user", "refresh_token": SECRET}),
            "unsupported credential type",
        ),
    ],
)
def test_malformed_key_file_names_the_path_not_the_content(
    tmp_path, gs, content, needle, monkeypatch
):
    url, env = gs
    key = tmp_path / "sa.json"
    key.write_text(content)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    with pytest.raises(InvalidInputError) as ei:
        lazypath.pull(url, "prod")
    msg = str(ei.value)
    assert str(key) in msg and needle in msg and url in msg
    _no_secret(msg, SECRET)
    res = run_cli("activate", url, "prod", env={**env, "GOOGLE_APPLICATION_CREDENTIALS": str(key)})
    assert_one_line_error(res, str(key), needle)
    _no_secret(res.stderr + res.stdout, SECRET)


def test_unreadable_key_file(gs, monkeypatch):
    url, _ = gs
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/sa.json")
    with pytest.raises(InvalidInputError, match="key file /nonexistent/sa.json: unreadable"):
        lazypath.pull(url, "prod")


def test_clock_skew_at_the_token_endpoint(tmp_path, gs, token_server, monkeypatch):
    url, env = gs
    key = token_server.write_key_file(tmp_path / "sa.json")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    token_server.clock_offset = 3 * 3600  # the server's clock is 3 h ahead
    with pytest.raises(StorageError) as ei:
        lazypath.pull(url, "prod")
    msg = str(ei.value)
    assert "clock skew" in msg and str(key) in msg and url in msg
    res = run_cli("activate", url, "prod", env={**env, "GOOGLE_APPLICATION_CREDENTIALS": str(key)})
    assert_one_line_error(res, "clock skew", str(key))


def test_token_endpoint_refusal(tmp_path, gs, token_server, monkeypatch):
    """A key the endpoint doesn't know (another key pair): refused, one line."""
    url, _ = gs
    key = token_server.write_key_file(tmp_path / "sa.json")
    token_server.client_email = "someone-else@test-project.iam.gserviceaccount.com"
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    with pytest.raises(StorageError) as ei:
        lazypath.pull(url, "prod")
    assert "token request refused (HTTP 400 invalid_grant)" in str(ei.value)
    assert token_server.rejected == ["bad iss"]


def test_missing_bucket(tmp_path, gs, monkeypatch):
    url = "gs://lp-no-such-bucket/app"
    with pytest.raises(InvalidInputError, match="bucket does not exist"):
        lazypath.pull(url, "prod")
    src = write_tree(tmp_path / "src", {"m.py": "M = 1\n"})
    with pytest.raises(InvalidInputError, match="bucket does not exist"):
        lazypath.push(src, url, tag="prod")
    res = run_cli("activate", url, "prod", env=gs[1])
    assert_one_line_error(res, url, "bucket does not exist")


@pytest.mark.parametrize(
    "url, needle",
    [
        ("gs://", "malformed gs URL"),
        ("gs://Bad_Bucket!/x", "malformed gs URL"),
        ("gs://bucket/a//b", "malformed gs URL"),
        ("gs://bucket/app?x=1", "malformed gs URL"),
        (f"gs://user:{SECRET}@bucket/app", "credentials in the URL"),
    ],
)
def test_bad_gs_urls(url, needle):
    with pytest.raises(InvalidInputError) as ei:
        lazypath.pull(url, "prod")
    assert needle in str(ei.value)
    _no_secret(str(ei.value), SECRET)
    line = assert_one_line_error(run_cli("activate", url, "prod"), needle)
    _no_secret(line, SECRET)


# ------------------------------------------------------------------ faults


def _cache_state(cache: Path) -> dict:
    return {
        sub: sorted(p.relative_to(cache).as_posix() for p in (cache / sub).rglob("*"))
        for sub in ("trees", "blobs")
    }


@pytest.mark.parametrize("fmt", [1, 2], ids=["format1", "format2"])
def test_faults_are_retried_and_never_used(tmp_path, gs, gcs_proxy, monkeypatch, fmt):
    url, _ = gs
    src = write_tree(tmp_path / "src", FILES)
    digest = lazypath.push(src, url, tag="prod", format=fmt)
    monkeypatch.setenv("LAZYPATH_HTTP_TIMEOUT", "1")  # "slow" (3 s) is a stall
    gcs_proxy.log.clear()
    # Format 2 has no index: its directories come from packs/ too.
    index = [("%2Findexes%2F", "reset")] if fmt == 1 else []
    gcs_proxy.plan = [
        ("%2Frefs%2F", "503"),
        ("%2Ftrees%2F", "truncate"),
        *index,
        ("%2Fpacks%2F", "reset"),
        ("%2Fpacks%2F", "503"),
        ("%2Fpacks%2F", "truncate"),
        ("%2Fpacks%2F", "slow"),
    ]
    want = [f for _, f in gcs_proxy.plan]
    tree = lazypath.pull(url, "prod")
    assert tree.digest == digest
    assert tree_files(Path(tree.path)) == tree_files(src)
    assert gcs_proxy.plan == []
    faults = [f for _, _, f in gcs_proxy.log if f]
    assert faults == want


def test_persistent_faults_fail_after_bounded_retries(
    tmp_path, gs, gcs_proxy, monkeypatch, node_cache
):
    url, _ = gs
    src = write_tree(tmp_path / "src", FILES)
    lazypath.push(src, url, tag="prod")
    monkeypatch.setenv("LAZYPATH_HTTP_ATTEMPTS", "3")
    gcs_proxy.log.clear()
    gcs_proxy.always = ("%2Fpacks%2F", "truncate")
    before = _cache_state(node_cache)
    with pytest.raises(UnavailableError) as ei:
        lazypath.pull(url, "prod")
    msg = str(ei.value)
    assert "gave up after 3 attempts" in msg and url in msg and "packs/" in msg
    assert "\n" not in msg
    assert len([1 for _, p, _ in gcs_proxy.log if "%2Fpacks%2F" in p]) == 3
    assert _cache_state(node_cache) == before


# ------------------------------------------------------------------ uploads and refs


def test_large_pack_goes_resumable_and_survives_a_reset(tmp_path, gs, gcs_proxy, gcs_emulator):
    url, _ = gs
    big = os.urandom(20 << 20)  # incompressible: one pack over the resumable threshold
    src = write_tree(tmp_path / "src", {"big.bin": big, "small.py": "x = 1\n"})
    gcs_proxy.plan = [("upload_id=", "reset")]  # the first chunk's first try
    report = lazypath.push_report(src, url, tag="prod")
    assert report.packs_uploaded == 1 and gcs_proxy.plan == []
    starts = [p for m, p, _ in gcs_proxy.log if m == "POST" and "uploadType=resumable" in p]
    chunks = [p for m, p, f in gcs_proxy.log if m == "PUT" and "upload_id=" in p and not f]
    assert len(starts) == 1 and "%2Fpacks%2F" in starts[0]
    assert len(chunks) == 2  # 16 MiB + 4 MiB
    t = lazypath.pull(url, "prod")
    got = (Path(t.path) / "big.bin").read_bytes()
    assert hashlib.sha256(got).digest() == hashlib.sha256(big).digest()


def test_resumable_upload_resumes_from_what_the_server_holds(tmp_path, gs, gcs_proxy, monkeypatch):
    """The second chunk fails every retry (503): the upload asks the session
    where it stands and sends only the rest, never the first chunk again."""
    url, _ = gs
    monkeypatch.setenv("LAZYPATH_HTTP_ATTEMPTS", "2")
    big = os.urandom(20 << 20)
    src = write_tree(tmp_path / "src", {"big.bin": big})
    puts: list[int] = []

    def hook(method, path, auth):
        if method != "PUT" or "upload_id=" not in path:
            return None
        puts.append(len(puts))
        if len(puts) in (2, 3):  # both tries of the second chunk
            return _gcs_error(503, "backend unavailable", "backendError")
        return None

    gcs_proxy.intercept = hook
    lazypath.push(src, url, tag="prod")
    # chunk 1, chunk 2 twice (503), the status query, the rest of chunk 2
    assert len(puts) == 5
    gcs_proxy.intercept = None
    t = lazypath.pull(url, "prod")
    got = (Path(t.path) / "big.bin").read_bytes()
    assert hashlib.sha256(got).digest() == hashlib.sha256(big).digest()


def test_listing_follows_page_tokens(tmp_path, gs, gcs_proxy, gcs_emulator):
    """The emulator answers a listing in one page; the proxy splits its real
    answer into pages of three with opaque tokens, as GCS pages."""
    import urllib.request

    url, env = gs
    src = write_tree(tmp_path / "src", {"a.py": "a = 1\n"})
    digest = lazypath.push(src, url, tag="r00")
    for i in range(1, 8):
        lazypath.tag(url, digest, f"r{i:02d}")
    pages: list[str] = []

    def hook(method, path, auth):
        split = urllib.parse.urlsplit(path)
        if method != "GET" or not split.path.endswith("/o"):
            return None
        query = urllib.parse.parse_qs(split.query)
        with urllib.request.urlopen(gcs_emulator.endpoint + path, timeout=10) as r:
            items = json.loads(r.read()).get("items", [])
        start = int(query.get("pageToken", ["0"])[0].removeprefix("page-"))
        pages.append(query.get("prefix", [""])[0])
        doc = {"kind": "storage#objects", "items": items[start : start + 3]}
        if start + 3 < len(items):
            doc["nextPageToken"] = f"page-{start + 3}"
        return 200, json.dumps(doc).encode()

    gcs_proxy.intercept = hook
    res = run_cli("ls", url, "--json", env=env)
    assert res.returncode == 0, res
    assert res.json()["refs"] == {f"r{i:02d}": digest for i in range(8)}
    assert pages.count("app/refs/") == 3  # 8 refs in pages of 3


def _generation(gcs_emulator, bucket: str, name: str) -> str:
    import urllib.request

    quoted = urllib.parse.quote(name, safe="")
    with urllib.request.urlopen(f"{gcs_emulator.endpoint}/storage/v1/b/{bucket}/o/{quoted}") as r:
        return json.loads(r.read())["generation"]


def test_refs_are_written_with_if_generation_match(tmp_path, gs, gcs_proxy, gcs_emulator):
    url, _ = gs
    bucket = url[len("gs://") :].split("/")[0]
    src = write_tree(tmp_path / "src", FILES)
    first = lazypath.push(src, url)
    (src / "lib" / "util.py").write_text("VALUE = 7\n")
    second = lazypath.push(src, url)
    gcs_proxy.log.clear()
    lazypath.tag(url, first, "prod", expect="none")
    ref_writes = [p for m, p, _ in gcs_proxy.log if m == "POST" and "refs%2Fprod" in p]
    assert len(ref_writes) == 1 and "ifGenerationMatch=0" in ref_writes[0]
    gen = _generation(gcs_emulator, bucket, "app/refs/prod")
    gcs_proxy.log.clear()
    lazypath.tag(url, second, "prod", expect=first)
    ref_writes = [p for m, p, _ in gcs_proxy.log if m == "POST" and "refs%2Fprod" in p]
    assert len(ref_writes) == 1 and f"ifGenerationMatch={gen}" in ref_writes[0]
    assert lazypath.pull(url, "prod").digest == second


def test_a_lost_race_is_a_conflict(tmp_path, gs, gcs_proxy, gcs_emulator):
    """Another writer moves the ref between our read and our write.

    gcp-storage-emulator ignores ifGenerationMatch, so the proxy plays GCS's
    part: the other writer's upload lands first, and our conditional upload,
    whose generation is now stale, gets 412 conditionNotMet.
    """
    url, _ = gs
    bucket = url[len("gs://") :].split("/")[0]
    src = write_tree(tmp_path / "src", FILES)
    first = lazypath.push(src, url, tag="prod")
    (src / "lib" / "util.py").write_text("VALUE = 8\n")
    second = lazypath.push(src, url)
    (src / "lib" / "util.py").write_text("VALUE = 9\n")
    third = lazypath.push(src, url)
    lock = threading.Lock()

    def hook(method, path, auth):
        if method != "POST" or "refs%2Fprod" not in path or "ifGenerationMatch=" not in path:
            return None
        with lock:
            gcs_emulator.put(bucket, "app/refs/prod", (third + "\n").encode())
            live = _generation(gcs_emulator, bucket, "app/refs/prod")
        sent = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)["ifGenerationMatch"][0]
        assert sent != live
        return _gcs_error(
            412, "At least one of the pre-conditions you specified did not hold.", "conditionNotMet"
        )

    gcs_proxy.intercept = hook
    with pytest.raises(ConflictError) as ei:
        lazypath.tag(url, second, "prod", expect=first)
    msg = str(ei.value)
    assert "'prod'" in msg and f"moved to {third}" in msg and url in msg
    gcs_proxy.intercept = None
    assert lazypath.pull(url, "prod").digest == third
