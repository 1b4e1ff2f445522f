"""The README's Python examples run as written, and so does the tutorial.

Each ```python block of README.md is written to its own file in a temporary folder
and run as a script (no ``if __name__ == "__main__":`` guard: sweep workers must not
re-run it) from the repository root, in a fresh interpreter; examples/tutorial.py
(jupytext percent format, plain Python) is run the same way, on coarse meshes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def python_blocks(markdown: Path) -> list[str]:
    """The ```python code blocks of a Markdown file, in order."""
    return BLOCK.findall(markdown.read_text(encoding="utf-8"))


def _run_script(script: Path, tmp_path: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a script from the repository root with this checkout's confine first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["MPLBACKEND"] = "Agg"
    env.setdefault("CONFINE_MESH_CACHE", str(ROOT / "meshes"))
    env["CONFINE_TUTORIAL_OUT"] = str(tmp_path / "out")
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_readme_has_python_examples() -> None:
    blocks = python_blocks(ROOT / "README.md")
    assert blocks, "README.md has no ```python block"
    assert any("confine.sweep(" in b and "jobs=2" in b for b in blocks)
    assert not any("__main__" in b for b in blocks)  # the example needs no guard


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(python_blocks(ROOT / "README.md"))))
def test_readme_python_block_runs(index: int, tmp_path: Path) -> None:
    code = python_blocks(ROOT / "README.md")[index]
    # results/... paths of the README go to the temporary folder, not the checkout
    code = code.replace('"results/', f'"{(tmp_path / "results").as_posix()}/')
    script = tmp_path / f"readme_block_{index}.py"
    script.write_text(code, encoding="utf-8")
    proc = _run_script(script, tmp_path, timeout=180)
    assert proc.returncode == 0, f"README block {index} failed:\n{proc.stdout}\n{proc.stderr}"
    # the script ran once: workers did not re-run it (a re-run would fail in the worker)
    assert "BrokenProcessPool" not in proc.stderr
    assert "could not run in its worker" not in proc.stderr


@pytest.mark.slow
def test_tutorial_runs(tmp_path: Path) -> None:
    proc = _run_script(ROOT / "examples" / "tutorial.py", tmp_path, timeout=240)
    assert proc.returncode == 0, f"examples/tutorial.py failed:\n{proc.stdout}\n{proc.stderr}"
    out = tmp_path / "out"
    assert (out / "pore-sweep" / "results.csv").is_file()
    assert (out / "fields.png").stat().st_size > 10_000
    assert (out / "fit" / "fit.md").is_file()


UNGUARDED = """
import sys
from pathlib import Path

sys.path.insert(0, {tests!r})
from sweep_runners import TWO_PATH, ShellRunner

import confine

print("script body ran", flush=True)
spec = {{
    "sweep": {{"name": "unguarded", "case": str(TWO_PATH)}},
    "parameters": {{"electrode.potential": ["-0.7 V", "-0.8 V", "-0.9 V", "-1.0 V"]}},
}}
table = confine.sweep(spec, out={out!r}, jobs=2, runner=ShellRunner(), plots=False)
assert (table["status"] == "done").all(), table["status"]
"""


def test_sweep_workers_do_not_rerun_an_unguarded_script(tmp_path: Path) -> None:
    """No ``if __name__ == "__main__":`` guard: the script body runs once, not per worker."""
    script = tmp_path / "unguarded.py"
    tests = str(ROOT / "tests")
    script.write_text(UNGUARDED.format(tests=tests, out=str(tmp_path / "sweep")), encoding="utf-8")
    proc = _run_script(script, tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("script body ran") == 1, proc.stdout
