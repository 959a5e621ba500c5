"""Independent checks of a file store and a node cache (doc/format.md).

Used by the reliability suites (crash, disk faults, hostile artifacts) after
every fault. They re-derive everything from bytes on disk with hashlib and a
plain re-implementation of the tree format, so a bug in the core cannot hide
itself: a tree directory must hash to its name, a store object must be
complete, refs must point at trees whose index and packs exist.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

# {relative path: ("f" | "x", content bytes) or ("l", target str)}
Entries = dict


def sha_hex(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _esc(s: str) -> str:
    out = bytearray()
    for byte in s.encode():
        if byte <= 0x20 or byte == 0x25 or byte == 0x7F:
            out += b"%%%02X" % byte
        else:
            out.append(byte)
    return out.decode()


def tree_bytes(entries: Entries) -> bytes:
    """The canonical tree bytes of `entries` (doc/format.md, "Tree")."""
    lines = ["lazypath-tree 1\n"]
    for path in sorted(entries, key=lambda p: p.encode()):
        kind, payload = entries[path]
        blob = payload.encode() if kind == "l" else payload
        line = f"{kind} {len(blob)} {sha_hex(blob)} {_esc(path)}"
        if kind == "l":
            line += " " + _esc(payload)
        lines.append(line + "\n")
    return "".join(lines).encode()


def tree_hex(entries: Entries) -> str:
    return sha_hex(tree_bytes(entries))


def read_dir(root: Path) -> Entries:
    """The entries of a materialised directory, following no symlink."""
    out: Entries = {}
    stack = [""]
    while stack:
        rel = stack.pop()
        with os.scandir(root / rel if rel else root) as it:
            for e in it:
                r = f"{rel}/{e.name}" if rel else e.name
                st = e.stat(follow_symlinks=False)
                if stat.S_ISLNK(st.st_mode):
                    out[r] = ("l", os.readlink(e.path))
                elif stat.S_ISDIR(st.st_mode):
                    stack.append(r)
                elif stat.S_ISREG(st.st_mode):
                    kind = "x" if st.st_mode & stat.S_IXUSR else "f"
                    out[r] = (kind, Path(e.path).read_bytes())
                else:
                    raise AssertionError(f"{e.path}: not a file, directory or symlink")
    return out


def check_store(store: Path) -> dict[str, bytes]:
    """Asserts the store holds only complete objects; returns {tree hex: tree bytes}.

    Trees and packs hash to their names; an index exists for every tree and
    names only packs that exist, with frames inside them; every ref points at
    a tree. What sits in .tmp/ is never read and is ignored.
    """
    trees: dict[str, bytes] = {}
    if not store.exists():
        return trees
    for kind in ("trees", "packs"):
        d = store / kind
        for p in sorted(d.iterdir()) if d.exists() else []:
            b = p.read_bytes()
            assert sha_hex(b) == p.name, f"{p}: content does not hash to its name"
            if kind == "trees":
                assert b.startswith(b"lazypath-tree 1\n") and b.endswith(b"\n"), p
                trees[p.name] = b
            else:
                assert b.startswith(b"LZPACK1\n"), p
    idx_dir = store / "indexes"
    indexes = {p.name: p for p in idx_dir.iterdir()} if idx_dir.exists() else {}
    for name, p in indexes.items():
        doc = json.loads(p.read_bytes())  # a torn index would not parse
        assert doc["tree"] == "sha256:" + name, p
        for blob in doc["blobs"]:
            pack = store / "packs" / doc["packs"][blob[2]].split(":", 1)[1]
            assert pack.exists(), f"{p}: names missing pack {pack.name}"
            assert blob[3] + blob[4] <= pack.stat().st_size, f"{p}: frame past end of {pack}"
    for hexname in trees:
        assert hexname in indexes, f"tree {hexname} visible before its index"
    refs = store / "refs"
    for p in sorted(refs.rglob("*")) if refs.exists() else []:
        if p.is_file():
            b = p.read_bytes()
            assert len(b) == 72 and b.startswith(b"sha256:") and b.endswith(b"\n"), p
            assert b[7:71].decode() in trees, f"ref {p} points at a missing tree"
    return trees


def _lazy_expect(entries: Entries) -> tuple[dict[str, set], set]:
    """{dir: names of its files} and the set of directories of `entries`."""
    files: dict[str, set] = {}
    dirs = {""}
    for path in entries:
        parent, _, name = path.rpartition("/")
        files.setdefault(parent, set()).add(name)
        while parent:
            dirs.add(parent)
            parent = parent.rpartition("/")[0]
    return files, dirs


def check_cache(cache: Path, known: dict[str, Entries]) -> int:
    """Asserts every visible tree of the node cache is complete and right.

    `known` maps tree hex to the entries pushed. An eager tree (trees/<hex>)
    must hash to its name. In a lazy tree (lazy/<hex>) every file present must
    be the tree's, a finished directory (0755) must hold all of its files,
    and a placeholder (0700) only its __init__.py. Blobs must hash to their
    names. Returns the number of trees checked.
    """
    checked = 0
    trees = cache / "trees"
    for p in sorted(trees.iterdir()) if trees.exists() else []:
        got = read_dir(p)
        assert tree_hex(got) == p.name, f"{p}: materialised tree does not hash to its name"
        checked += 1
    lazy = cache / "lazy"
    for root in sorted(lazy.iterdir()) if lazy.exists() else []:
        want = known[root.name]
        files, dirs = _lazy_expect(want)
        got = read_dir(root)
        for rel, entry in got.items():
            assert want.get(rel) == entry, f"{root}/{rel}: not the tree's content"
        for d in dirs:
            full = root / d if d else root
            if not full.exists():
                continue
            mode = stat.S_IMODE(full.lstat().st_mode)
            here = {n for n in os.listdir(full) if not (full / n).is_dir()}
            here |= {n for n in os.listdir(full) if (full / n).is_symlink()}
            if mode == 0o755:
                assert here == files.get(d, set()), f"{full}: finished but incomplete"
            else:
                assert mode == 0o700, f"{full}: mode {oct(mode)}"
                assert here <= {"__init__.py"}, f"{full}: placeholder holds {here}"
        checked += 1
    blobs = cache / "blobs"
    for shard in sorted(blobs.iterdir()) if blobs.exists() else []:
        for p in shard.iterdir():
            name = p.name[:-2] if p.name.endswith(".x") else p.name
            assert sha_hex(p.read_bytes()) == name, f"{p}: blob does not hash to its name"
    meta = cache / "meta"
    for p in sorted(meta.glob("*.tree")) if meta.exists() else []:
        assert sha_hex(p.read_bytes()) == p.name[: -len(".tree")], f"{p}: torn tree metadata"
    return checked


def zstd_frame(data: bytes) -> bytes:
    """One zstd frame, from Debian's zstd command (independent of the core)."""
    import subprocess

    return subprocess.run(
        ["zstd", "-q", "-c", "-3", "--no-check"], input=data, check=True, capture_output=True
    ).stdout


def write_artifact(
    store: Path,
    entries: Entries,
    *,
    tree: bytes | None = None,
    blobs: dict[str, tuple[int, bytes, str]] | None = None,
    extra_index: list | None = None,
    index: bytes | None = None,
    ref: str | None = None,
) -> str:
    """Writes a tree, its index and one pack straight into file store `store`.

    Nothing here goes through the core, so the artifact can break any rule:
    `tree` replaces the tree bytes, `blobs` maps a blob hex to (declared size,
    frame bytes, codec) instead of the honest raw frame, `extra_index` adds
    index rows, `index` replaces the index bytes. Returns "sha256:<hex>".
    """
    tb = tree if tree is not None else tree_bytes(entries)
    hexname = sha_hex(tb)
    frames: dict[str, tuple[int, bytes, str]] = {}
    for kind, payload in entries.values():
        if kind != "l" and payload:
            frames[sha_hex(payload)] = (len(payload), payload, "none")
    frames.update(blobs or {})
    pack = bytearray(b"LZPACK1\n")
    rows = []
    for blob_hex in sorted(frames):
        size, frame, codec = frames[blob_hex]
        rows.append(["sha256:" + blob_hex, size, 0, len(pack), len(frame), codec])
        pack += frame
    pack_hex = sha_hex(bytes(pack))
    if index is None:
        doc = {
            "blobs": rows + (extra_index or []),
            "format": "lazypath-index/1",
            "packs": ["sha256:" + pack_hex],
            "tree": "sha256:" + hexname,
        }
        index = (json.dumps(doc, separators=(",", ":"), sort_keys=True) + "\n").encode()
    for key, data in (
        (f"packs/{pack_hex}", bytes(pack)),
        (f"indexes/{hexname}", index),
        (f"trees/{hexname}", tb),
    ):
        (store / key).parent.mkdir(parents=True, exist_ok=True)
        (store / key).write_bytes(data)
    if ref:
        (store / "refs").mkdir(parents=True, exist_ok=True)
        (store / "refs" / ref).write_text(f"sha256:{hexname}\n")
    return "sha256:" + hexname
