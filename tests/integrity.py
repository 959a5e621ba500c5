"""Independent checks of a file store and a node cache (doc/format.md).

Used by the reliability suites (crash, disk faults, hostile artifacts) after
every fault. They re-derive everything from bytes on disk with hashlib, the
zstd command and plain re-implementations of both tree formats (format 2's
builder is doc/vectors/format2.py; its reader is below), so a bug in the
core cannot hide itself: a tree directory must hash to its name, a store
object must be complete, refs must point at trees whose index and packs
exist (format 1) or whose every directory, chunk list and file can be read
from the packs and verified (format 2).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "doc" / "vectors"))
import format2 as f2  # noqa: E402

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


def tree_hex2(entries: Entries) -> str:
    """The format 2 digest of `entries`: its root directory object's hash."""
    flat = []
    for path, (kind, payload) in entries.items():
        if kind == "l":
            flat.append({"path": path, "kind": "l", "target": payload})
            continue
        e = {"path": path, "kind": kind, "size": len(payload), "hash": f2.sha(payload)}
        if len(payload) > f2.CHUNK_THRESHOLD:
            clist = f2.chunk_list(f2.chunk(payload))
            e["list_hash"], e["list_size"] = f2.sha(clist), len(clist)
        flat.append(e)
    return f2.sha(f2.build(flat)[""][1]).hex()


def tree_digests(entries: Entries) -> set[str]:
    """The names `entries` has in either format."""
    return {tree_hex(entries), tree_hex2(entries)}


# --- reading format 2 from a file store -------------------------------------


def _uvarint(b: bytes, i: int) -> tuple[int, int]:
    v = shift = 0
    while True:
        assert i < len(b), "truncated varint"
        byte = b[i]
        i += 1
        v |= (byte & 0x7F) << shift
        if byte < 0x80:
            return v, i
        shift += 7
        assert shift < 70, "varint too long"


def _unzstd(data: bytes) -> bytes:
    return subprocess.run(
        ["zstd", "-d", "-q", "-c"], input=data, check=True, capture_output=True
    ).stdout


def parse_directory(b: bytes) -> list[dict]:
    assert b[:4] == b"LZD2", "not a directory object"
    n, i = _uvarint(b, 4)
    out = []
    for _ in range(n):
        kind = chr(b[i])
        ln, i = _uvarint(b, i + 1)
        e = {"kind": kind, "name": b[i : i + ln].decode()}
        i += ln
        if kind in "fx":
            e["size"], i = _uvarint(b, i)
            if e["size"] > 0:
                e["hash"], i = b[i : i + 32], i + 32
            if e["size"] > f2.CHUNK_THRESHOLD:
                e["list_size"], i = _uvarint(b, i)
        elif kind == "l":
            ln, i = _uvarint(b, i)
            e["target"], i = b[i : i + ln].decode(), i + ln
        else:
            assert kind == "d", f"entry kind {kind!r}"
            e["hash"], i = b[i : i + 32], i + 32
            e["size"], i = _uvarint(b, i)
            e["entries"], i = _uvarint(b, i)
            e["bytes"], i = _uvarint(b, i)
            e["flags"], i = b[i], i + 1
            if e["flags"] & f2.INIT_FLAG:
                e["init_size"], i = _uvarint(b, i)
                if e["init_size"] > 0:
                    i += 32
        out.append(e)
    assert i == len(b), "bytes after the last entry"
    return out


def parse_locator(b: bytes) -> tuple[list[bytes], list[dict]]:
    assert b[:4] == b"LZL2", "not a locator"
    n, i = _uvarint(b, 4)
    packs = [b[i + 32 * k : i + 32 * (k + 1)] for k in range(n)]
    i += 32 * n
    n, i = _uvarint(b, i)
    slots = []
    for _ in range(n):
        tag = b[i]
        i += 1
        slot = {"type": tag & 3, "zstd": bool(tag & 4), "init_zstd": bool(tag & 8)}
        if slot["type"] >= 1:
            slot["pack"], i = _uvarint(b, i)
            slot["offset"], i = _uvarint(b, i)
            slot["length"], i = _uvarint(b, i)
        if slot["type"] >= 2:
            slot["lsize"], i = _uvarint(b, i)
        if slot["type"] == 3:
            slot["init_pack"], i = _uvarint(b, i)
            slot["init_offset"], i = _uvarint(b, i)
            slot["init_length"], i = _uvarint(b, i)
        slots.append(slot)
    assert i == len(b), "bytes after the last slot"
    return packs, slots


_packs_read: set[str] | None = None  # where read_tree2 records the packs it reads


def _raw_frame(store: Path, pack: bytes, offset: int, length: int) -> bytes:
    p = store / "packs" / pack.hex()
    if _packs_read is not None:
        _packs_read.add(p.name)
    assert p.exists(), f"names missing pack {p.name}"
    with open(p, "rb") as f:
        f.seek(offset)
        raw = f.read(length)
    assert len(raw) == length, f"frame past the end of pack {p.name}"
    return raw


def _decode_all(frames: list[tuple[bytes, bool, int]]) -> list[bytes]:
    """Decodes (raw bytes, is zstd, decoded size) frames: the zstd ones in
    one zstd process (concatenated frames decode to the concatenation)."""
    zstd = [(raw, size) for raw, z, size in frames if z]
    joined = _unzstd(b"".join(raw for raw, _ in zstd)) if zstd else b""
    assert len(joined) == sum(size for _, size in zstd), "frames decode to other sizes"
    out, at = [], 0
    for raw, z, size in frames:
        if z:
            out.append(joined[at : at + size])
            at += size
        else:
            assert len(raw) == size, "a raw frame of the wrong size"
            out.append(raw)
    return out


def read_tree2(
    store: Path, hexname: str, record: bytes, packs_read: set[str] | None = None
) -> Entries:
    """Every entry of format 2 tree `hexname`, each object verified. Reads
    level by level: each level's frames are decoded together. The hex name
    of every pack a frame was read from is added to `packs_read`."""
    dsize, i = _uvarint(record, 4)
    lsize, i = _uvarint(record, i)
    codec, body = record[i], record[i + 1 :]
    content = _unzstd(body) if codec == 1 else body
    assert len(content) == dsize + lsize, f"tree {hexname}: record sizes"
    assert f2.sha(content[:dsize]).hex() == hexname, f"tree {hexname}: root does not hash"
    global _packs_read
    _packs_read = packs_read
    try:
        return _walk_tree2(store, content[:dsize], content[dsize:])
    finally:
        _packs_read = None


def _walk_tree2(store: Path, root: bytes, root_locator: bytes) -> Entries:
    out: Entries = {}
    level = [("", root, root_locator, None)]
    while level:
        # What this level's directories point at: (rel, entry, pack, slot).
        wanted = []
        for path, obj, loc, holding in level:
            entries = parse_directory(obj)
            packs, slots = parse_locator(loc)
            assert len(slots) == len(entries), f"{path or '/'}: one slot per entry"
            for e, slot in zip(entries, slots):
                rel = f"{path}/{e['name']}" if path else e["name"]
                if e["kind"] == "l":
                    out[rel] = ("l", e["target"])
                elif e["kind"] in "fx" and e["size"] == 0:
                    out[rel] = (e["kind"], b"")
                else:
                    pack = packs[slot["pack"]]
                    if pack == bytes(32):  # the pack holding this directory's frame
                        pack = holding
                    wanted.append((rel, e, pack, slot))

        def size_of(e: dict, slot: dict) -> int:
            if e["kind"] == "d":
                return e["size"] + slot["lsize"]
            if e["size"] > f2.CHUNK_THRESHOLD:
                return e["list_size"] + slot["lsize"]
            return e["size"]

        got = _decode_all(
            [
                (
                    _raw_frame(store, pack, slot["offset"], slot["length"]),
                    slot["zstd"],
                    size_of(e, slot),
                )
                for _, e, pack, slot in wanted
            ]
        )
        chunked = []
        level = []
        for (rel, e, pack, _), data in zip(wanted, got):
            if e["kind"] == "d":
                inner = data[: e["size"]]
                assert f2.sha(inner) == e["hash"], f"{rel}: object does not hash"
                level.append((rel, inner, data[e["size"] :], pack))
            elif e["size"] > f2.CHUNK_THRESHOLD:
                inner = data[: e["list_size"]]
                assert f2.sha(inner) == e["hash"], f"{rel}: chunk list does not hash"
                chunked.append((rel, e, pack, inner, data[e["list_size"] :]))
            else:
                assert f2.sha(data) == e["hash"], f"{rel}: blob does not hash"
                out[rel] = (e["kind"], data)
        for rel, e, pack, clist, cloc in chunked:
            cpacks, cslots = parse_locator(cloc)
            n, j = _uvarint(clist, 4)
            sizes = []
            for _ in range(n):
                csize, j = _uvarint(clist, j)
                sizes.append((csize, clist[j : j + 32]))
                j += 32
            assert len(cslots) == len(sizes), f"{rel}: one slot per chunk"
            frames = []
            for cs, (csize, _) in zip(cslots, sizes):
                cp = cpacks[cs["pack"]]
                cp = pack if cp == bytes(32) else cp
                raw = _raw_frame(store, cp, cs["offset"], cs["length"])
                frames.append((raw, cs["zstd"], csize))
            parts = _decode_all(frames)
            for part, (_, chash) in zip(parts, sizes):
                assert f2.sha(part) == chash, f"{rel}: chunk does not hash"
            whole = b"".join(parts)
            assert len(whole) == e["size"], f"{rel}: chunks do not add up"
            out[rel] = (e["kind"], whole)
    return out


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
    records: dict[str, bytes] = {}
    for kind in ("trees", "packs", "locs"):
        d = store / kind
        for p in sorted(d.iterdir()) if d.exists() else []:
            b = p.read_bytes()
            if kind == "trees" and b.startswith(b"LZT2"):
                records[p.name] = b  # format 2: named by its root directory
                trees[p.name] = b
                continue
            assert sha_hex(b) == p.name, f"{p}: content does not hash to its name"
            if kind == "trees":
                assert b.startswith(b"lazypath-tree 1\n") and b.endswith(b"\n"), p
                trees[p.name] = b
            elif kind == "packs":
                assert b.startswith(b"LZPACK1\n"), p
            else:
                assert b.startswith(b"LZX2"), p
    for hexname, record in records.items():
        try:
            read_tree2(store, hexname, record)
        except (AssertionError, subprocess.CalledProcessError, IndexError) as e:
            raise AssertionError(f"tree {hexname} of {store} is not whole: {e}") from e
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
        if hexname not in records:
            assert hexname in indexes, f"tree {hexname} visible before its index"
    refs = store / "refs"
    for p in sorted(refs.rglob("*")) if refs.exists() else []:
        if p.is_file():
            b = p.read_bytes()
            assert len(b) == 72 and b.startswith(b"sha256:") and b.endswith(b"\n"), p
            assert b[7:71].decode() in trees, f"ref {p} points at a missing tree"
    return trees


OBJECT_DIRS = ("trees", "indexes", "profiles", "locs", "packs")


def object_keys(store: Path) -> set[str]:
    """Every object key of a file store that prune may delete (doc/lifecycle.md)."""
    out = set()
    for kind in OBJECT_DIRS:
        d = store / kind
        out |= {f"{kind}/{p.name}" for p in d.iterdir()} if d.exists() else set()
    return out


def ref_targets(store: Path) -> dict[str, str]:
    """{ref name: tree hex} of a file store."""
    refs = store / "refs"
    return {
        p.relative_to(refs).as_posix(): p.read_bytes()[7:71].decode()
        for p in (refs.rglob("*") if refs.exists() else [])
        if p.is_file()
    }


def reached_keys(store: Path, trees: list[str]) -> set[str]:
    """The keys the walk of `trees` reads: each tree object, and for format 1
    its index and the packs the index names, for format 2 every pack one of
    its frames is read from. Asserts each tree is whole on the way.
    Locations objects and profiles are not included: a locations object is
    live while a pack it names is, which needs its parser (not here)."""
    out: set[str] = set()
    for hexname in trees:
        b = (store / "trees" / hexname).read_bytes()
        out.add(f"trees/{hexname}")
        if b.startswith(b"LZT2"):
            packs: set[str] = set()
            read_tree2(store, hexname, b, packs)
            out |= {f"packs/{p}" for p in packs}
        else:
            doc = json.loads((store / "indexes" / hexname).read_bytes())
            out.add(f"indexes/{hexname}")
            out |= {f"packs/{p.split(':', 1)[1]}" for p in doc["packs"]}
    return out


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
        assert p.name in tree_digests(got), f"{p}: materialised tree does not hash to its name"
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
        b = p.read_bytes()
        name = p.name[: -len(".tree")]
        if sha_hex(b) == name:
            continue
        # Format 2: the flat listing the tree was materialised from.
        eager = trees / name
        assert b.startswith(b"lazypath-tree 1\n") and b.endswith(b"\n"), f"{p}: torn"
        if eager.exists():
            assert tree_bytes(read_dir(eager)) == b, f"{p}: not the tree's listing"
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
