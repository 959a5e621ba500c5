"""What a format 2 push writes for a one-file edit, measured with doc/vectors/format2.py.

    python3 bench/format2_size.py [--work DIR]

Generates (once, reused afterwards) the 10k-file / 200 MiB and 2k-file / 40 MiB
trees of bench/gen_tree.py under --work, builds every format 2 object of each
tree with the plain Python implementation (directory objects, chunk lists, one
pack with every frame, locators, tree record, locations), then appends a line
to one .py module at the deepest level (of median size) and counts every byte
the second push would write: the new blob, the located frames (directory
object + locator) of the directories on the edited path, the new pack's magic,
the tree record, one locations object for what was added, and a 72-byte ref.
It also reports the average size of a directory entry before compression,
names excluded.

Byte counts only: nothing here is timed. Issue 11's targets are <= 16 KiB for
the one-file edit and about 60 bytes per directory entry plus its name.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "doc", "vectors"))

import format2 as f2  # noqa: E402

REF_BYTES = 72  # "sha256:<64 hex>\n"
KIB = 1024


def generate(work: str, name: str, files: int, mb: int) -> str:
    out = os.path.join(work, name)
    if not os.path.isdir(out):
        subprocess.run(
            [
                sys.executable,
                os.path.join(HERE, "gen_tree.py"),
                out,
                "--files",
                str(files),
                "--mb",
                str(mb),
            ],
            check=True,
        )
    return out


def scan(root: str):
    """Flat entries of format2.build(), blob contents and chunked files."""
    flat, contents, chunked = [], {}, {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            if os.path.islink(full):
                flat.append({"path": rel, "kind": "l", "target": os.readlink(full)})
                continue
            with open(full, "rb") as fh:
                data = fh.read()
            kind = "x" if os.stat(full).st_mode & 0o100 else "f"
            e = {"path": rel, "kind": kind, "size": len(data), "hash": f2.sha(data)}
            if len(data) > f2.CHUNK_THRESHOLD:
                chunks = f2.chunk(data)
                clist = f2.chunk_list(chunks)
                e["list_hash"], e["list_size"] = f2.sha(clist), len(clist)
                chunked[e["list_hash"]] = (data, chunks)
            else:
                contents[e["hash"]] = data
            flat.append(e)
    return flat, contents, chunked


def batch_encoder(blobs):
    """An encoder for format2.Writer that compresses `blobs` with one zstd run.

    Frames are what format2.encode() would give (zstd level 3 when smaller,
    else raw); anything not in `blobs` falls back to encode().
    """
    cache = {}
    with tempfile.TemporaryDirectory() as tmp:
        names = []
        for i, data in enumerate(blobs):
            p = os.path.join(tmp, f"b{i}")
            with open(p, "wb") as fh:
                fh.write(data)
            names.append(p)
        for k in range(0, len(names), 1000):
            subprocess.run(
                ["zstd", "-q", "-3", "--no-check", "-f", *names[k : k + 1000]], check=True
            )
        for p, data in zip(names, blobs):
            with open(p + ".zst", "rb") as fh:
                z = fh.read()
            cache[f2.sha(data)] = (1, z) if len(z) < len(data) else (0, data)

    def encoder(content: bytes):
        hit = cache.get(f2.sha(content))
        return hit if hit is not None else f2.encode(content)

    return encoder


def entry_stats(tree):
    """(entries, their bytes without magic, count and names, name bytes)."""
    entries = body = names = 0
    for ents, obj in tree.values():
        header = 4 + len(f2.varint(len(ents)))
        nb = sum(len(e["name"].encode()) for e in ents)
        entries += len(ents)
        names += nb
        body += len(obj) - header - nb
    return entries, body, names


def read_varint(b: bytes, pos: int):
    v = shift = 0
    while True:
        c = b[pos]
        pos += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return v, pos


def locator_slot_bytes(loc: bytes) -> int:
    """A locator's bytes past its header (magic, pack list, slot count)."""
    npacks, pos = read_varint(loc, 4)
    _, pos = read_varint(loc, pos + 32 * npacks)
    return len(loc) - pos


def deepest_py(flat):
    """The module (not an __init__.py) at the deepest level whose size is
    nearest the median module size (as bench/run.py picks its edit), by path
    among equals."""
    py = [
        e
        for e in flat
        if e["kind"] == "f"
        and e["path"].endswith(".py")
        and not e["path"].endswith("/__init__.py")
        and 0 < e["size"] <= f2.CHUNK_THRESHOLD
    ]
    median = sorted(e["size"] for e in py)[len(py) // 2]
    depth = max(e["path"].count("/") for e in py)
    deepest = [e for e in py if e["path"].count("/") == depth]
    return min(deepest, key=lambda e: (abs(e["size"] - median), e["path"]))


def measure(root: str, label: str):
    print(f"\n== {label}: {root}")
    flat, contents, chunked = scan(root)
    tree0 = f2.build(flat)
    blobs = list(contents.values())
    for data, chunks in chunked.values():
        s = 0
        for n, _ in chunks:
            blobs.append(data[s : s + n])
            s += n
    w0 = f2.Writer(encoder=batch_encoder(blobs))
    w0.write_tree(tree0, contents, chunked)
    ph0, record0, locs0 = w0.finish(tree0)

    entries, body, names = entry_stats(tree0)
    slot_bytes = sum(locator_slot_bytes(v) for v in w0.locators.values())
    print(
        f"tree: {len(flat)} files, {len(tree0)} directories, {entries} directory entries, "
        f"{len(chunked)} chunked files"
    )
    print(
        f"first push: pack {len(w0.pack)} bytes, tree record {len(record0)}, "
        f"locations {len(locs0)} ({len(w0.added)} records)"
    )
    print(
        f"directory entry, before compression, names excluded: {body / entries:.1f} bytes "
        f"(+ {names / entries:.1f} bytes of name on average); its locator slot adds "
        f"{slot_bytes / entries:.1f} bytes"
    )

    # The edit: one line appended to the first .py file at the deepest level.
    target = deepest_py(flat)
    new = contents[target["hash"]] + b"# edited\n"
    flat1 = [dict(e) for e in flat]
    for e in flat1:
        if e["path"] == target["path"]:
            e["size"], e["hash"] = len(new), f2.sha(new)
    contents1 = dict(contents)
    contents1[f2.sha(new)] = new
    tree1 = f2.build(flat1)
    w1 = f2.Writer(known=w0.known)
    w1.write_tree(tree1, contents1, chunked)
    ph1, record1, locs1 = w1.finish(tree1)

    blobs_added = [r for r in w1.added if r["kind"] == "b"]
    dirs_added = [r for r in w1.added if r["kind"] == "d"]
    assert len(blobs_added) == 1 and all(r["kind"] in "bd" for r in w1.added)
    root_obj, root_loc = tree1[""][1], w1.locators[""]
    locs_body = f2.locations_body(w1.added)
    record_header = 4 + len(f2.varint(len(root_obj))) + len(f2.varint(len(root_loc))) + 1
    rows = [
        ("blob (zstd)", 1, blobs_added[0]["size"], blobs_added[0]["length"]),
        (
            "directory objects + locators (located frames)",
            len(dirs_added),
            sum(r["size"] + r["lsize"] for r in dirs_added),
            sum(r["length"] for r in dirs_added),
        ),
        ("  of which directory objects", len(dirs_added), sum(r["size"] for r in dirs_added), None),
        ("  of which locators", len(dirs_added), sum(r["lsize"] for r in dirs_added), None),
        ("pack magic", 1, len(f2.PACK_MAGIC), len(f2.PACK_MAGIC)),
        (
            "tree record (root object + root locator)",
            1,
            record_header + len(root_obj) + len(root_loc),
            len(record1),
        ),
        (
            "locations object",
            1,
            4 + len(f2.varint(len(locs_body))) + 1 + len(locs_body),
            len(locs1),
        ),
        ("ref", 1, REF_BYTES, REF_BYTES),
    ]
    assert len(w1.pack) == len(f2.PACK_MAGIC) + rows[0][3] + rows[1][3]
    print(
        f"edit: {target['path']} ({target['size']} -> {len(new)} bytes), "
        f"{len(dirs_added)} directories on its path below the root"
    )
    print(f"{'object':48} {'count':>5} {'bytes raw':>10} {'written':>10}")
    total_raw = total = 0
    for name, count, raw, written in rows:
        shown = "" if written is None else str(written)
        print(f"{name:48} {count:>5} {raw:>10} {shown:>10}")
        if not name.startswith("  "):
            total_raw += raw
            total += written
    verdict = "within" if total <= 16 * KIB else f"over by {total - 16 * KIB} bytes"
    print(
        f"{'total':48} {'':>5} {total_raw:>10} {total:>10}  ({total / KIB:.1f} KiB; "
        f"target 16 KiB: {verdict})"
    )
    meta = total - rows[0][3]
    print(f"{'  of which all but the blob':48} {'':>5} {'':>10} {meta:>10}  ({meta / KIB:.1f} KiB)")
    return total


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--work",
        default=os.path.join(tempfile.gettempdir(), "lazypath-format2-bench"),
        help="where the generated trees are kept (reused when present)",
    )
    args = p.parse_args(argv)
    os.makedirs(args.work, exist_ok=True)
    big = generate(args.work, "t10k", 10000, 200)
    small = generate(args.work, "t2k", 2000, 40)
    measure(big, "10,000 files / 200 MiB")
    measure(small, "2,000 files / 40 MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
