#!/usr/bin/env python3
"""Format 2 of doc/format.md, written a second time in plain Python.

Directory objects, content-defined chunking and chunk lists, locators, tree
records and locations objects, built with hashlib, unicodedata and the zstd
command line only. Deliberately simple and independent of the C++ core: the
C++ tests check that the core produces and accepts exactly the bytes this
file writes, and refuses every invalid object it lists.

    python3 doc/vectors/format2.py     # writes format2.json and fuzz seeds

bench/format2_size.py imports it to measure what a push would write.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

KiB = 1024
MiB = 1024 * KiB
MIN_CHUNK = 128 * KiB
AVG_CHUNK = 512 * KiB
MAX_CHUNK = 2 * MiB
CHUNK_THRESHOLD = 2 * MiB
MAX_OBJECT = 64 * MiB
MAX_LOCATIONS = 1024 * MiB
MAX_ENTRIES = 1_000_000
MASK64 = (1 << 64) - 1
MASK_S = ((1 << 21) - 1) << 43
MASK_L = ((1 << 17) - 1) << 47
PACK_MAGIC = b"LZPACK1\n"
CODE_FLAG, INIT_FLAG = 1, 2
# Slot types of a locator (the low two bits of a tag).
NONE, FRAME, LOCATED, LOCATED_INIT = 0, 1, 2, 3

GEAR = [
    int.from_bytes(hashlib.sha256(b"lazypath-gear-%d" % i).digest()[:8], "big") for i in range(256)
]


def sha(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def text(h: bytes) -> str:
    return "sha256:" + h.hex()


def varint(v: int) -> bytes:
    assert 0 <= v <= MASK64
    out = bytearray()
    while v >= 0x80:
        out.append(v & 0x7F | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def zstd(data: bytes) -> bytes:
    """One zstd frame of `data` at level 3, as the core writes them."""
    return subprocess.run(
        ["zstd", "-q", "-c", "-3", "--no-check"], input=data, check=True, capture_output=True
    ).stdout


def encode(data: bytes) -> tuple[int, bytes]:
    """(codec, frame): zstd when that is smaller, else the bytes as they are."""
    z = zstd(data)
    return (1, z) if len(z) < len(data) else (0, data)


# --- chunking ---------------------------------------------------------------


def cut_point(data, s: int, n: int) -> int:
    """The length of the chunk starting at data[s] with n bytes left."""
    if n <= MIN_CHUNK:
        return n
    end = min(n, MAX_CHUNK)
    gear = GEAR
    fp = 0
    i = MIN_CHUNK
    small = min(AVG_CHUNK, end)
    while i < small:
        fp = ((fp << 1) + gear[data[s + i]]) & MASK64
        i += 1
        if not fp & MASK_S:
            return i
    while i < end:
        fp = ((fp << 1) + gear[data[s + i]]) & MASK64
        i += 1
        if not fp & MASK_L:
            return i
    return end


def chunk(data: bytes) -> list[tuple[int, bytes]]:
    """[(size, sha256)] of the chunks of `data`."""
    out = []
    s = 0
    while s < len(data):
        n = cut_point(data, s, len(data) - s)
        out.append((n, sha(data[s : s + n])))
        s += n
    return out


def chunk_list(chunks) -> bytes:
    return b"LZC2" + varint(len(chunks)) + b"".join(varint(n) + h for n, h in chunks)


# --- directory objects ------------------------------------------------------


def is_code(name: str) -> bool:
    return any(len(name) > len(x) and name.endswith(x) for x in (".py", ".pyc", ".so", ".pyd"))


def fold(name: str) -> str:
    """NFC of the case-folded canonical decomposition, as utf8proc computes it."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", name).casefold())


def file_entry(name, kind, size, h=b"", list_size=None):
    e = {"name": name, "kind": kind, "size": size, "hash": h}
    if size > CHUNK_THRESHOLD:
        e["list_size"] = list_size
    return e


def entry_bytes(e) -> bytes:
    name = e["name"].encode()
    out = e["kind"].encode() + varint(len(name)) + name
    k = e["kind"]
    if k in "fx":
        out += varint(e["size"])
        if e["size"] > 0:
            out += e["hash"]
        if e["size"] > CHUNK_THRESHOLD:
            out += varint(e["list_size"])
    elif k == "l":
        t = e["target"].encode()
        out += varint(len(t)) + t
    else:
        out += e["hash"] + varint(e["size"]) + varint(e["entries"]) + varint(e["bytes"])
        out += bytes([e["flags"]])
        if e["flags"] & INIT_FLAG:
            out += varint(e["init_size"])
            if e["init_size"] > 0:
                out += e["init_hash"]
    return out


def dir_bytes(entries) -> bytes:
    """The object of one directory; entries are taken in the order given."""
    return b"LZD2" + varint(len(entries)) + b"".join(entry_bytes(e) for e in entries)


def claim(name: str, entries, obj: bytes):
    """The 'd' entry a parent holds for the directory `entries` (object `obj`)."""
    d = {"name": name, "kind": "d", "hash": sha(obj), "size": len(obj)}
    d["entries"] = sum(e["entries"] if e["kind"] == "d" else 1 for e in entries)
    d["bytes"] = sum(
        e["bytes"] if e["kind"] == "d" else e["size"] for e in entries if e["kind"] != "l"
    )
    code = any(
        (e["kind"] == "d" and e["flags"] & CODE_FLAG) or (e["kind"] in "fx" and is_code(e["name"]))
        for e in entries
    )
    d["flags"] = CODE_FLAG if code else 0
    for e in entries:
        if e["kind"] in "fx" and e["name"] == "__init__.py":
            d["flags"] |= INIT_FLAG
            d["init_size"], d["init_hash"] = e["size"], e["hash"]
    return d


def symlink_ok(target: str, depth: int) -> bool:
    if target.startswith("/"):
        return False
    ups, below = 0, False
    for c in target.split("/"):
        if c in ("", "."):
            continue
        if c == "..":
            if below:
                return False
            ups += 1
        else:
            below = True
    return ups <= depth


def build(flat):
    """{path: (entries, object bytes)} for every directory of a flat tree, root ''.

    flat: [{"path", "kind" f/x/l, "size", "hash" (bytes), "target", "list_hash",
    "list_size"}]. A chunked file's entry hash is its chunk list's.
    """
    files = {"": []}
    subdirs = {"": []}
    for e in flat:
        parts = e["path"].split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            if d not in files:
                files[d], subdirs[d] = [], []
                subdirs["/".join(parts[: i - 1])].append(parts[i - 1])
        parent, name = "/".join(parts[:-1]), parts[-1]
        if e["kind"] == "l":
            assert symlink_ok(e["target"], len(parts) - 1), e
            files[parent].append({"name": name, "kind": "l", "target": e["target"]})
        elif e["size"] > CHUNK_THRESHOLD:
            files[parent].append(
                file_entry(name, e["kind"], e["size"], e["list_hash"], e["list_size"])
            )
        else:
            files[parent].append(
                file_entry(name, e["kind"], e["size"], e["hash"] if e["size"] else b"")
            )
    out = {}
    for d in sorted(files, key=lambda p: -p.count("/") - (p != "")):
        entries = list(files[d])
        for s in subdirs[d]:
            child = d + "/" + s if d else s
            entries.append(claim(s, *out[child]))
        entries.sort(key=lambda e: e["name"].encode())
        names = [e["name"].encode() for e in entries]
        assert len(set(names)) == len(names), d
        assert len({fold(e["name"]) for e in entries}) == len(entries), d
        out[d] = (entries, dir_bytes(entries))
    return out


def slot_shapes(entries):
    """[(type, size, init_size)]: the slot a directory's locator has per entry."""
    shapes = []
    for e in entries:
        if e["kind"] == "l" or (e["kind"] in "fx" and e["size"] == 0):
            shapes.append((NONE, 0, 0))
        elif e["kind"] in "fx" and e["size"] <= CHUNK_THRESHOLD:
            shapes.append((FRAME, e["size"], 0))
        elif e["kind"] in "fx":
            shapes.append((LOCATED, e["list_size"], 0))
        elif e["flags"] & INIT_FLAG and 0 < e["init_size"] <= CHUNK_THRESHOLD:
            shapes.append((LOCATED_INIT, e["size"], e["init_size"]))
        else:
            shapes.append((LOCATED, e["size"], 0))
    return shapes


# --- locators, tree records, locations --------------------------------------

# In a locator carried inside a located frame, this all-zero hash names the
# pack holding that frame: a pack is named by the hash of its bytes, so it
# cannot name itself.
HOLDING_PACK = bytes(32)


def locator(slots, holding: bytes = HOLDING_PACK) -> bytes:
    """slots: {"type", "frame": {pack, offset, length, codec}, "lsize", "init": {...}}.

    Packs are listed in order of first use; frames in HOLDING_PACK are named
    by `holding` (the real hash when the locator is not inside a pack).
    """
    packs = []

    def index(h):
        h = holding if h == HOLDING_PACK else h
        if h not in packs:
            packs.append(h)
        return varint(packs.index(h))

    body = bytearray()
    for s in slots:
        t = s["type"]
        if t == NONE:
            body.append(0)
            continue
        f = s["frame"]
        init = s.get("init")
        body.append(t | (4 if f["codec"] else 0) | (8 if init and init["codec"] else 0))
        body += index(f["pack"]) + varint(f["offset"]) + varint(f["length"])
        if t >= LOCATED:
            body += varint(s["lsize"])
        if t == LOCATED_INIT:
            body += index(init["pack"]) + varint(init["offset"]) + varint(init["length"])
    return b"LZL2" + varint(len(packs)) + b"".join(packs) + varint(len(slots)) + bytes(body)


def framed(body: bytes, codec):
    """(codec, frame) of `body`: codec 0 raw, 1 zstd, None the smaller."""
    if codec is None:
        return encode(body)
    return codec, zstd(body) if codec == 1 else body


def tree_record(directory: bytes, loc: bytes, codec=None) -> bytes:
    codec, frame = framed(directory + loc, codec)
    return b"LZT2" + varint(len(directory)) + varint(len(loc)) + bytes([codec]) + frame


def record_bytes(r, packs) -> bytes:
    out = r["hash"] + r["kind"].encode() + varint(r["size"]) + varint(packs.index(r["pack"]))
    out += varint(r["offset"]) + varint(r["length"]) + bytes([r["codec"]])
    if r["kind"] in "dc":
        out += varint(r["lsize"])
    return out


def locations_body(records) -> bytes:
    """records: {hash, kind ('b'/'d'/'c'), size, pack, offset, length, codec, lsize}."""
    records = sorted(records, key=lambda r: (r["hash"], r["kind"]))
    packs = []
    for r in records:
        if r["pack"] not in packs:
            packs.append(r["pack"])
    out = varint(len(packs)) + b"".join(packs) + varint(len(records))
    return out + b"".join(record_bytes(r, packs) for r in records)


def locations(records, codec=None) -> bytes:
    body = locations_body(records)
    codec, frame = framed(body, codec)
    return b"LZX2" + varint(len(body)) + bytes([codec]) + frame


def join(d: str, name: str) -> str:
    return d + "/" + name if d else name


def deepest_first(paths):
    return sorted(paths, key=lambda p: (-(p.count("/") + (p != "")), p.encode()))


class Writer:
    """One push: everything it adds goes into one new pack.

    `known` maps (kind, hash) to the frame already in the store (kind 'b'
    blob or chunk, 'd' located directory, 'c' located chunk list); what is
    known is not written again. Directories are written deepest first, each
    as its files' frames followed by its located frame (object + locator), so
    a directory and its files are one range of the pack.
    """

    def __init__(self, known=None, encoder=encode):
        self.encoder = encoder  # bytes -> (codec, frame)
        self.pack = bytearray(PACK_MAGIC)
        self.known = dict(known or {})
        self.added = []  # records of this push; pack HOLDING_PACK until finish()
        self.locators = {}  # directory path -> its locator as written

    def _append(self, content: bytes):
        codec, frame = self.encoder(content)
        f = {"pack": HOLDING_PACK, "offset": len(self.pack), "length": len(frame), "codec": codec}
        self.pack += frame
        return f

    def blob(self, h: bytes, content: bytes):
        key = ("b", h)
        if key not in self.known:
            self.known[key] = f = self._append(content)
            self.added.append({"hash": h, "kind": "b", "size": len(content), **f})
        return self.known[key]

    def located(self, kind: str, obj: bytes, loc_bytes_fn):
        key = (kind, sha(obj))
        if key not in self.known:
            loc = loc_bytes_fn()
            f = self._append(obj + loc)
            f["lsize"] = len(loc)
            self.known[key] = f
            self.added.append({"hash": sha(obj), "kind": kind, "size": len(obj), **f})
        return self.known[key]

    def _slots(self, d, tree, contents, chunked):
        entries, _ = tree[d]
        slots = []
        for e in entries:
            k = e["kind"]
            if k == "l" or (k in "fx" and e["size"] == 0):
                slots.append({"type": NONE})
            elif k in "fx" and e["size"] <= CHUNK_THRESHOLD:
                slots.append({"type": FRAME, "frame": self.blob(e["hash"], contents[e["hash"]])})
            elif k in "fx":
                data, chunks = chunked[e["hash"]]
                clist = chunk_list(chunks)

                def chunk_locator(data=data, chunks=chunks):
                    cslots, s = [], 0
                    for n, h in chunks:
                        cslots.append({"type": FRAME, "frame": self.blob(h, data[s : s + n])})
                        s += n
                    return locator(cslots)

                f = self.located("c", clist, chunk_locator)
                slots.append({"type": LOCATED, "frame": f, "lsize": f["lsize"]})
            else:
                f = self.known[("d", e["hash"])]
                s = {"type": LOCATED, "frame": f, "lsize": f["lsize"]}
                if e["flags"] & INIT_FLAG and 0 < e["init_size"] <= CHUNK_THRESHOLD:
                    s.update(type=LOCATED_INIT, init=self.known[("b", e["init_hash"])])
                slots.append(s)
        return slots

    def write_tree(self, tree, contents, chunked=None):
        """Writes what the store lacks of `tree` (from build()). contents: blob
        hash -> bytes; chunked: chunk list hash -> (file bytes, chunks)."""
        chunked = chunked or {}
        for d in deepest_first(tree):
            if d == "":
                break
            obj = tree[d][1]
            if ("d", sha(obj)) in self.known:
                continue  # unchanged: its located frame is in the store already

            def loc_fn(d=d):
                self.locators[d] = locator(self._slots(d, tree, contents, chunked))
                return self.locators[d]

            self.located("d", obj, loc_fn)
        self.root_slots = self._slots("", tree, contents, chunked)

    def finish(self, tree, codec=None):
        """Names the pack; returns (pack hash or None, tree record, locations object)."""
        ph = sha(bytes(self.pack)) if self.added else None
        root_loc = locator(self.root_slots, holding=ph or HOLDING_PACK)
        self.locators[""] = root_loc
        record = tree_record(tree[""][1], root_loc, codec)
        for key, f in self.known.items():
            if f["pack"] == HOLDING_PACK:
                self.known[key] = {**f, "pack": ph}
        for r in self.added:
            r["pack"] = ph
        locs = locations(self.added, codec) if self.added else None
        return ph, record, locs


# --- vectors ----------------------------------------------------------------


def stream(n: int) -> bytes:
    """n bytes of SHA-256 in counter mode: block k is SHA-256 of "lazypath-vector"
    followed by k as 8 bytes, big-endian."""
    blocks = (n + 31) // 32
    return b"".join(sha(b"lazypath-vector" + k.to_bytes(8, "big")) for k in range(blocks))[:n]


# The chunking vector: stream bytes [0, 700,000), 5,900,000 zero bytes (two
# identical 2 MiB chunks of zeros in a row), then stream bytes [700,000,
# 1,050,000). 6,950,000 bytes in all.
SEGMENTS = [["stream", 0, 700_000], ["zeros", 5_900_000], ["stream", 700_000, 1_050_000]]


def segments_data(segments) -> bytes:
    s = stream(max(seg[2] for seg in segments if seg[0] == "stream"))
    out = b""
    for seg in segments:
        out += s[seg[1] : seg[2]] if seg[0] == "stream" else bytes(seg[1])
    return out


def flat_file(path, content: bytes, kind="f"):
    return {
        "path": path,
        "kind": kind,
        "size": len(content),
        "hash": sha(content),
        "content": content,
    }


def flat_link(path, target):
    return {"path": path, "kind": "l", "target": target}


def listed(flat):
    """Flat entries as the JSON carries them."""
    out = []
    for e in sorted(flat, key=lambda e: e["path"].encode()):
        item = {"path": e["path"], "kind": e["kind"]}
        if e["kind"] == "l":
            item["target"] = e["target"]
        else:
            item["size"] = e["size"]
            item["digest"] = text(e["hash"])
            if e["size"] > CHUNK_THRESHOLD:
                item["chunk_list"] = {"digest": text(e["list_hash"]), "size": e["list_size"]}
        out.append(item)
    return out


def package_flat():
    return [
        flat_file("README", b"the package vector\n"),
        flat_file("bin/run", b"#!/bin/sh\necho run\n", "x"),
        flat_file("pkg/__init__.py", b""),
        flat_file("pkg/mod.py", b"X = 1\n" * 40),
        flat_link("pkg/latest.py", "mod.py"),
        flat_file("pkg/sub/__init__.py", b"from .helper import *\n"),
        flat_file("pkg/sub/helper.py", b"def helper():\n    return 42\n" * 8),
        flat_link("pkg/sub/up.py", "../mod.py"),
        flat_link("pkg/sub/data/top", "./../../../bin//run"),
        flat_file("pkg/ns/part.py", b"PART = 'namespace package'\n"),
        flat_file("data/caf\u00e9.txt", "caf\u00e9\n".encode()),
        flat_file("data/same.txt", b"X = 1\n" * 40),  # the same blob as pkg/mod.py
    ]


def chunked_flat(cv):
    return [
        {
            "path": "models/weights.bin",
            "kind": "f",
            "size": cv["size"],
            "hash": cv["whole"],
            "list_hash": sha(cv["list"]),
            "list_size": len(cv["list"]),
        },
        flat_file("models/__init__.py", b"WEIGHTS = 'weights.bin'\n"),
    ]


def directories_json(tree):
    return [
        {
            "path": d,
            "hex": obj.hex(),
            "digest": text(sha(obj)),
            "size": len(obj),
            "depth": d.count("/") + (d != ""),
            "slots": [list(s) for s in slot_shapes(entries)],
        }
        for d, (entries, obj) in sorted(tree.items(), key=lambda kv: kv[0].encode())
    ]


def tree_vectors(cv):
    trees = [
        ("empty root", []),
        ("one file", [flat_file("a.py", b"print('hi')\n")]),
        ("package", package_flat()),
        ("chunked file", chunked_flat(cv)),
    ]
    out = []
    for name, flat in trees:
        t = build(flat)
        out.append(
            {
                "name": name,
                "entries": listed(flat),
                "directories": directories_json(t),
                "root": {"digest": text(sha(t[""][1])), "size": len(t[""][1])},
            }
        )
    return out


def chunk_vectors():
    data = segments_data(SEGMENTS)
    chunks = chunk(data)
    assert len(chunks) != len(set(h for _, h in chunks)), "the zeros repeat a chunk"
    clist = chunk_list(chunks)
    s = stream(MAX_CHUNK + 1)
    small = []
    for n in (1, 100, MIN_CHUNK, MIN_CHUNK + 1, AVG_CHUNK + 7, MAX_CHUNK, MAX_CHUNK + 1):
        small.append({"stream_bytes": n, "chunks": [[c, text(h)] for c, h in chunk(s[:n])]})
    vec = {
        "gear": [format(g, "016x") for g in GEAR],
        "segments": SEGMENTS,
        "size": len(data),
        "digest": text(sha(data)),
        "chunks": [[n, text(h)] for n, h in chunks],
        "chunk_list_hex": clist.hex(),
        "chunk_list_digest": text(sha(clist)),
        "small": small,
    }
    return vec, {
        "size": len(data),
        "whole": sha(data),
        "list": clist,
        "chunks": chunks,
        "data": data,
    }


def push_vectors(cv):
    """A push of the package tree into an empty store, and synthetic location
    data covering chunk lists (whose chunks need no real pack to be checked)."""
    flat = package_flat()
    tree = build(flat)
    blobs = {e["hash"]: e["content"] for e in flat if e["kind"] != "l"}
    w = Writer()
    w.write_tree(tree, blobs)
    ph, record_zstd, locs_zstd = w.finish(tree, codec=1)
    record_raw = tree_record(tree[""][1], w.locators[""], 0)
    locs_raw = locations(w.added, 0)
    dirs = []
    for d in sorted(tree, key=lambda p: p.encode()):
        entries, obj = tree[d]
        item = {
            "path": d,
            "hex": obj.hex(),
            "locator_hex": w.locators[d].hex(),
            "slots": [list(s) for s in slot_shapes(entries)],
        }
        if d:
            f = w.known[("d", sha(obj))]
            item["located"] = {k: f[k] for k in ("offset", "length", "codec", "lsize")}
        dirs.append(item)

    # A chunk list's locator: one frame per chunk, raw, back to back in a pack
    # "sha256(b'a pack')"; the repeated zero chunk is one frame named twice.
    other = sha(b"a pack")
    frames, offset, cslots = {}, 8, []
    for n, h in cv["chunks"]:
        if h not in frames:
            frames[h] = {"pack": other, "offset": offset, "length": n, "codec": 0}
            offset += n
        cslots.append({"type": FRAME, "frame": frames[h]})
    chunk_loc = locator(cslots)
    # Locations naming all three kinds, in two packs, raw.
    d_obj = tree["pkg"][1]
    synthetic = [
        {"hash": h, "kind": "b", "size": n, "codec": 0, **frames[h]} for n, h in cv["chunks"][:2]
    ] + [
        {
            "hash": sha(cv["list"]),
            "kind": "c",
            "size": len(cv["list"]),
            "pack": other,
            "offset": offset,
            "length": len(cv["list"]) + len(chunk_loc),
            "codec": 0,
            "lsize": len(chunk_loc),
        },
        {
            "hash": sha(d_obj),
            "kind": "d",
            "size": len(d_obj),
            "pack": ph,
            "offset": 1000,
            "length": 50,
            "codec": 1,
            "lsize": 40,
        },
    ]
    return {
        "pack_hex": bytes(w.pack).hex(),
        "pack_digest": text(ph),
        "directories": dirs,
        "tree_record": {
            "key": text(sha(tree[""][1])),
            "raw_hex": record_raw.hex(),
            "zstd_hex": record_zstd.hex(),
        },
        "locations": {
            "raw_hex": locs_raw.hex(),
            "zstd_hex": locs_zstd.hex(),
            "records": len(w.added),
        },
        "chunk_list_locator": {
            "hex": chunk_loc.hex(),
            "slots": [[FRAME, n, 0] for n, _ in cv["chunks"]],
        },
        "synthetic_locations_hex": locations(synthetic, 0).hex(),
    }, {
        "tree": tree,
        "writer": w,
        "pack_hash": ph,
        "chunk_locator": chunk_loc,
        "record": record_raw,
        "locations": locs_raw,
    }


# --- invalid objects --------------------------------------------------------

H1, H2 = sha(b"blob one"), sha(b"blob two")


def raw_file(name: bytes, size=1, kind=b"f", list_size=None, h=H1) -> bytes:
    out = kind + varint(len(name)) + name + varint(size)
    if size:
        out += h
    if list_size is not None:
        out += varint(list_size)
    return out


def raw_link(name: bytes, target: bytes) -> bytes:
    return b"l" + varint(len(name)) + name + varint(len(target)) + target


def raw_dir(name: bytes, dsize=9, entries=1, nbytes=1, flags=0, init=None, h=H2) -> bytes:
    out = b"d" + varint(len(name)) + name + h + varint(dsize) + varint(entries) + varint(nbytes)
    out += bytes([flags])
    if init is not None:
        out += varint(init) + (H1 if init else b"")
    return out


def raw_dir_object(*entries: bytes, count=None) -> bytes:
    return b"LZD2" + varint(len(entries) if count is None else count) + b"".join(entries)


def compress_bound(n: int) -> int:
    """ZSTD_COMPRESSBOUND: the longest zstd frame of n bytes."""
    return n + (n >> 8) + ((128 * KiB - n) >> 11 if n < 128 * KiB else 0)


def invalid_directories():
    d = raw_dir_object
    a = raw_file(b"a")
    cases = [
        ("bad magic", b"LZD1\x00", 0, "bad magic"),
        ("non-minimal count", b"LZD2\x80\x00", 0, "non-minimal varint"),
        ("count of 11 varint bytes", b"LZD2" + b"\x80" * 10 + b"\x00", 0, "longer than 10 bytes"),
        ("file size over 2^64-1", d(b"f\x01a" + b"\xff" * 9 + b"\x02" + H1), 0, "over 2^64-1"),
        (
            "count over the limit",
            b"LZD2" + varint(MAX_ENTRIES + 1),
            0,
            "more than 1,000,000 entries",
        ),
        ("count the bytes cannot hold", d(a, count=10), 0, "room for"),
        ("unknown kind", d(raw_file(b"a", kind=b"z")), 0, "unknown kind"),
        ("empty name", d(b"f\x00\x00\x00"), 0, "name length"),
        ("name of 256 bytes", d(raw_file(b"n" * 256)), 0, "name length"),
        ("slash in a name", d(raw_file(b"a/b")), 0, "contains '/'"),
        ("NUL in a name", d(raw_file(b"a\0b")), 0, "contains NUL"),
        ("name '.'", d(raw_file(b".")), 0, "is '.' or '..'"),
        ("name '..'", d(raw_file(b"..")), 0, "is '.' or '..'"),
        ("name not UTF-8", d(raw_file(b"\xff")), 0, "not valid UTF-8"),
        ("overlong UTF-8 name", d(raw_file(b"\xc0\xaf")), 0, "not valid UTF-8"),
        ("entries out of order", d(raw_file(b"b"), raw_file(b"a")), 0, "out of order"),
        ("a name twice", d(raw_file(b"a"), raw_link(b"a", b"x")), 0, "listed twice"),
        (
            "names differing by case",
            d(raw_file(b"A.py"), raw_file(b"a.py")),
            0,
            "differ only by case or Unicode normalisation",
        ),
        (
            "NFC and NFD spellings",
            d(raw_file("cafe\u0301".encode()), raw_file("caf\u00e9".encode())),
            0,
            "differ only by case or Unicode normalisation",
        ),
        (
            "a file and a directory differing by case",
            d(raw_dir(b"Pkg"), raw_file(b"pkg")),
            0,
            "differ only by case",
        ),
        (
            "chunked file with list size 0",
            d(raw_file(b"big", CHUNK_THRESHOLD + 1, list_size=0)),
            0,
            "chunk list size out of range",
        ),
        (
            "chunked file with a list over 64 MiB",
            d(raw_file(b"big", CHUNK_THRESHOLD + 1, list_size=MAX_OBJECT + 1)),
            0,
            "chunk list size out of range",
        ),
        ("non-minimal file size", d(b"f\x01a\x81\x00" + H1), 0, "non-minimal varint"),
        ("truncated hash", d(raw_file(b"a", 5))[:-10], 0, "truncated"),
        ("empty symlink target", d(raw_link(b"l", b"")), 0, "symlink target length"),
        (
            "symlink target of 4096 bytes",
            d(raw_link(b"l", b"a/" * 2048)),
            1,
            "symlink target length",
        ),
        ("absolute symlink", d(raw_link(b"l", b"/etc/passwd")), 3, "is absolute"),
        ("NUL in a symlink target", d(raw_link(b"l", b"a\0b")), 1, "target contains NUL"),
        ("symlink target not UTF-8", d(raw_link(b"l", b"\xfe")), 1, "target is not valid UTF-8"),
        (
            "symlink climbing out of the root",
            d(raw_link(b"l", b"../x")),
            0,
            "climbs above the tree root",
        ),
        (
            "symlink climbing out from depth 2",
            d(raw_link(b"l", b"./../../../x")),
            2,
            "climbs above the tree root",
        ),
        ("'..' after a name in a symlink", d(raw_link(b"l", b"x/../y")), 3, "'..' after a name"),
        ("unknown directory flag", d(raw_dir(b"s", flags=4)), 0, "unknown flag bits"),
        ("directory with an empty subtree", d(raw_dir(b"s", entries=0)), 0, "no entries"),
        ("INIT without CODE", d(raw_dir(b"s", flags=INIT_FLAG, init=0)), 0, "INIT without CODE"),
        (
            "__init__.py larger than the subtree",
            d(raw_dir(b"s", nbytes=5, flags=3, init=10)),
            0,
            "__init__.py larger than the subtree",
        ),
        (
            "directory size below the smallest directory",
            d(raw_dir(b"s", dsize=8)),
            0,
            "directory size out of range",
        ),
        (
            "directory size over 64 MiB",
            d(raw_dir(b"s", dsize=MAX_OBJECT + 1)),
            0,
            "directory size out of range",
        ),
        ("trailing bytes", d(a) + b"\x00", 0, "trailing bytes"),
    ]
    return [{"name": n, "hex": b.hex(), "depth": dep, "error": err} for n, b, dep, err in cases]


def invalid_children():
    """A parent whose 'd' entry disagrees with the child object it names."""
    flat = [
        flat_file("pkg/__init__.py", b"init\n"),
        flat_file("pkg/a.py", b"a\n"),
        flat_file("data/x.txt", b"x\n"),
        flat_file("ns/m.py", b"m\n"),
    ]
    tree = build(flat)
    root_entries = tree[""][0]
    out = []

    def case(name, child, change, err, child_bytes=None):
        entries = [dict(e) for e in root_entries]
        for e in entries:
            if e["name"] == child:
                change(e)
        out.append(
            {
                "name": name,
                "parent_hex": dir_bytes(entries).hex(),
                "depth": 0,
                "entry": child,
                "child_hex": (child_bytes or tree[child][1]).hex(),
                "child_depth": 1,
                "error": err,
            }
        )

    case("entries", "pkg", lambda e: e.update(entries=e["entries"] + 1), "entries")
    case("bytes", "data", lambda e: e.update(bytes=e["bytes"] + 1), "bytes")
    case("CODE claimed for a data directory", "data", lambda e: e.update(flags=CODE_FLAG), "CODE")
    case("CODE missing", "ns", lambda e: e.update(flags=0), "CODE")
    case(
        "INIT claimed without __init__.py",
        "ns",
        lambda e: e.update(flags=3, init_size=1, init_hash=H1),
        "INIT",
    )
    case("INIT missing", "pkg", lambda e: (e.update(flags=CODE_FLAG), e.pop("init_size")), "INIT")
    case("__init__.py size", "pkg", lambda e: e.update(init_size=4), "__init__.py size")
    case("__init__.py hash", "pkg", lambda e: e.update(init_hash=H1), "__init__.py hash")
    other = build([flat_file("pkg/__init__.py", b"init\n"), flat_file("pkg/a.py", b"b\n")])["pkg"][
        1
    ]
    case(
        "child bytes that are not the named object",
        "pkg",
        lambda e: None,
        "do not match its digest",
        child_bytes=other,
    )
    return out


def invalid_chunk_lists():
    def cl(*sizes, count=None):
        return (
            b"LZC2"
            + varint(len(sizes) if count is None else count)
            + b"".join(varint(n) + H1 for n in sizes)
        )

    cases = [
        ("bad magic", b"LZC1\x01\x01" + H1, 1, "bad magic"),
        ("no chunks", cl(), 0, "no chunks"),
        ("count the bytes cannot hold", cl(5, count=4), 5, "room for"),
        ("zero-size chunk", cl(0), 0, "size out of range"),
        ("chunk over 2 MiB", cl(MAX_CHUNK + 1), MAX_CHUNK + 1, "size out of range"),
        (
            "short chunk before the last",
            cl(1000, MIN_CHUNK),
            1000 + MIN_CHUNK,
            "smaller than 128 KiB and not the last",
        ),
        ("sizes not adding up to the file", cl(MIN_CHUNK, 5), MIN_CHUNK + 6, "add up to"),
        (
            "more chunks than the file can have",
            cl(MIN_CHUNK, MIN_CHUNK, 1),
            100,
            "more chunks than",
        ),
        ("non-minimal chunk size", b"LZC2\x01\x81\x00" + H1, 1, "non-minimal varint"),
        ("truncated", cl(MIN_CHUNK, 5)[:-1], MIN_CHUNK + 5, "truncated"),
        ("trailing bytes", cl(5) + b"\x00", 5, "trailing bytes"),
    ]
    return [{"name": n, "hex": b.hex(), "file_size": s, "error": e} for n, b, s, e in cases]


def loc_raw(packs, slots: bytes, nslots: int) -> bytes:
    return b"LZL2" + varint(len(packs)) + b"".join(packs) + varint(nslots) + slots


def frame_slot(tag=1, pack=0, offset=8, length=10, extra=b"") -> bytes:
    return bytes([tag]) + varint(pack) + varint(offset) + varint(length) + extra


def invalid_locators():
    P, Q = sha(b"pack p"), sha(b"pack q")
    f = frame_slot
    cases = [
        ("bad magic", b"LZL1\x00\x00", "bad magic"),
        ("pack listed twice", loc_raw([P, P], f() + f(pack=1, offset=100), 2), "pack listed twice"),
        ("pack named by no slot", loc_raw([P, Q], f(), 1), "named by no slot"),
        ("pack count the bytes cannot hold", b"LZL2" + varint(1000) + P, "room for"),
        ("slot count the bytes cannot hold", loc_raw([P], f(), 100), "room for"),
        ("unknown tag bit", loc_raw([P], f(tag=0x11), 1), "bad tag"),
        ("zstd bit on an empty slot", loc_raw([], b"\x04", 1), "bad tag"),
        ("init bit on a frame slot", loc_raw([P], f(tag=0x09), 1), "bad tag"),
        (
            "pack index out of range",
            loc_raw([P], f() + f(pack=1, offset=100), 2),
            "pack index out of range",
        ),
        ("offset inside the pack magic", loc_raw([P], f(offset=7), 1), "inside the pack magic"),
        ("zero length", loc_raw([P], f(length=0), 1), "zero length"),
        ("frame past 2^64", loc_raw([P], f(offset=MASK64 - 5, length=10), 1), "past 2^64"),
        (
            "located frame with a locator under 6 bytes",
            loc_raw([P], f(tag=2, extra=varint(5)), 1),
            "locator size out of range",
        ),
        (
            "located frame with a locator over 64 MiB",
            loc_raw([P], f(tag=2, length=100, extra=varint(MAX_OBJECT + 1)), 1),
            "locator size out of range",
        ),
        (
            "overlapping frames",
            loc_raw([P], f(offset=8, length=100) + f(offset=50, length=100), 2),
            "overlap",
        ),
        (
            "one start, two lengths",
            loc_raw([P], f(offset=8, length=100) + f(offset=8, length=50), 2),
            "overlap",
        ),
        ("one frame, two codecs", loc_raw([P], f(tag=1) + f(tag=5), 2), "overlap"),
        (
            "init frame overlapping another slot",
            loc_raw(
                [P],
                f(tag=3, offset=100, length=50, extra=varint(6) + f(tag=0)[1:])
                + f(offset=8, length=20),
                2,
            ),
            "overlap",
        ),
        ("truncated", loc_raw([P], f(), 1)[:-1], "truncated"),
        ("non-minimal offset", loc_raw([P], b"\x01\x00\x88\x00\x0a", 1), "non-minimal varint"),
        ("trailing bytes", loc_raw([P], f(), 1) + b"\x00", "trailing bytes"),
    ]
    return [{"name": n, "hex": b.hex(), "error": e} for n, b, e in cases]


def invalid_locator_checks():
    P = sha(b"pack p")
    f = frame_slot
    cases = [
        (
            "fewer slots than entries",
            loc_raw([P], f(), 1),
            [[FRAME, 10, 0], [NONE, 0, 0]],
            "slots for",
        ),
        ("a frame where a located frame belongs", loc_raw([P], f(), 1), [[LOCATED, 4, 0]], "type"),
        ("a slot where none belongs", loc_raw([P], f(), 1), [[NONE, 0, 0]], "type"),
        ("raw frame of the wrong length", loc_raw([P], f(), 1), [[FRAME, 11, 0]], "raw frame"),
        (
            "raw located frame of the wrong length",
            loc_raw([P], f(tag=2, length=40, extra=varint(10)), 1),
            [[LOCATED, 31, 0]],
            "raw frame",
        ),
        (
            "zstd frame longer than its content can need",
            loc_raw([P], f(tag=5, length=100), 1),
            [[FRAME, 1, 0]],
            "longer than",
        ),
        (
            "raw init frame of the wrong length",
            loc_raw(
                [P], f(tag=3, length=40, extra=varint(10) + f(tag=0, offset=100, length=7)[1:]), 1
            ),
            [[LOCATED_INIT, 30, 8]],
            "init frame",
        ),
    ]
    return [{"name": n, "hex": b.hex(), "slots": s, "error": e} for n, b, s, e in cases]


def invalid_tree_records(pv):
    tree, w = pv["tree"], pv["writer"]
    root, loc = tree[""][1], w.locators[""]
    key = sha(root)

    def rec(dsize, lsize, codec, frame):
        return b"LZT2" + varint(dsize) + varint(lsize) + bytes([codec]) + frame

    body = root + loc
    other = dir_bytes([file_entry("x", "f", 1, H1)])
    # A root locator that names "the holding pack": a tree record is in no pack.
    holding_loc = locator(w.root_slots, holding=HOLDING_PACK)
    cases = [
        ("bad magic", b"LZT1" + pv["record"][4:], key, "bad magic"),
        ("unknown codec", rec(len(root), len(loc), 2, body), key, "unknown codec"),
        ("directory size 0", rec(0, len(loc), 0, loc), key, "directory size out of range"),
        (
            "directory size over 64 MiB",
            rec(MAX_OBJECT + 1, len(loc), 0, body),
            key,
            "directory size out of range",
        ),
        (
            "locator under 6 bytes",
            rec(len(root) + len(loc) - 5, 5, 0, body),
            key,
            "locator size out of range",
        ),
        (
            "non-minimal directory size",
            b"LZT2\x80\x00" + varint(len(loc)) + b"\x00" + body,
            key,
            "non-minimal varint",
        ),
        (
            "another directory than the key names",
            rec(len(other), len(loc), 0, other + loc),
            key,
            "does not match its key",
        ),
        (
            "decompression bomb",
            rec(len(root), len(loc), 1, zstd(body + bytes(1 << 20))),
            key,
            "decompresses past",
        ),
        (
            "raw frame shorter than declared",
            rec(len(root), len(loc) + 1, 0, body),
            key,
            "decodes to",
        ),
        (
            "raw frame longer than declared",
            rec(len(root), len(loc) - 1, 0, body),
            key,
            "longer than its declared",
        ),
        (
            "bytes after the zstd frame",
            rec(len(root), len(loc), 1, zstd(body) + b"\x00"),
            key,
            "after the end of the frame",
        ),
        ("truncated zstd frame", rec(len(root), len(loc), 1, zstd(body)[:-3]), key, "truncated"),
        (
            "a bad root locator",
            rec(len(root), len(loc) + 1, 0, body + b"\x00"),
            key,
            "trailing bytes",
        ),
        (
            "root locator naming the holding pack",
            rec(len(root), len(holding_loc), 0, root + holding_loc),
            key,
            "names the holding pack",
        ),
    ]
    return [{"name": n, "hex": b.hex(), "key": text(k), "error": e} for n, b, k, e in cases]


def invalid_locations():
    P, Q = sha(b"pack p"), sha(b"pack q")

    def obj(body: bytes, codec=0, size=None):
        frame = zstd(body) if codec == 1 else body
        return b"LZX2" + varint(len(body) if size is None else size) + bytes([codec]) + frame

    def body(packs, records, count=None):
        return (
            varint(len(packs))
            + b"".join(packs)
            + varint(len(records) if count is None else count)
            + b"".join(records)
        )

    def rec(h=H1, kind=b"b", size=10, pack=0, offset=8, length=10, codec=0, lsize=None):
        out = (
            h
            + kind
            + varint(size)
            + varint(pack)
            + varint(offset)
            + varint(length)
            + bytes([codec])
        )
        return out + (varint(lsize) if lsize is not None else b"")

    good = body([P], [rec()])
    lo, hi = sorted([H1, H2])
    cases = [
        ("bad magic", b"LZX1" + obj(good)[4:], "bad magic"),
        (
            "decoded size over 1 GiB",
            b"LZX2" + varint(MAX_LOCATIONS + 1) + b"\x00" + good,
            "over 1 GiB",
        ),
        ("unknown codec", b"LZX2" + varint(len(good)) + b"\x02" + good, "unknown codec"),
        ("decompression bomb", obj(good + bytes(1 << 20), 1, size=len(good)), "decompresses past"),
        ("raw body shorter than declared", obj(good, 0, size=len(good) + 1), "decodes to"),
        (
            "pack listed twice",
            obj(body([P, P], [rec(), rec(h=H2, pack=1, offset=100)])),
            "pack listed twice",
        ),
        ("pack named by no record", obj(body([P, Q], [rec()])), "named by no record"),
        ("the holding pack", obj(body([HOLDING_PACK], [rec()])), "names the holding pack"),
        ("record count the bytes cannot hold", obj(body([P], [rec()], count=2)), "room for"),
        ("unknown kind", obj(body([P], [rec(kind=b"z")])), "unknown kind"),
        ("unknown frame codec", obj(body([P], [rec(codec=2)])), "unknown codec"),
        ("pack index out of range", obj(body([P], [rec(pack=1)])), "pack index out of range"),
        ("offset inside the pack magic", obj(body([P], [rec(offset=4)])), "inside the pack magic"),
        ("zero length", obj(body([P], [rec(length=0)])), "zero length"),
        ("empty blob", obj(body([P], [rec(size=0, codec=1)])), "size out of range"),
        ("raw frame of the wrong length", obj(body([P], [rec(length=11)])), "raw frame"),
        (
            "zstd frame longer than its content can need",
            obj(body([P], [rec(size=1, length=100, codec=1)])),
            "longer than",
        ),
        ("directory record without a locator size", obj(body([P], [rec(kind=b"d")])), "truncated"),
        (
            "located frame with a locator under 6 bytes",
            obj(body([P], [rec(kind=b"d", size=10, length=15, lsize=5)])),
            "locator size out of range",
        ),
        (
            "records out of order",
            obj(body([P], [rec(h=hi), rec(h=lo, offset=100)])),
            "out of order",
        ),
        ("a record twice", obj(body([P], [rec(), rec(offset=100)])), "listed twice"),
        ("overlapping frames", obj(body([P], [rec(h=lo), rec(h=hi, offset=12)])), "overlap"),
        ("the same frame twice", obj(body([P], [rec(h=lo), rec(h=hi)])), "overlap"),
        ("trailing bytes in the body", obj(good + b"\x00"), "trailing bytes"),
        (
            "non-minimal record size",
            obj(body([P], [rec()])[:-38] + H1 + b"b\x8a\x00" + rec()[34:]),
            "non-minimal varint",
        ),
        ("bytes after the zstd frame", obj(good, 1) + b"\x00", "after the end of the frame"),
    ]
    out = [{"name": n, "hex": b.hex(), "error": e} for n, b, e in cases]
    # Stored under another key than the hash of its bytes.
    out.append(
        {
            "name": "another object than the key names",
            "hex": obj(good).hex(),
            "key": text(sha(b"another object")),
            "error": "does not match its key",
        }
    )
    return out


# --- output -----------------------------------------------------------------


def write_corpus(name: str, valid, invalid):
    """Seeds for fuzz/<name>_fuzz.cc: the valid objects, then the invalid ones."""
    d = os.path.join(ROOT, "fuzz", "corpus", name)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    for prefix, items in (("seed", valid), ("bad", invalid)):
        for i, b in enumerate(items):
            with open(os.path.join(d, f"{prefix}{i}"), "wb") as f:
                f.write(b)


def main():
    cvec, cv = chunk_vectors()
    trees = tree_vectors(cv)
    pvec, pv = push_vectors(cv)
    invalid = {
        "directories": invalid_directories(),
        "children": invalid_children(),
        "chunk_lists": invalid_chunk_lists(),
        "locators": invalid_locators(),
        "locator_checks": invalid_locator_checks(),
        "tree_records": invalid_tree_records(pv),
        "locations": invalid_locations(),
    }
    doc = {
        "about": "Format 2 vectors of doc/format.md, written by doc/vectors/format2.py.",
        "constants": {
            "min_chunk": MIN_CHUNK,
            "avg_chunk": AVG_CHUNK,
            "max_chunk": MAX_CHUNK,
            "chunk_threshold": CHUNK_THRESHOLD,
            "mask_s": format(MASK_S, "016x"),
            "mask_l": format(MASK_L, "016x"),
        },
        "chunking": cvec,
        "trees": trees,
        "push": pvec,
        "invalid": invalid,
    }
    with open(os.path.join(HERE, "format2.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False, sort_keys=True)
        f.write("\n")

    h = bytes.fromhex
    dirs = [h(d["hex"]) for t in trees for d in t["directories"]]
    write_corpus(
        "directory",
        dirs,
        [h(c["hex"]) for c in invalid["directories"]]
        + [h(c["parent_hex"]) for c in invalid["children"][:2]],
    )
    write_corpus(
        "chunklist",
        [cv["list"], chunk_list(cv["chunks"][-2:])],
        [h(c["hex"]) for c in invalid["chunk_lists"]],
    )
    write_corpus(
        "locator",
        [h(d["locator_hex"]) for d in pvec["directories"]] + [pv["chunk_locator"]],
        [h(c["hex"]) for c in invalid["locators"]],
    )
    write_corpus(
        "treerecord",
        [
            h(pvec["tree_record"]["raw_hex"]),
            h(pvec["tree_record"]["zstd_hex"]),
            tree_record(b"LZD2\x00", b"LZL2\x00\x00", 0),
        ],
        [h(c["hex"]) for c in invalid["tree_records"] if len(c["hex"]) < 20000],
    )
    write_corpus(
        "locations",
        [
            h(pvec["locations"]["raw_hex"]),
            h(pvec["locations"]["zstd_hex"]),
            h(pvec["synthetic_locations_hex"]),
        ],
        [h(c["hex"]) for c in invalid["locations"]],
    )


if __name__ == "__main__":
    main()
