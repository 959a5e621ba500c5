#!/usr/bin/env python3
"""Writes the test vectors of doc/format.md from an independent implementation.

This is a second, deliberately plain implementation of the tree, ref, index,
pack and profile formats (hashlib + zstd from the command line). The C++ tests check
that the core produces and accepts exactly these bytes, so the two can't
drift apart silently. Run from anywhere: python3 doc/vectors/make_vectors.py
"""

import hashlib
import json
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))


def sha(b: bytes) -> str:
    return "sha256:" + hashlib.sha256(b).hexdigest()


def esc(s: str) -> str:
    res = b""
    for byte in s.encode():
        if byte <= 0x20 or byte == 0x25 or byte == 0x7F:
            res += b"%%%02X" % byte
        else:
            res += bytes([byte])
    return res.decode()


def tree_bytes(entries):
    lines = ["lazypath-tree 1\n"]
    for e in sorted(entries, key=lambda e: e["path"].encode()):
        blob = e["target"].encode() if e["kind"] == "l" else e["content"].encode()
        digest = hashlib.sha256(blob).hexdigest()
        line = f"{e['kind']} {len(blob)} {digest} {esc(e['path'])}"
        if e["kind"] == "l":
            line += " " + esc(e["target"])
        lines.append(line + "\n")
    return "".join(lines)


def link_line(path: str, target: str) -> str:
    digest = hashlib.sha256(target.encode()).hexdigest()
    return f"l {len(target.encode())} {digest} {esc(path)} {esc(target)}\n"


def tree_vectors():
    valid = [
        ("empty tree", []),
        ("one file", [{"path": "a.py", "kind": "f", "content": "print('hi')\n"}]),
        (
            "package with executable, symlink and escapes",
            [
                {"path": "pkg/__init__.py", "kind": "f", "content": ""},
                {"path": "pkg/mod.py", "kind": "f", "content": "X = 1\n"},
                {"path": "bin/run", "kind": "x", "content": "#!/bin/sh\necho run\n"},
                {"path": "pkg/latest.py", "kind": "l", "target": "mod.py"},
                {"path": "data/with space%.txt", "kind": "f", "content": "d"},
                {"path": "data/caf\u00e9.txt", "kind": "f", "content": "\u00e9"},
                {"path": "pkg!/x", "kind": "f", "content": "sorted before pkg/"},
            ],
        ),
    ]
    out = {"valid": [], "invalid": []}
    for name, entries in valid:
        b = tree_bytes(entries)
        listed = []
        for e in sorted(entries, key=lambda e: e["path"].encode()):
            blob = e["target"].encode() if e["kind"] == "l" else e["content"].encode()
            item = {"path": e["path"], "kind": e["kind"], "size": len(blob), "digest": sha(blob)}
            if e["kind"] == "l":
                item["target"] = e["target"]
            listed.append(item)
        out["valid"].append(
            {
                "name": name,
                "entries": listed,
                "bytes": b,
                "digest": sha(b.encode()),
                "size": len(b.encode()),
            }
        )
    e0 = hashlib.sha256(b"").hexdigest()
    h = "lazypath-tree 1\n"
    bad = [
        ("wrong header", "lazypath-tree 2\n", "bad header"),
        ("absolute path", h + f"f 0 {e0} /etc/passwd\n", "absolute path"),
        ("dot-dot component", h + f"f 0 {e0} a/../../x\n", "'..' component"),
        ("dot component", h + f"f 0 {e0} a/./x\n", "'.' component"),
        ("duplicate path", h + f"f 0 {e0} a\nf 0 {e0} a\n", "listed twice"),
        ("out of order", h + f"f 0 {e0} b\nf 0 {e0} a\n", "out of order"),
        ("file and directory collide", h + f"f 0 {e0} a\nf 0 {e0} a/b\n", "collide"),
        (
            "escaping symlink",
            h + "l 5 {} a/l ../..\n".format(hashlib.sha256(b"../..").hexdigest()),
            "escapes",
        ),
        (
            "absolute symlink",
            h + "l 4 {} l /etc\n".format(hashlib.sha256(b"/etc").hexdigest()),
            "escapes",
        ),
        ("symlink digest mismatch", h + f"l 1 {e0} l x\n", "does not match"),
        ("unknown kind", h + f"d 0 {e0} a\n", "unknown kind"),
        ("uppercase digest", h + f"f 0 {e0.upper()} a\n", "bad digest"),
        ("size with leading zero", h + f"f 00 {e0} a\n", "bad size"),
        ("missing final newline", h + f"f 0 {e0} a", "missing final newline"),
        ("raw space in path", h + f"f 0 {e0} a b\n", "wrong number of fields"),
        ("needless escape", h + f"f 0 {e0} %41\n", "needs none"),
        ("empty component", h + f"f 0 {e0} a//b\n", "empty component"),
        (
            "symlink escaping through another symlink",
            h + link_line("esc", "x/up/x/up/..") + link_line("x/up", ".."),
            "through other symlinks",
        ),
        ("symlink loop", h + link_line("a", "b/c") + link_line("b", "a"), "escapes"),
        ("paths differing by case", h + f"f 0 {e0} A\nf 0 {e0} a\n", "differ only by case"),
        (
            "directories differing by case",
            h + f"f 0 {e0} P/x\nf 0 {e0} p/y\n",
            "differ only by case",
        ),
        (
            "NFC and NFD spellings of one name",
            h + f"f 0 {e0} cafe\u0301\nf 0 {e0} caf\u00e9\n",
            "Unicode normalisation",
        ),
    ]
    for name, b, err in bad:
        out["invalid"].append({"name": name, "bytes": b, "error": err})
    return out


def ref_vectors():
    d = sha(b"lazypath-tree 1\n")
    return {
        "valid": [{"bytes": d + "\n", "digest": d}],
        "invalid": [
            {"bytes": d, "error": "not a ref"},
            {"bytes": d.upper() + "\n", "error": "not a digest"},
            {"bytes": "sha256:" + "0" * 63 + "\n", "error": "not a ref"},
        ],
    }


def refmove_bytes(seq, prev, op, frm, to, time, actor) -> str:
    fields = [("seq", str(seq)), ("prev", prev or "none"), ("op", op),
              ("from", frm or "none"), ("to", to or "none"), ("time", str(time)),
              ("actor", actor)]
    return "lazypath-refmove 1\n" + "".join(f"{k} {v}\n" for k, v in fields)


def refmove_vectors():
    a = sha(b"lazypath-tree 1\n")
    b = sha(b"lazypath-tree 1\nb")
    first = refmove_bytes(1, None, "push", None, a, 1764590400, "ana@build-1")
    second = refmove_bytes(2, sha(first.encode()), "tag", a, b, 1764590460, "ci")
    valid = [
        {"name": "first push", "bytes": first, "seq": 1, "op": "push",
         "from": None, "to": a, "time": 1764590400, "actor": "ana@build-1"},
        {"name": "tag after it", "bytes": second, "seq": 2, "op": "tag",
         "from": a, "to": b, "time": 1764590460, "actor": "ci"},
        {"name": "delete", "bytes": refmove_bytes(3, sha(second.encode()), "delete", b, None,
                                                  0, "Jane Doe <jane@x>"),
         "seq": 3, "op": "delete", "from": b, "to": None, "time": 0,
         "actor": "Jane Doe <jane@x>"},
    ]
    p = sha(first.encode())
    invalid = [
        {"bytes": first + "x", "error": "trailing bytes"},
        {"bytes": first.replace("refmove 1", "refmove 2"), "error": "bad magic"},
        {"bytes": first[:-1], "error": "unterminated"},
        {"bytes": refmove_bytes(1, p, "push", None, a, 1, "x"), "error": "prev"},
        {"bytes": refmove_bytes(2, None, "push", None, a, 1, "x"), "error": "prev"},
        {"bytes": refmove_bytes(0, None, "push", None, a, 1, "x"), "error": "seq"},
        {"bytes": refmove_bytes("01", None, "push", None, a, 1, "x"), "error": "seq"},
        {"bytes": refmove_bytes(1, None, "move", None, a, 1, "x"), "error": "op"},
        {"bytes": refmove_bytes(1, None, "push", None, a.upper(), 1, "x"), "error": "to"},
        {"bytes": refmove_bytes(1, None, "push", None, None, 1, "x"), "error": "to"},
        {"bytes": refmove_bytes(1, None, "delete", None, None, 1, "x"), "error": "delete"},
        {"bytes": refmove_bytes(1, None, "push", None, a, -1, "x"), "error": "time"},
        {"bytes": refmove_bytes(1, None, "push", None, a, 1, ""), "error": "actor"},
        {"bytes": refmove_bytes(1, None, "push", None, a, 1, "tab\there"), "error": "actor"},
        {"bytes": refmove_bytes(1, None, "push", None, a, 1, "x" * 201), "error": "actor"},
        {"bytes": first.replace("seq 1\n", "seq  1\n"), "error": "seq"},
        {"bytes": first.replace("\nop ", "\nop_ "), "error": "op"},
        {"bytes": refmove_bytes(1, None, "push", None, a, 1, "x" * 5000), "error": "4096"},
    ]
    return {"valid": valid, "invalid": invalid}


def profile_bytes(tree: str, dirs) -> str:
    doc = {"format": "lazypath-profile/1", "tree": tree, "dirs": dirs}
    return json.dumps(doc, separators=(",", ":"), sort_keys=True, ensure_ascii=False) + "\n"


def profile_vectors():
    t = sha(b"lazypath-tree 1\n")
    valid = [
        {"name": "empty", "tree": t, "dirs": []},
        {"name": "root first", "tree": t, "dirs": ["", "app", "app/sub", "lib/ünï", "a b"]},
        {"name": "any order", "tree": t, "dirs": ["z", "a", "m/n"]},
    ]
    out = {"valid": [], "invalid": []}
    for v in valid:
        out["valid"].append({**v, "bytes": profile_bytes(v["tree"], v["dirs"])})

    def bad(name, doc, err):
        b = doc if isinstance(doc, str) else json.dumps(doc)
        out["invalid"].append({"name": name, "bytes": b, "error": err})

    ok = {"format": "lazypath-profile/1", "tree": t, "dirs": ["app"]}
    bad("not json", "lazypath-profile 1\n", "not valid JSON")
    bad("not an object", "[]", "not valid JSON")
    bad("format", {**ok, "format": "lazypath-profile/2"}, "unknown format")
    bad("no dirs", {"format": ok["format"], "tree": t}, "lacks tree or dirs")
    bad("dirs not a list", {**ok, "dirs": "app"}, "lacks tree or dirs")
    bad("tree uppercase", {**ok, "tree": t.upper()}, "bad tree digest")
    bad("dir not a string", {**ok, "dirs": [1]}, "not a string")
    bad("twice", {**ok, "dirs": ["app", "lib", "app"]}, "listed twice")
    bad("root twice", {**ok, "dirs": ["", ""]}, "listed twice")
    bad("dotdot", {**ok, "dirs": ["app/../../etc"]}, "bad directory")
    bad("absolute", {**ok, "dirs": ["/etc"]}, "bad directory")
    bad("trailing slash", {**ok, "dirs": ["app/"]}, "bad directory")
    bad("empty component", {**ok, "dirs": ["app//x"]}, "bad directory")
    bad("dot", {**ok, "dirs": ["."]}, "bad directory")
    return out


def zstd_frame(data: bytes) -> bytes:
    return subprocess.run(
        ["zstd", "-q", "-c", "-3", "--no-check"], input=data, check=True, capture_output=True
    ).stdout


def pack_vectors():
    """A pack of two blobs, one raw and one zstd, and its index."""
    raw = b"hello\n"
    big = b"import os\n" * 200
    frame = zstd_frame(big)
    pack = b"LZPACK1\n" + raw + frame
    pack_digest = sha(pack)
    blobs = sorted(
        [
            [sha(raw), len(raw), 0, 8, len(raw), "none"],
            [sha(big), len(big), 0, 8 + len(raw), len(frame), "zstd"],
        ]
    )
    tree = tree_bytes(
        [
            {"path": "hello.txt", "kind": "f", "content": raw.decode()},
            {"path": "pkg/big.py", "kind": "f", "content": big.decode()},
        ]
    )
    index = {
        "format": "lazypath-index/1",
        "tree": sha(tree.encode()),
        "packs": [pack_digest],
        "blobs": blobs,
    }
    return {
        "pack_hex": pack.hex(),
        "pack_digest": pack_digest,
        "tree_bytes": tree,
        "index": json.dumps(index, separators=(",", ":"), sort_keys=True) + "\n",
        "blobs": {sha(raw): raw.decode(), sha(big): big.decode()},
        "invalid_indexes": [
            {"bytes": "not json", "error": "not valid JSON"},
            {
                "bytes": json.dumps({**index, "format": "lazypath-index/9"}),
                "error": "unknown format",
            },
            {
                "bytes": json.dumps({**index, "blobs": [[sha(raw), 6, 3, 8, 6, "none"]]}),
                "error": "names a pack it does not list",
            },
            {
                "bytes": json.dumps({**index, "blobs": [[sha(raw), 6, 0, 2, 6, "none"]]}),
                "error": "outside its pack",
            },
            {
                "bytes": json.dumps({**index, "blobs": [[sha(raw), 6, 0, 8, 7, "none"]]}),
                "error": "raw frame",
            },
            {
                "bytes": json.dumps({**index, "blobs": [[sha(raw), 6, 0, 8, 6, "lz4"]]}),
                "error": "unknown codec",
            },
            {
                "bytes": json.dumps({**index, "blobs": [blobs[0], blobs[0]]}),
                "error": "lists a blob twice",
            },
            {
                "bytes": json.dumps({**index, "blobs": [[sha(raw), 6, 0, 8, 1 << 20, "zstd"]]}),
                "error": "longer than",
            },
        ],
    }


def main():
    for name, data in [
        ("trees.json", tree_vectors()),
        ("refs.json", ref_vectors()),
        ("refmoves.json", refmove_vectors()),
        ("pack.json", pack_vectors()),
        ("profiles.json", profile_vectors()),
    ]:
        with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, ensure_ascii=False, sort_keys=True)
            f.write("\n")


if __name__ == "__main__":
    main()
