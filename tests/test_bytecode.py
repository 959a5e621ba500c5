"""Bytecode of activated trees, cached on the node by source content
(lazypath/_bytecode.py, doc/bytecode.md): hits across digests, misses, other
interpreters, damaged entries, concurrent writers, tracebacks, the
environment variables, lazy mode and what gc, clear and verify do to it."""

from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys
from pathlib import Path

import lazypath
import pytest
from conftest import write_tree
from lazypath import _bytecode

APP = {
    "bapp/__init__.py": "from bapp import core\nVALUE = core.VALUE\n",
    "bapp/core.py": "VALUE = 41\n\ndef f():\n    return VALUE + 1\n",
    "bapp/util.py": "def f():\n    return 'util'\n",
    "bapp/twin.py": "def f():\n    return 'util'\n",  # same content as util.py: one entry
    "bapp/boom.py": "def f():\n    x = 1\n    raise ValueError('boom %d' % x)\n",
    "bapp/data.txt": "resource text\n",
}
MODULES = ["bapp", "bapp.core", "bapp.util", "bapp.twin", "bapp.boom"]

CHILD = r"""
import json, sys, os
{prelude}
import lazypath
from lazypath import _bytecode
tree = lazypath.activate(sys.argv[1], sys.argv[2], mode=sys.argv[3])
import importlib
mods = {{}}
for name in sys.argv[4].split(","):
    m = importlib.import_module(name)
    f = getattr(m, "f", None)
    mods[name] = {{
        "file": m.__file__,
        "cached": m.__cached__,
        "co_filename": f.__code__.co_filename if f else None,
    }}
out = {{"tree": tree.path, "stats": _bytecode.stats, "mods": mods,
       "hooked": _bytecode._path_hook in sys.path_hooks}}
{epilogue}
print(json.dumps(out))
"""


def child(
    store, digest, *, mode="eager", modules=MODULES, prelude="", epilogue="", env=None, args=()
) -> dict:
    code = CHILD.format(prelude=prelude, epilogue=epilogue)
    res = subprocess.run(
        [sys.executable, *args, "-c", code, str(store), digest, mode, ",".join(modules)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.splitlines()[-1])


def pyc_files(cache: Path) -> dict[str, tuple[int, int]]:
    """{name: (inode, mtime_ns)} of the entries in the cache's pyc/."""
    top = cache / "pyc"
    if not top.exists():
        return {}
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in top.glob("*/*.pyc")}


def push(tmp_path: Path, store: Path, name: str, files: dict) -> str:
    return lazypath.push(write_tree(tmp_path / name, files), store)


def is_valid_pyc(path: Path, source: bytes) -> bool:
    data = path.read_bytes()
    if data[:16] != _bytecode.header(source):
        return False
    return type(marshal.loads(data[16:])).__name__ == "code"


def test_new_digest_compiles_only_the_changed_module(tmp_path, store, node_cache):
    v1 = push(tmp_path, store, "v1", APP)
    first = child(store, v1)
    # Five modules, four distinct sources (twin.py is util.py's content).
    assert first["stats"]["misses"] == 4 and first["stats"]["hits"] == 1, first["stats"]
    assert first["stats"]["written"] == 4
    before = pyc_files(node_cache)
    assert len(before) == 4

    v2 = push(
        tmp_path, store, "v2", {**APP, "bapp/core.py": "VALUE = 42\n\ndef f():\n    return 0\n"}
    )
    second = child(store, v2)
    assert second["tree"] != first["tree"]
    assert second["stats"]["misses"] == 1 and second["stats"]["hits"] == 4, second["stats"]
    after = pyc_files(node_cache)
    assert len(after) == 5
    # The entries of unchanged sources were read, not rewritten.
    for name, ident in before.items():
        assert after[name] == ident, name
    for m in second["mods"].values():
        assert m["file"].startswith(second["tree"] + os.sep), m
        assert m["cached"].startswith(str(node_cache / "pyc") + os.sep), m
        if m["co_filename"]:
            # A code object compiled under v1's path names v2's file.
            assert m["co_filename"] == m["file"], m


def test_the_same_digest_again_is_all_hits(tmp_path, store):
    v1 = push(tmp_path, store, "v1", APP)
    child(store, v1)
    again = child(store, v1)
    assert again["stats"]["misses"] == 0 and again["stats"]["hits"] == 5, again["stats"]


def test_a_cached_file_is_an_unchecked_hash_based_pyc(tmp_path, store, node_cache):
    v1 = push(tmp_path, store, "v1", APP)
    out = child(store, v1)
    source = (Path(out["tree"]) / "bapp/core.py").read_bytes()
    cached = Path(out["mods"]["bapp.core"]["cached"])
    assert cached.name.endswith(f".{sys.implementation.cache_tag}.opt0.pyc")
    data = cached.read_bytes()
    import importlib.util

    assert data[:4] == importlib.util.MAGIC_NUMBER
    assert int.from_bytes(data[4:8], "little") == 0b01  # hash-based, unchecked
    assert data[8:16] == importlib.util.source_hash(source)
    assert cached.name.startswith(__import__("hashlib").sha256(source).hexdigest())
    assert is_valid_pyc(cached, source)
    assert not any(Path(out["tree"]).rglob("__pycache__"))


def test_another_interpreter_does_not_reuse_the_entries(tmp_path, store, node_cache):
    v1 = push(tmp_path, store, "v1", APP)
    child(store, v1)
    before = pyc_files(node_cache)
    # Another cache tag (another Python): its own entries, beside ours.
    other = child(store, v1, prelude="sys.implementation.cache_tag = 'otherpy-399'")
    assert other["stats"]["hits"] == 1 and other["stats"]["misses"] == 4, other["stats"]
    names = set(pyc_files(node_cache))
    assert len([n for n in names if ".otherpy-399." in n]) == 4
    # Another optimisation level: its own entries too.
    optimised = child(store, v1, args=("-O",))
    assert optimised["stats"]["misses"] == 4, optimised["stats"]
    assert len([n for n in pyc_files(node_cache) if n.endswith(".opt1.pyc")]) == 4
    # Ours were not touched.
    after = pyc_files(node_cache)
    for name, ident in before.items():
        assert after[name] == ident
    # Same cache tag, another magic number (another build of that Python):
    # the entry is refused and replaced.
    cached = next((node_cache / "pyc").glob("*/*.opt0.pyc"))
    data = cached.read_bytes()
    cached.chmod(0o644)
    cached.write_bytes(b"\x00\x00\r\n" + data[4:])
    third = child(store, v1)
    assert third["stats"]["repaired"] == 1 and third["stats"]["misses"] == 1, third["stats"]
    assert cached.read_bytes()[:16] == data[:16]  # this interpreter's header again
    assert type(marshal.loads(cached.read_bytes()[16:])).__name__ == "code"


@pytest.mark.parametrize(
    "damage",
    ["truncated", "empty", "garbage body", "other source's header", "not a code object"],
)
def test_a_damaged_entry_is_recompiled_and_replaced(tmp_path, store, node_cache, damage):
    v1 = push(tmp_path, store, "v1", APP)
    out = child(store, v1)
    cached = Path(out["mods"]["bapp.core"]["cached"])
    good = cached.read_bytes()
    bad = {
        "truncated": good[: len(good) // 2],
        "empty": b"",
        "garbage body": good[:16] + b"\xff" * 40,
        "other source's header": _bytecode.header(b"x = 1\n") + good[16:],
        "not a code object": good[:16] + marshal.dumps(("a", 1)),
    }[damage]
    cached.chmod(0o644)
    cached.write_bytes(bad)
    again = child(store, v1, epilogue="import bapp.core; out['f'] = bapp.core.f()")
    assert again["f"] == 42
    assert again["stats"]["repaired"] == 1 and again["stats"]["misses"] == 1, again["stats"]
    source = (Path(again["tree"]) / "bapp/core.py").read_bytes()
    assert is_valid_pyc(cached, source)
    assert not list((node_cache / "pyc").glob("*/.*"))  # no temporary file left


WRITER = r"""
import sys, time
from lazypath import _bytecode
path, n = sys.argv[1], int(sys.argv[2])
source = open(sys.argv[3], "rb").read()
code = compile(source, "big.py", "exec")
while time.time() < float(sys.argv[4]):
    time.sleep(0.001)
bad = 0
for _ in range(n):
    assert _bytecode.write(path, source, code)
    got = _bytecode.read(path, source)
    bad += got is None or got is False
print(bad)
"""


def test_concurrent_writers_leave_one_valid_file(tmp_path, node_cache):
    # Many processes write and read one entry at once: every read sees a
    # complete file (never half of one), and one valid file stays.
    source = "".join(f"def f{i}(a, b):\n    return a * {i} + b\n" for i in range(3000)).encode()
    src = tmp_path / "big.py"
    src.write_bytes(source)
    path = str(node_cache / "pyc" / "ab" / ("ab" * 32 + ".tag.opt0.pyc"))
    start = str(__import__("time").time() + 1.0)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, path, "30", str(src), start],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    for p in procs:
        stdout, stderr = p.communicate(timeout=120)
        assert p.returncode == 0, stderr
        assert stdout.strip() == "0"
    assert is_valid_pyc(Path(path), source)
    assert os.listdir(os.path.dirname(path)) == [os.path.basename(path)]


def test_concurrent_first_imports_all_succeed(tmp_path, store, node_cache):
    files = {**APP}
    for i in range(40):
        files[f"bapp/m{i}.py"] = f"N = {i}\n" + "def g(x):\n    return x\n" * 20
    v1 = push(tmp_path, store, "v1", files)
    lazypath.pull(store, v1)
    names = MODULES + [f"bapp.m{i}" for i in range(40)]
    code = CHILD.format(prelude="", epilogue="")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(store), v1, "eager", ",".join(names)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    for p in procs:
        stdout, stderr = p.communicate(timeout=120)
        assert p.returncode == 0, stderr
    entries = list((node_cache / "pyc").glob("*/*"))
    assert len(entries) == 44  # 45 modules, twin.py shares util.py's entry
    tree = Path(json.loads(stdout.splitlines()[-1])["tree"])
    by_name = {p.name.split(".")[0]: p for p in entries}
    import hashlib

    for name in names:
        rel = name.replace(".", "/") + (".py" if name != "bapp" else "/__init__.py")
        source = (tree / rel).read_bytes()
        assert is_valid_pyc(by_name[hashlib.sha256(source).hexdigest()], source)
    assert child(store, v1, modules=names)["stats"]["misses"] == 0


def test_tracebacks_name_the_trees_file(tmp_path, store):
    v1 = push(tmp_path, store, "v1", APP)
    child(store, v1)
    v2 = push(tmp_path, store, "v2", {**APP, "bapp/util.py": "U = 2\n"})
    epilogue = (
        "import traceback, bapp.boom\n"
        "try:\n    bapp.boom.f()\n"
        "except ValueError:\n    out['tb'] = traceback.format_exc()\n"
    )
    out = child(store, v2, epilogue=epilogue)
    assert out["stats"]["hits"] >= 1
    boom = os.path.join(out["tree"], "bapp", "boom.py")
    assert f'File "{boom}", line 3, in f' in out["tb"], out["tb"]
    assert "raise ValueError('boom %d' % x)" in out["tb"]  # the source line is found


@pytest.mark.parametrize("dont_write", ["1", None])
def test_pythondontwritebytecode_does_not_matter(tmp_path, store, node_cache, dont_write):
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if dont_write:
        env["PYTHONDONTWRITEBYTECODE"] = dont_write
    v1 = push(tmp_path, store, "v1", APP)
    code = CHILD.format(prelude="", epilogue="out['dwb'] = sys.dont_write_bytecode")
    runs = []
    for _ in range(2):
        res = subprocess.run(
            [sys.executable, "-c", code, str(store), v1, "eager", ",".join(MODULES)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert res.returncode == 0, res.stderr
        runs.append(json.loads(res.stdout.splitlines()[-1]))
    assert runs[0]["dwb"] is bool(dont_write)
    assert runs[0]["stats"]["written"] == 4
    assert runs[1]["stats"]["hits"] == 5 and runs[1]["stats"]["misses"] == 0
    assert not any(Path(runs[0]["tree"]).rglob("__pycache__"))


def test_lazypath_bytecode_read_and_off(tmp_path, store, node_cache):
    v1 = push(tmp_path, store, "v1", APP)
    off = child(store, v1, env={"LAZYPATH_BYTECODE": "off"})
    assert not off["hooked"]
    assert not (node_cache / "pyc").exists()
    read = child(store, v1, env={"LAZYPATH_BYTECODE": "read"})
    assert read["hooked"] and read["stats"]["written"] == 0 and read["stats"]["misses"] == 5
    assert not pyc_files(node_cache)
    child(store, v1)  # on (the default) fills the cache
    read = child(store, v1, env={"LAZYPATH_BYTECODE": "read"})
    assert read["stats"]["hits"] == 5, read["stats"]


def test_lazy_mode_uses_the_cache(tmp_path, store, node_cache):
    v1 = push(tmp_path, store, "v1", APP)
    first = child(store, v1, mode="lazy")
    assert "/lazy/" in first["tree"]
    assert first["stats"]["written"] == 4, first["stats"]
    v2 = push(tmp_path, store, "v2", {**APP, "bapp/boom.py": "B = 1\n"})
    second = child(store, v2, mode="lazy")
    assert second["stats"]["hits"] == 4 and second["stats"]["misses"] == 1, second["stats"]
    # Eager activation of the same content hits the same entries.
    eager = child(store, v2)
    assert eager["stats"]["misses"] == 0, eager["stats"]


def test_resources_and_source_still_work(tmp_path, store):
    v1 = push(tmp_path, store, "v1", APP)
    child(store, v1)
    epilogue = (
        "import importlib.resources, inspect, bapp, bapp.core\n"
        "out['res'] = importlib.resources.files('bapp').joinpath('data.txt').read_text()\n"
        "out['src'] = inspect.getsource(bapp.core.f)\n"
        "out['loader'] = type(bapp.core.__spec__.loader).__name__\n"
    )
    out = child(store, v1, epilogue=epilogue)
    assert out["stats"]["hits"] == 5
    assert out["res"] == "resource text\n"
    assert out["src"] == "def f():\n    return VALUE + 1\n"
    assert out["loader"] == "TreeSourceLoader"


def test_only_trees_of_a_node_cache_are_claimed(tmp_path, node_cache):
    plain = write_tree(tmp_path / "plain", {"m.py": "X = 1\n"})
    assert not _bytecode.install(str(plain))
    with pytest.raises(ImportError):
        _bytecode._path_hook(str(plain))


def test_gc_evict_and_clear_drop_bytecode_with_its_blobs(tmp_path, store, node_cache):
    v1 = push(tmp_path, store, "v1", APP)
    child(store, v1)
    v2 = push(tmp_path, store, "v2", {**APP, "bapp/core.py": "VALUE = 0\n"})
    child(store, v2)
    assert len(pyc_files(node_cache)) == 5
    assert lazypath.cache_verify()["bad_blobs"] == []  # pyc/ is not a blob
    lazypath.cache_evict(v1)  # v1's core.py blob goes, and with it its bytecode
    names = set(pyc_files(node_cache))
    assert len(names) == 4
    import hashlib

    gone = hashlib.sha256(APP["bapp/core.py"].encode()).hexdigest()
    assert not any(n.startswith(gone) for n in names)
    stale = node_cache / "pyc" / "ab" / ".x.pyc.1.2.tmp"
    stale.parent.mkdir(exist_ok=True)
    stale.write_bytes(b"half")
    os.utime(stale, (0, 0))
    lazypath.cache_gc()
    assert not stale.exists()
    assert len(pyc_files(node_cache)) == 4  # v2 is still cached: its bytecode stays
    lazypath.cache_clear()
    assert pyc_files(node_cache) == {}


def test_an_unwritable_cache_only_costs_the_compile(tmp_path, store, node_cache):
    v1 = push(tmp_path, store, "v1", APP)
    lazypath.pull(store, v1)
    (node_cache / "pyc").write_bytes(b"")  # a file where the directory goes: no write can succeed
    out = child(store, v1, epilogue="import bapp.core; out['f'] = bapp.core.f()")
    assert out["f"] == 42
    assert out["stats"]["written"] == 0 and out["stats"]["write_errors"] == 5, out["stats"]
    # No cache file: __cached__ stays what Python computes beside the source.
    cached = out["mods"]["bapp.core"]["cached"]
    assert cached.startswith(os.path.join(out["tree"], "bapp", "__pycache__") + os.sep)
    assert not os.path.exists(cached)


def test_install_drops_a_finder_cached_before_the_hook(tmp_path, store):
    from importlib.machinery import FileFinder

    tree = lazypath.pull(store, push(tmp_path, store, "v1", APP))
    sub = os.path.join(tree.path, "bapp")
    sys.path_importer_cache[tree.path] = FileFinder(tree.path)
    sys.path_importer_cache[sub] = None
    try:
        assert _bytecode.install(tree.path)
        assert _bytecode.install(tree.path)  # idempotent
        assert tree.path not in sys.path_importer_cache and sub not in sys.path_importer_cache
        assert sys.path_hooks.count(_bytecode._path_hook) == 1
        finder = _bytecode._path_hook(sub)
        spec = finder.find_spec("bapp.core")
        assert type(spec.loader) is _bytecode.TreeSourceLoader
        assert spec.origin == os.path.join(sub, "core.py")
    finally:
        sys.path_importer_cache.pop(tree.path, None)
        sys.path_importer_cache.pop(sub, None)
