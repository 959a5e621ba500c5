"""The doctor's collector: run inside the *target* interpreter, prints its facts as JSON.

It is run as ``PY -S -c <this file's text>`` in the caller's working directory
and environment (so PYTHONPATH, PYTHONHOME, PYTHONNOUSERSITE, PYTHONSAFEPATH
count, exactly as for the user's program). ``-S`` stops the interpreter from
running site.main(): no .pth line is executed, sitecustomize/usercustomize are
not imported. The collector then rebuilds the sys.path that site.main() would
have built, step by step with site's own functions (removeduppaths, venv,
check_enableusersite, getusersitepackages, getsitepackages) and its own
reading of .pth files, in which path lines are applied and ``import`` lines are
recorded but never executed. While it imports anything (site, importlib.machinery,
sysconfig) sys.path holds only the standard library's directories, so a
``site.py`` or ``json.py`` in the cwd or on PYTHONPATH is never imported.
Nothing else of the target runs beyond interpreter start-up.

What this cannot see: effects of ``import`` lines in .pth files (import hooks,
sys.path edits), which are reported as findings instead.

Keep this file free of non-stdlib imports and compatible with Python 3.6+.
"""

import sys


def _enc(o):
    if o is None:
        return "null"
    if o is True:
        return "true"
    if o is False:
        return "false"
    if isinstance(o, int):
        return str(o)
    if isinstance(o, str):
        out = ['"']
        for ch in o:
            c = ord(ch)
            if ch == '"' or ch == "\\":
                out.append("\\" + ch)
            elif c < 0x20 or 0xD800 <= c <= 0xDFFF or c > 0x7E:
                if c > 0xFFFF:
                    c -= 0x10000
                    out.append(f"\\u{0xD800 + (c >> 10):04x}\\u{0xDC00 + (c & 0x3FF):04x}")
                else:
                    out.append(f"\\u{c:04x}")
            else:
                out.append(ch)
        out.append('"')
        return "".join(out)
    if isinstance(o, dict):
        return "{" + ",".join(_enc(str(k)) + ":" + _enc(v) for k, v in o.items()) + "}"
    if isinstance(o, (list, tuple)):
        return "[" + ",".join(_enc(v) for v in o) + "]"
    return _enc(str(o))


def _qualname(obj):
    t = obj if isinstance(obj, type) else type(obj)
    if not isinstance(obj, type) and callable(obj) and hasattr(obj, "__qualname__"):
        t = obj
    return "{}.{}".format(getattr(t, "__module__", "?"), getattr(t, "__qualname__", repr(t)))


_DEFAULT_META_PATH = [
    "_frozen_importlib.BuiltinImporter",
    "_frozen_importlib.FrozenImporter",
    "_frozen_importlib_external.PathFinder",
]
_DEFAULT_PATH_HOOKS = [
    "zipimport.zipimporter",
    "_frozen_importlib_external.FileFinder.path_hook.<locals>.path_hook_for_FileFinder",
]


def _editable_finder(sitedir, line):
    """The name -> path MAPPING of a setuptools editable-install finder that a
    .pth line `import __editable___X_finder; __editable___X_finder.install()`
    would install (appended to sys.meta_path), read with ast, never run."""
    import ast
    import os
    import re

    m = re.match(r"import\s+(__editable__\w*_finder)\s*;\s*\1\.install\(\)\s*$", line)
    if not m:
        return None
    path = os.path.join(sitedir, m.group(1) + ".py")
    try:
        with open(path, "rb") as f:
            tree = ast.parse(f.read(), path)
    except (OSError, SyntaxError, ValueError):
        return None
    mapping = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "MAPPING" for t in node.targets
        ):
            try:
                mapping = ast.literal_eval(node.value)
            except ValueError:
                return None
    if not isinstance(mapping, dict):
        return None
    return {
        "finder": m.group(1),
        "file": path,
        "mapping": [[str(k), str(v)] for k, v in mapping.items()],
    }


def collect(live=False):
    """The facts. With `live`, this process's own sys.path is reported as it
    is (used inside Ray workers, whose path Ray and the runtime_env set up);
    .pth files are still read, never executed, and change nothing."""
    if live:
        import site

        saved = list(sys.path)
        saved_site = (list(site.PREFIXES), site.ENABLE_USER_SITE, sys.prefix, sys.exec_prefix)
        try:
            facts = _static(swap=False)
        finally:
            sys.path[:] = saved
            site.PREFIXES[:], site.ENABLE_USER_SITE, sys.prefix, sys.exec_prefix = saved_site
        facts["sys_path"] = saved
        facts["path_sources"] = [""] * len(saved)
        facts["meta_path"] = [_qualname(f) for f in sys.meta_path]
        facts["path_hooks"] = [_qualname(h) for h in sys.path_hooks]
        facts["default_meta_path"] = _DEFAULT_META_PATH
        facts["default_path_hooks"] = _DEFAULT_PATH_HOOKS
        facts["live"] = True
        return facts
    return _static(swap=True)


def _static(swap):
    """The facts for sys.path as site.main() would build it in this interpreter.

    REQUIRES: nothing of site.main() has run (``-S``), or `swap` is false and the
    caller restores sys.path, site.PREFIXES, site.ENABLE_USER_SITE, sys.prefix
    and sys.exec_prefix afterwards. Leaves sys.path as rebuilt.
    """
    flags = sys.flags
    safe_path = bool(getattr(flags, "safe_path", False))
    path0, orig_path = _split_cwd_entry(sys.path, safe_path)
    _import_from_stdlib_only(orig_path, swap)
    stdlib_dir = _stdlib_dir()

    import site

    state = _SitePath(site.removeduppaths())  # absolute, de-duplicated: site.main()'s first step
    _apply_venv(state)
    enable, user_site, site_packages = _add_site_packages(state)
    sys.path[0:0] = path0

    stdlib_paths = _stdlib_paths(orig_path, stdlib_dir)
    stdlib = _stdlib_module_names(stdlib_paths)
    return _report(
        safe_path=safe_path,
        path_sources=_path_sources(path0, state.sources, stdlib_paths),
        stdlib=stdlib,
        frozen=_frozen_module_names(stdlib),
        stdlib_paths=stdlib_paths,
        site_facts={
            "enable_user_site": bool(enable),
            "user_site": user_site,
            "site_packages": list(site_packages),
            "pth": state.pth,
            "executes_code": any(ln["kind"] == "exec" for p in state.pth for ln in p["lines"]),
        },
    )


def _split_cwd_entry(path, safe_path):
    """(path0, rest): `path0` is [''] when path[0] is the cwd entry that
    `python -c` put first after site would have run, else [] (always [] with
    -P/PYTHONSAFEPATH); `rest` is a new list of the other entries."""
    if path and path[0] == "" and not safe_path:
        return path[:1], path[1:]
    return [], list(path)


def _import_from_stdlib_only(orig_path, swap):
    """Imports every module the collector uses (os, site, sysconfig, ast, re,
    importlib.machinery, _imp) and warms up the lazy imports inside sysconfig
    and site, so that later stages only find them in sys.modules.

    With `swap`, sys.path meanwhile holds only the base installation's entries
    that are not on PYTHONPATH (os is not frozen before 3.11), so a user's
    site.py or json.py is never imported. Either way sys.path equals
    `orig_path` on return.
    """
    flags = sys.flags
    if swap:
        import posix

        pp_raw = b"" if flags.ignore_environment else posix.environ.get(b"PYTHONPATH", b"")
        pp_raw = pp_raw.decode(sys.getfilesystemencoding(), "surrogateescape")
        pp_set = set(p.rstrip("/") for p in pp_raw.split(":") if p)
        bases = tuple(
            b
            for b in (
                getattr(sys, "base_prefix", sys.prefix),
                getattr(sys, "base_exec_prefix", sys.exec_prefix),
            )
            if b
        )
        sys.path[:] = [p for p in orig_path if p.startswith(bases) and p.rstrip("/") not in pp_set]
    try:
        import _imp  # noqa: F401
        import ast  # noqa: F401  (used by _editable_finder)
        import importlib.machinery  # noqa: F401
        import os  # noqa: F401
        import re  # noqa: F401
        import site
        import sysconfig

        sysconfig.get_paths()
        sysconfig.get_config_vars()
        site.getusersitepackages()
        if hasattr(site, "getsitepackages"):
            site.getsitepackages()
    finally:
        sys.path[:] = orig_path


def _stdlib_dir():
    """The directory os was imported from; where os is frozen,
    sys._stdlib_dir, or '' when neither is known."""
    import os

    stdlib_dir = os.path.dirname(os.__file__) if getattr(os, "__file__", None) else None
    if not stdlib_dir:
        stdlib_dir = getattr(sys, "_stdlib_dir", None) or ""
    return stdlib_dir


class _SitePath:
    """sys.path as site.main() grows it, without executing any .pth line.

    `known` is site's known_paths (case-normalised entries already on
    sys.path), `sources` maps an added entry to why it is there, and `pth`
    holds one record per .pth file read, in reading order.
    """

    def __init__(self, known):
        self.known = known
        self.sources = {}
        self.pth = []
        self._seen_pth = set()

    def addsitedir(self, sitedir, why):
        """site.addsitedir(): appends `sitedir` unless known, then reads its
        .pth files in name order, each once (site reads a venv's twice)."""
        import os
        import site

        sitedir, sitedircase = site.makepath(sitedir)
        if sitedircase not in self.known:
            sys.path.append(sitedir)
            self.known.add(sitedircase)
        self.sources.setdefault(sitedir, why)
        try:
            names = os.listdir(sitedir)
        except OSError:
            return
        for name in sorted(n for n in names if n.endswith(".pth") and not n.startswith(".")):
            full = os.path.join(sitedir, name)
            if full in self._seen_pth:
                continue
            self._seen_pth.add(full)
            self._read_pth(sitedir, full)

    def _read_pth(self, sitedir, full):
        """Records the .pth file `full` in `pth`: a path line is appended to
        sys.path when it exists and is not known; an ``import`` line is
        recorded (with the editable finder's mapping it would install), never
        run. An unreadable file gets an "error" and no lines."""
        import os
        import site

        rec = {"file": full, "lines": []}
        self.pth.append(rec)
        try:
            with open(full, "rb") as f:
                raw = f.read()
        except OSError as e:
            rec["error"] = str(e)
            return
        text = raw.decode("utf-8", "replace")
        for n, line in enumerate(text.splitlines(True), 1):
            if line.startswith("#") or line.strip() == "":
                continue
            if line.startswith(("import ", "import\t")):
                entry = {"line": n, "kind": "exec", "text": line.rstrip()}
                editable = _editable_finder(sitedir, line)
                if editable is not None:
                    entry["editable"] = editable
                rec["lines"].append(entry)
                continue
            line = line.rstrip()
            d, dcase = site.makepath(sitedir, line)
            added = False
            if dcase not in self.known and os.path.exists(d):
                sys.path.append(d)
                self.known.add(dcase)
                self.sources.setdefault(d, f"{full}:{n}")
                added = True
            rec["lines"].append({"line": n, "kind": "path", "text": line, "added": added})


def _apply_venv(state):
    """site.venv(), minus its call of addsitepackages() (which would execute
    .pth lines): the same pyvenv.cfg lookup and the same effects on
    sys.prefix, sys.exec_prefix, site.PREFIXES and site.ENABLE_USER_SITE. On
    3.11+ (where site adds them before the user site) the venv's
    site-packages go onto `state`. Does nothing outside a venv."""
    import os
    import site

    exe = os.environ.get("__PYVENV_LAUNCHER__") if sys.platform == "darwin" else None
    exe_dir = os.path.dirname(os.path.abspath(exe or sys.executable))
    site_prefix = os.path.dirname(exe_dir)
    cfgs = [os.path.join(exe_dir, "pyvenv.cfg"), os.path.join(site_prefix, "pyvenv.cfg")]
    cfg = next((c for c in cfgs if os.path.isfile(c)), None)
    if cfg is None or not hasattr(site, "venv"):
        return
    system_site = "true"
    with open(cfg, encoding="utf-8") as f:
        for line in f:
            if "=" in line:
                key, _, value = line.partition("=")
                if key.strip().lower() == "include-system-site-packages":
                    system_site = value.strip().lower()
    sys.prefix = sys.exec_prefix = site_prefix
    try:
        with open(site.__file__, encoding="utf-8") as f:
            early = "addsitepackages(known_paths, [sys.prefix])" in f.read()
    except (OSError, TypeError):
        early = sys.version_info >= (3, 11)
    if early:
        for sd in site.getsitepackages([sys.prefix]):
            if os.path.isdir(sd):
                state.addsitedir(sd, "site-packages (venv)")
    if system_site == "true":
        site.PREFIXES.insert(0, sys.prefix)
    else:
        site.PREFIXES = [sys.prefix]
        site.ENABLE_USER_SITE = False


def _add_site_packages(state):
    """site.main()'s user-site and site-packages steps, onto `state`: returns
    (enable_user_site, user_site, site_packages), deciding and storing
    site.ENABLE_USER_SITE first when it is still undecided."""
    import os
    import site

    enable = site.ENABLE_USER_SITE
    if enable is None:
        enable = site.check_enableusersite()
        site.ENABLE_USER_SITE = enable
    user_site = site.getusersitepackages()
    site_packages = site.getsitepackages() if hasattr(site, "getsitepackages") else []
    if enable and os.path.isdir(user_site):
        state.addsitedir(user_site, "user site-packages")
    for sd in site_packages:
        if os.path.isdir(sd):
            state.addsitedir(sd, "site-packages")
    return enable, user_site, site_packages


def _stdlib_paths(orig_path, stdlib_dir):
    """The standard library's directories: the base installation's stdlib and
    platstdlib (in a venv, sysconfig's platstdlib would be the venv's), each
    with its lib-dynload, `stdlib_dir`'s, and any pythonXY.zip on `orig_path`."""
    import os
    import sysconfig

    base = {
        "base": sys.base_prefix,
        "platbase": sys.base_exec_prefix,
        "installed_base": sys.base_prefix,
        "installed_platbase": sys.base_exec_prefix,
    }
    paths = sysconfig.get_paths(vars=base) if hasattr(sys, "base_prefix") else sysconfig.get_paths()
    stdlib_paths = []
    for d in (paths.get("stdlib", ""), paths.get("platstdlib", ""), stdlib_dir):
        if d and d not in stdlib_paths:
            stdlib_paths += [d, os.path.join(d, "lib-dynload")]
    stdlib_paths += [
        p for p in orig_path if os.path.basename(p).startswith("python") and p.endswith(".zip")
    ]
    return [p for p in stdlib_paths if p]


def _path_sources(path0, sources, stdlib_paths):
    """One reason per sys.path entry, in order ('' when unknown): the cwd
    entry, then what put it there (`sources`), then PYTHONPATH, then the
    standard library."""
    import os

    flags = sys.flags
    env_pp = os.environ.get("PYTHONPATH", "") if not flags.ignore_environment else ""
    pp = set(os.path.abspath(p) for p in env_pp.split(os.pathsep) if p)
    path_sources = []
    for i, p in enumerate(sys.path):
        if path0 and i == 0:
            why = "cwd (python -c/-m put '' first; a script puts its own directory)"
        elif p in sources:
            why = sources[p]
        elif p in pp:
            why = "PYTHONPATH"
        elif p in stdlib_paths:
            why = "standard library"
        else:
            why = ""
        path_sources.append(why)
    return path_sources


def _stdlib_module_names(stdlib_paths):
    """The standard library's top-level module names, sorted: 3.10+'s
    sys.stdlib_module_names, before that the builtins plus what
    `stdlib_paths` hold."""
    import os

    if hasattr(sys, "stdlib_module_names"):
        return sorted(sys.stdlib_module_names)
    stdlib = set(sys.builtin_module_names)
    for d in stdlib_paths:
        try:
            for n in os.listdir(d):
                if n.endswith(".py"):
                    stdlib.add(n[:-3])
                elif "." not in n and n not in (
                    "site-packages",
                    "dist-packages",
                    "__pycache__",
                ):
                    stdlib.add(n)
                elif n.endswith(".so"):
                    stdlib.add(n.split(".")[0])
        except OSError:
            pass
    return sorted(stdlib)


def _frozen_module_names(stdlib):
    """The top-level frozen modules, unsorted: 3.11+ asks _imp for all of
    them, before that only names in `stdlib` are tried."""
    import _imp

    if hasattr(_imp, "_frozen_module_names"):
        return [
            n
            for n in _imp._frozen_module_names()
            if "." not in n and _imp.find_frozen(n) is not None
        ]
    return [n for n in stdlib if _imp.is_frozen(n)]


def _pyvenv_cfg():
    """sys.prefix's pyvenv.cfg as {lower-case key: value}; {} when unreadable."""
    import os

    cfg = {}
    try:
        with open(os.path.join(sys.prefix, "pyvenv.cfg")) as f:
            for line in f:
                if "=" in line:
                    k, v = line.split("=", 1)
                    cfg[k.strip().lower()] = v.strip()
    except OSError:
        pass
    return cfg


def _report(safe_path, path_sources, stdlib, frozen, stdlib_paths, site_facts):
    """The facts dict (schema 1): the interpreter, its flags and environment,
    sys.path as it stands now with `path_sources`, and import machinery."""
    import importlib.machinery as machinery
    import os

    flags = sys.flags
    cfg = _pyvenv_cfg()
    return {
        "schema": 1,
        "python": {
            "executable": sys.executable,
            "version": ".".join(str(v) for v in sys.version_info[:3]),
            "implementation": sys.implementation.name,
            "cache_tag": sys.implementation.cache_tag,
            "platform": sys.platform,
            "prefix": sys.prefix,
            "base_prefix": getattr(sys, "base_prefix", sys.prefix),
            "in_venv": sys.prefix != getattr(sys, "base_prefix", sys.prefix),
            "include_system_site_packages": cfg.get("include-system-site-packages"),
        },
        "cwd": os.getcwd(),
        "flags": {
            "safe_path": safe_path,
            "no_user_site": bool(flags.no_user_site),
            "isolated": bool(flags.isolated),
            "ignore_environment": bool(flags.ignore_environment),
        },
        "env": {
            k: os.environ[k]
            for k in ("PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH", "PYTHONNOUSERSITE")
            if k in os.environ
        },
        "sys_path": list(sys.path),
        "path_sources": path_sources,
        "meta_path": [_qualname(f) for f in sys.meta_path],
        "path_hooks": [_qualname(h) for h in sys.path_hooks],
        "default_meta_path": [_qualname(f) for f in sys.meta_path],
        "default_path_hooks": [_qualname(h) for h in sys.path_hooks],
        "builtin": sorted(sys.builtin_module_names),
        "frozen": sorted(frozen),
        "stdlib": stdlib,
        "stdlib_paths": stdlib_paths,
        "suffixes": {
            "extension": list(machinery.EXTENSION_SUFFIXES),
            "source": list(machinery.SOURCE_SUFFIXES),
            "bytecode": list(machinery.BYTECODE_SUFFIXES),
        },
        "site": site_facts,
    }


def _enc_main():
    sys.stdout.write(_enc(collect()))


if __name__ == "__main__":
    _enc_main()
    sys.stdout.flush()
