"""Every failure a user can cause on the command line: one stderr line, an exit code, no traceback.

Each test runs ``python -m confine`` in a fresh working directory (the
checkout's package on PYTHONPATH). Exit codes: 2 for a wrong command line or
input file, 1 for work that failed or output that cannot be written.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import tomli_w

from confine import cli_guard, failure
from confine.case import case_from_dict, load_case
from confine.readable import readable_quantity
from confine.units import parse_quantity

ROOT = Path(__file__).resolve().parent.parent
CASE = ROOT / "cases" / "mchs-7nm.toml"
SWEEP = ROOT / "cases" / "sweeps" / "pore-size.sweep.toml"
FIT = ROOT / "cases" / "fit" / "mchs7-kinetics.fit.toml"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
ROOT_SKIP = "root ignores file permissions: a read-only directory is writable for root"

#: A 1D silver deposition that Newton cannot finish in one iteration (about 2 s):
#: strongly driven Butler-Volmer kinetics, one continuation step, one iteration.
NO_CONVERGENCE = """
[case]
name = "no-convergence"

[geometry]
kind = "planar"
model = "1d"
length = "10 nm"
catalyst = "surface"

[electrolyte]
potential_model = "electroneutral"
hindrance = "none"

[electrode]
potential = "-0.8 V"

[[species]]
name = "Ag+"
charge = 1
diffusivity = "1e-9 m^2/s"
bulk = "0.01 mol/L"

[[species]]
name = "NO3-"
charge = -1
diffusivity = "1.9e-9 m^2/s"
bulk = "0.01 mol/L"

[[species]]
name = "Ag"
diffusivity = "1e-9 m^2/s"

[[reactions]]
name = "deposit"
type = "electrochemical"
where = "surface"
reactants = { "Ag+" = 1 }
products = { Ag = 1 }
electrons = 1
rate_constant = "100 m/s"
transfer_coefficient = 0.5

[solver]
max_iterations = 1
continuation_steps = 1

[output]
fields = false
figures = false
"""


def confine_cli(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m confine ARGS`` in ``cwd`` with this checkout's package."""
    environ = {k: v for k, v in os.environ.items() if k != "CONFINE_MESH_CACHE"}
    environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), environ.get("PYTHONPATH", "")])
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "confine", *map(str, args)],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_line(proc: subprocess.CompletedProcess[str], code: int) -> str:
    """The single stderr line of a failed command (asserting its exit code)."""
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    return lines[0]


# --------------------------------------------------------------------------- input files
@pytest.fixture
def binary(tmp_path: Path) -> Path:
    path = tmp_path / "binary.toml"
    path.write_bytes(bytes(range(256)) * 4)
    return path


@pytest.mark.parametrize("command", ["validate", "mesh", "run", "sweep", "fit"])
def test_binary_input_file(tmp_path: Path, binary: Path, command: str) -> None:
    args = ["--out", "out"] if command in ("run", "sweep", "fit") else []
    line = one_line(confine_cli(command, binary.name, *args, cwd=tmp_path), 2)
    assert line.startswith("error: binary.toml: not a text file")
    assert "UTF-8" in line


def test_non_utf8_case_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('[case]\nname = "Übung"\n'.encode("latin-1"))  # saved by a Latin-1 editor
    line = one_line(confine_cli("validate", path.name, cwd=tmp_path), 2)
    assert line.startswith("error: latin1.toml: not a text file (byte 0xdc at offset 15 ")


@pytest.mark.parametrize("command", ["validate", "mesh", "run", "sweep", "fit"])
def test_directory_as_input_file(tmp_path: Path, command: str) -> None:
    (tmp_path / "cases").mkdir()
    args = ["--out", "out"] if command in ("run", "sweep", "fit") else []
    line = one_line(confine_cli(command, "cases", *args, cwd=tmp_path), 2)
    assert line.startswith("error: cases: is a directory, expected a")


@pytest.mark.parametrize("command", ["validate", "run", "sweep", "fit"])
def test_missing_input_file(tmp_path: Path, command: str) -> None:
    args = ["--out", "out"] if command != "validate" else []
    line = one_line(confine_cli(command, "nope.toml", *args, cwd=tmp_path), 2)
    assert line == "error: nope.toml: no such file"


@pytest.mark.parametrize(
    ("command", "given", "kind", "use"),
    [
        ("run", SWEEP, "sweep", "confine sweep"),
        ("run", FIT, "fit", "confine fit"),
        ("validate", SWEEP, "sweep", "confine sweep"),
        ("mesh", FIT, "fit", "confine fit"),
        ("sweep", CASE, "case", "confine run"),
        ("sweep", FIT, "fit", "confine fit"),
        ("fit", CASE, "case", "confine run"),
        ("fit", SWEEP, "sweep", "confine sweep"),
    ],
)
def test_wrong_kind_of_file_names_the_right_command(
    tmp_path: Path, command: str, given: Path, kind: str, use: str
) -> None:
    args = ["--out", "out"] if command in ("run", "sweep", "fit") else []
    line = one_line(confine_cli(command, given, *args, cwd=tmp_path), 2)
    assert f"this is a {kind} file: use `{use} {given} --out DIR`" in line
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- arguments
@pytest.mark.parametrize("command", ["validate", "run", "bench"])
def test_set_without_equals_is_a_usage_error(tmp_path: Path, command: str) -> None:
    given: dict[str, list[str | Path]] = {
        "validate": [CASE],
        "run": [CASE, "--out", "out"],
        "bench": ["--case", CASE],
    }
    args = given[command]
    line = one_line(confine_cli(command, *args, "--set", "geometry.pore_diameter", cwd=tmp_path), 2)
    assert "--set" in line and "'geometry.pore_diameter': expected KEY=VALUE" in line


def test_usage_errors_are_one_line(tmp_path: Path) -> None:
    line = one_line(confine_cli("run", CASE, cwd=tmp_path), 2)  # no --out
    assert "required: --out" in line
    line = one_line(confine_cli("rnu", CASE, cwd=tmp_path), 2)
    assert "invalid choice: 'rnu'" in line


def test_help_documents_exit_codes(tmp_path: Path) -> None:
    proc = confine_cli("--help", cwd=tmp_path)
    assert proc.returncode == 0
    assert "exit codes: 0 success; 1 the work failed" in proc.stdout
    assert "--debug" in proc.stdout


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback(tmp_path: Path, where: str) -> None:
    (tmp_path / "cases").mkdir()
    args = ["validate", "cases"]
    args = ["--debug", *args] if where == "before" else [*args, "--debug"]
    proc = confine_cli(*args, cwd=tmp_path)
    assert proc.returncode != 0
    assert "Traceback (most recent call last)" in proc.stderr
    assert "cases: is a directory" in proc.stderr


# --------------------------------------------------------------------------- outputs
@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("run", [CASE]),
        ("mesh", [CASE]),
        ("sweep", [SWEEP]),
        ("fit", [FIT]),
        ("keys", []),
    ],
)
def test_output_under_a_regular_file(tmp_path: Path, command: str, args: list[Path]) -> None:
    """--out inside a path whose parent is a file: fails for root too."""
    (tmp_path / "taken").write_text("a file, not a folder\n")
    line = one_line(confine_cli(command, *args, "--out", "taken/out", cwd=tmp_path), 1)
    assert line == "error: taken/out: cannot create it: taken is a file"
    assert (tmp_path / "taken").read_text() == "a file, not a folder\n"


def test_run_output_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("keep me\n")
    line = one_line(confine_cli("run", CASE, "--out", "taken", cwd=tmp_path), 1)
    assert line == "error: taken: exists and is not a directory"
    assert (tmp_path / "taken").read_text() == "keep me\n"


def test_keys_output_that_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    line = one_line(confine_cli("keys", "--out", "docs", cwd=tmp_path), 1)
    assert line == "error: docs: is a directory, expected a file name"


def test_an_existing_output_file_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "keys.md").write_text("old", encoding="utf-8")
    proc = confine_cli("keys", "--out", "keys.md", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "keys.md").read_text().startswith("# Case-file key")


def test_missing_output_parents_are_created(tmp_path: Path) -> None:
    proc = confine_cli("keys", "--out", "docs/generated/keys.md", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "docs/generated/keys.md").read_text().startswith("# Case-file key")


@pytest.mark.skipif(IS_ROOT, reason=ROOT_SKIP)
@pytest.mark.parametrize(("command", "args"), [("run", [CASE]), ("keys", [])])
def test_read_only_output_folder(tmp_path: Path, command: str, args: list[Path]) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        line = one_line(confine_cli(command, *args, "--out", "locked/out", cwd=tmp_path), 1)
    finally:
        locked.chmod(0o755)
    assert line == (
        "error: locked/out: cannot write it: locked is not writable (choose another --out)"
    )


def test_mesh_cache_that_cannot_be_created(tmp_path: Path) -> None:
    """The cache under the working directory is blocked (a file where its folder goes)."""
    (tmp_path / "case.toml").write_text(NO_CONVERGENCE)
    (tmp_path / "meshes").write_text("not a folder\n")
    env = {"CONFINE_MESH_CACHE": str(tmp_path / "meshes")}  # the same place, set explicitly
    line = one_line(confine_cli("mesh", "case.toml", "--out", "m", cwd=tmp_path, env=env), 1)
    assert line.startswith("error: ") and "cannot write the mesh cache" in line
    assert "--mesh-cache DIR or CONFINE_MESH_CACHE=DIR" in line


@pytest.mark.parametrize(("mode", "out"), [("replaced", "out"), ("file", "keys.md"), ("dir", "")])
def test_read_only_output_is_refused_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, out: str
) -> None:
    """The decision behind test_read_only_output_folder, also where root runs the tests."""
    locked = tmp_path / "locked"
    locked.mkdir()
    access = os.access
    monkeypatch.setattr(
        cli_guard.os, "access", lambda p, m: False if Path(p) == locked else access(p, m)
    )
    with pytest.raises(cli_guard.UsageError) as err:
        cli_guard.check_output(locked / out if out else locked, mode)
    assert err.value.code == 1
    message = str(err.value)
    assert f"{locked}" in message and message.endswith("is not writable (choose another --out)")
    monkeypatch.undo()
    cli_guard.check_output(locked / out if out else locked, mode)  # writable: no error


@pytest.mark.skipif(IS_ROOT, reason=ROOT_SKIP)
def test_read_only_working_directory(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    (tmp_path / "case.toml").write_text(NO_CONVERGENCE)
    out = tmp_path_factory.mktemp("elsewhere") / "m"
    tmp_path.chmod(0o555)
    try:
        proc = confine_cli("mesh", "case.toml", "--out", out, cwd=tmp_path)
    finally:
        tmp_path.chmod(0o755)
    line = one_line(proc, 1)
    assert "cannot write the mesh cache (Permission denied" in line


# --------------------------------------------------------------------------- pipes
def test_closed_pipe_is_quiet(tmp_path: Path) -> None:
    """``confine keys | head -1``: the reader left before the write."""
    environ = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "confine", "keys"],
        cwd=tmp_path,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # long before the interpreter has started
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert err == ""


def test_closed_pipe_in_a_shell(tmp_path: Path) -> None:
    environ = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        ["bash", "-c", f"'{sys.executable}' -m confine keys | head -1"],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.stdout == "# Case-file key reference\n"
    assert proc.stderr == ""


# --------------------------------------------------------------------------- no convergence
@pytest.fixture(scope="module")
def failed_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The non-converging case run once: (working directory, stderr line)."""
    cwd = tmp_path_factory.mktemp("noconv")
    (cwd / "case.toml").write_text(NO_CONVERGENCE)
    proc = confine_cli("run", "case.toml", "--out", "runs/deep/out", cwd=cwd)
    return cwd, one_line(proc, 1)


def test_no_convergence_is_one_line_with_advice(failed_run: tuple[Path, str]) -> None:
    _, line = failed_run
    assert line.startswith("error: case.toml: no convergence at continuation step 0 ")
    assert "rate multiplier 1e-08" in line and "none converged" in line
    assert "Newton: iteration limit" in line
    assert "more solver.max_iterations (now 1)" in line
    assert "more solver.continuation_steps (now 1)" in line
    assert 'solver.linear_solver = "direct"' in line and "a finer mesh" in line
    assert line.endswith("residual history in runs/deep/out/failure.json")


def test_failure_json_is_readable_and_reproduces_the_run(failed_run: tuple[Path, str]) -> None:
    cwd, line = failed_run
    out = cwd / "runs" / "deep" / "out"  # missing parents were created
    assert sorted(p.name for p in out.iterdir()) == ["failure.json"]
    text = (out / "failure.json").read_text()
    failure = json.loads(text)
    assert failure["converged"] is False and failure["history"]
    assert failure["summary"] in line  # the same advice as the command line
    # readable units, not SI base units
    assert "kg" not in text and "A/s" not in text
    assert failure["case"]["electrode"]["potential"] == "-0.8 V"
    assert failure["case"]["species"][0]["bulk"] == "0.01 mol/L"
    assert failure["case"]["geometry"]["length"] == "10 nm"
    assert failure["case"]["species"][0]["diffusivity"] == "1e-09 m^2/s"
    # and exact: the resolved case loads back to the case that ran
    original = load_case(cwd / "case.toml")
    assert case_from_dict(failure["case"]) == original
    (cwd / "again.toml").write_text(tomli_w.dumps(failure["case"]))
    again = load_case(cwd / "again.toml")
    assert again == original and again.hash() == original.hash()
    assert tomllib.loads((cwd / "again.toml").read_text())["electrode"]["potential"] == "-0.8 V"


# --------------------------------------------------------------------------- the pieces
class FakeSolverError(RuntimeError):
    """What confine.solve.SolverError carries (the summary reads only its attributes)."""

    def __init__(self, message: str, step: int, multiplier: float, done: float | None, reason: int):
        super().__init__(message)
        self.history = [1.0, 0.5]
        self.step, self.multiplier, self.converged_multiplier = step, multiplier, done
        self.reason = reason


def test_summary_of_a_failed_linear_solve_and_a_transient() -> None:
    case = load_case(CASE, set={"solver.linear_solver": '"iterative"'})
    err = FakeSolverError("Newton did not converge", 3, 0.01, 1e-4, reason=-3)
    line = failure.summary(err, case)
    assert line.startswith("no convergence at continuation step 3 (rate multiplier 0.01, ")
    assert "last converged at 0.0001; Newton: the linear solve failed)" in line
    assert "max_iterations" not in line  # not the iteration limit: no advice about it
    assert 'more solver.continuation_steps (now 8), solver.linear_solver = "direct"' in line
    transient = case.replace(
        **{"solver.transient": True, "solver.end_time": '"1 s"', "solver.time_step": '"0.1 s"'}
    )
    err = FakeSolverError("time step collapsed at t = 0.25 s", 2, 1.0, None, reason=-6)
    line = failure.summary(err, transient)
    assert line.startswith("no convergence: time step collapsed at t = 0.25 s (line search failed)")
    assert "smaller solver.time_step" in line


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (-0.3, "V", "-0.3 V"),
        (7.55e-9, "nm", "7.55 nm"),
        (100.0, "mol/L", "0.1 mol/L"),
        (1.91e-9, "m^2/s", "1.91e-09 m^2/s"),
        (0.05, "%", "5 %"),
        (298.15, "K", "298.15 K"),
    ],
)
def test_readable_quantity_is_exact(value: float, unit: str, shown: str) -> None:
    assert readable_quantity(value, unit) == shown
    assert parse_quantity(shown, unit) == value


def test_readable_quantity_keeps_every_digit_it_needs() -> None:
    value = 0.1 + 0.2  # 0.30000000000000004: no short form is this float
    text = readable_quantity(value, "V")
    assert parse_quantity(text, "V") == value


def test_a_recorded_failure_is_reported_from_its_failure_json(tmp_path: Path) -> None:
    """Any error the run recorded (e.g. a failed quality check) points at its failure.json."""
    err = RuntimeError("mass balance of CO2 off by 0.9994 (limit 1e-06)")
    out = tmp_path / "out"
    out.mkdir()
    record = {"summary": "mass balance of CO2 off by 0.9994", "error": f"RuntimeError: {err}"}
    (out / "failure.json").write_text(json.dumps(record))
    args = argparse.Namespace(command="run", case="c.toml", out=str(out), set=[])
    text, code = cli_guard.describe(err, args)
    assert code == 1
    assert text == f"error: c.toml: {record['summary']}; details in {out}/failure.json"
    other = RuntimeError("something else")  # an earlier run's failure.json is not this error's
    text, code = cli_guard.describe(other, args)
    assert "failure.json" not in text and "RuntimeError: something else" in text


# --------------------------------------------------------------------------- run choices
@pytest.mark.parametrize("name", ["CONFINE_PARTITION", "CONFINE_JACOBIAN"])
def test_bad_run_choice_is_a_usage_error_before_any_work(tmp_path: Path, name: str) -> None:
    """A run's choice made by an environment variable (confine.env.RUN_CHOICES) with a
    value it does not allow: one line naming the variable and the rule, exit 2, no output."""
    proc = confine_cli("run", CASE, "--out", "out", cwd=tmp_path, env={name: "metis"})
    line = one_line(proc, 2)
    assert f"{name}='metis': must be one of" in line, line
    assert not (tmp_path / "out").exists()
