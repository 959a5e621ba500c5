"""The benchmarks' generated tree is what bench/README.md says: valid Python."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import gen_tree  # noqa: E402


def test_generated_modules_run_and_trees_are_deterministic(tmp_path):
    a = gen_tree.generate(str(tmp_path / "a"), files=200, mb=1, seed=3)
    gen_tree.generate(str(tmp_path / "b"), files=200, mb=1, seed=3)
    sources = sorted((tmp_path / "a").rglob("*.py"))
    assert len(sources) > 150, a
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # SyntaxWarnings count as failures
        for p in sources:  # the top level of each module runs
            exec(compile(p.read_bytes(), str(p), "exec"), {"__name__": "generated"})
    for p in sources:
        twin = tmp_path / "b" / p.relative_to(tmp_path / "a")
        assert twin.read_bytes() == p.read_bytes(), p
