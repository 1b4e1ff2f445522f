"""Malformed and unaffordable inputs: each is one line naming file, key and rule, exit 2, fast.

Beyond tests/cases_bad (whole files, checked in test_case.py): quantity-grammar
attacks, cases too big to mesh or to validate (the budget of confine/budget.py),
integers out of range, non-finite numbers, wrong types, and sweep and fit files
too big to expand. Every input goes through ``confine.cli.main`` in this
process (exit code, stderr, time); the inputs the issue names also run as a
real ``python -m confine.cli`` process (exit code, one stderr line, no
traceback, CPU time under 2 s).
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from confine.cli import main

ROOT = Path(__file__).resolve().parent.parent
SHELL = ROOT / "cases" / "first-order-shell.toml"
UREA = ROOT / "cases" / "mchs-7nm.toml"

# (id, --set items on cases/first-order-shell.toml, key, rule): case keys via --set
SETS: list[tuple[str, list[str], str, str]] = [
    # the quantity grammar: nothing in a quantity is evaluated
    (
        "arithmetic",
        ['geometry.pore_diameter="7.55 nm * 0 + 4 nm"'],
        "geometry.pore_diameter",
        "cannot parse '7.55 nm * 0 + 4 nm' as a quantity with units: unexpected '0'",
    ),
    (
        "power-tower",
        ['geometry.pore_diameter="7.55 nm * 10**10**10"'],
        "geometry.pore_diameter",
        "unexpected '10'",
    ),
    (
        "nested-power",
        ['geometry.pore_diameter="7.55 nm^2^3"'],
        "geometry.pore_diameter",
        "unexpected '^'",
    ),
    (
        "power-in-parentheses",
        ['geometry.pore_diameter="7.55 nm**(2)"'],
        "geometry.pore_diameter",
        "a power must be a number under 100",
    ),
    (
        "huge-power",
        ['geometry.pore_diameter="7.55 nm^1000"'],
        "geometry.pore_diameter",
        "a power must be a number under 100, like ^2 or ^-1, not '1000'",
    ),
    (
        "inf-quantity",
        ['geometry.pore_diameter="inf nm"'],
        "geometry.pore_diameter",
        "expected a number first",
    ),
    (
        "nan-quantity",
        ['geometry.pore_diameter="nan nm"'],
        "geometry.pore_diameter",
        "expected a number first",
    ),
    (
        "overflow-number",
        ['geometry.pore_diameter="1e400 nm"'],
        "geometry.pore_diameter",
        "the number is not finite",
    ),
    (
        "overflow-in-si",
        ['species.A.diffusivity="1 nm^-40 * m^42/s"'],
        "species.A.diffusivity",
        "out of range in SI units",
    ),
    (
        "underflow-in-si",
        ['geometry.pore_diameter="5e-324 nm"'],
        "geometry.pore_diameter",
        "underflows to zero in SI units",
    ),
    (
        "unknown-unit",
        ['geometry.pore_diameter="7.55 blargs"'],
        "geometry.pore_diameter",
        "unknown unit 'blargs'",
    ),
    (
        "statement",
        ['geometry.pore_diameter="7.55 nm; import os"'],
        "geometry.pore_diameter",
        "unexpected ';'",
    ),
    (
        "call",
        ["geometry.pore_diameter=\"open('/etc/passwd')\""],
        "geometry.pore_diameter",
        "expected a number first",
    ),
    (
        "attribute",
        ['geometry.pore_diameter="7.55 nm.__class__"'],
        "geometry.pore_diameter",
        "unexpected '.'",
    ),
    (
        "unbalanced",
        ['geometry.pore_diameter="7.55 (nm"'],
        "geometry.pore_diameter",
        "unbalanced parentheses",
    ),
    (
        "deep-parentheses",
        ['geometry.pore_diameter="1 (((((nm)))))"'],
        "geometry.pore_diameter",
        "more than 4 nested parentheses",
    ),
    (
        "too-long",
        [f'geometry.pore_diameter="7.55 {"nm*" * 80}nm"'],
        "geometry.pore_diameter",
        "longer than 200 characters",
    ),
    (
        "hex-number",
        ['geometry.pore_diameter="0x1F nm"'],
        "geometry.pore_diameter",
        "unknown unit 'x1F'",
    ),
    (
        "dangling-operator",
        ['species.A.bulk="0.034 mol/L/"'],
        "species.A.bulk",
        "a unit is missing after an operator",
    ),
    (
        "offset-unit-combined",
        ['electrolyte.temperature="25 degC/s"'],
        "electrolyte.temperature",
        "an offset unit (degC) must stand alone",
    ),
    (
        "below-absolute-zero",
        ['electrolyte.temperature="-300 degC"'],
        "electrolyte.temperature",
        "must be positive",
    ),
    (
        "diffusivity-as-area",
        ['species.A.diffusivity="1.9e-9 m^2"'],
        "species.A.diffusivity",
        "has units of meter ** 2",
    ),
    ("potential-in-amperes", ['electrode.potential="-1.1 A"'], "electrode.potential", "expected V"),
    (
        "rate-of-wrong-order",
        ['reactions.consume.rate_constant="1e5 m^3/(mol*s)"'],
        "reactions.consume.rate_constant",
        "expected 1/s",
    ),
    (
        "bare-number-string",
        ['geometry.outer_diameter="214"'],
        "geometry.outer_diameter",
        "has units of dimensionless",
    ),
    # too big to validate or to mesh: refused by the estimate, before any work
    (
        "outer-diameter-10um",
        ['geometry.outer_diameter="10 um"'],
        "geometry.wall_thickness",
        "estimated 2.6e+06 pores: above the limit of 10000 (geometry.max_pores",
    ),
    (
        "outer-diameter-1mm",
        ['geometry.outer_diameter="1 mm"'],
        "geometry.wall_thickness",
        "estimated 2.7e+10 pores: above the limit of 10000",
    ),
    (
        "outer-diameter-1e300nm",
        ['geometry.outer_diameter="1e300 nm"'],
        "geometry.wall_thickness",
        "estimated more than 1e300 pores",
    ),
    (
        "cells-per-pore-1e8",
        ["mesh.cells_per_pore_diameter=100000000"],
        "mesh",
        "estimated 9.6e+16 cells, ~9.6e+07 TiB to mesh: above the limit of 5e+07 cells "
        "(mesh.max_cells",
    ),
    ("cells-across-layer-2e9", ["mesh.cells_across_layer=2000000000"], "mesh", "cells, ~"),
    (
        "refine-40",
        ["mesh.refine=40"],
        "mesh",
        "TiB to mesh: above the limit of 5e+07 cells (mesh.max_cells",
    ),
    ("refine-2000", ["mesh.refine=2000"], "mesh", "estimated more than 1e300 cells"),
    (
        "full-3d-refine-3",
        ["geometry.model=full-3d", "mesh.refine=3"],
        "mesh",
        "e+09 cells, ~",
    ),
    (
        "bath-1e300nm",
        ['geometry.bath_thickness="1e300 nm"'],
        "mesh",
        "estimated more than 1e300 cells: above the limit of 5e+07 cells",
    ),
    ("bath-1mm", ['geometry.bath_thickness="1 mm"'], "mesh", "cells, ~"),
    (
        "limit-lowered",
        ["mesh.max_cells=100"],
        "mesh",
        "estimated 623 cells, ~0.65 MiB to mesh: above the limit of 100 cells",
    ),
    (
        "sector-rings-9",
        ["geometry.model=sector-3d", "geometry.sector_rings=9"],
        "geometry.sector_rings",
        "9 rings hold 271 pores: a sector holds at most 2/5 of the particle's ~327 pores",
    ),
    (
        "sector-rings-1e9",
        ["geometry.model=sector-3d", "geometry.sector_rings=1000000000"],
        "geometry.sector_rings",
        "1000000000 rings hold 3000000003000000000 pores",
    ),
    (
        "growth-below-1",
        ["mesh.growth=0.5"],
        "mesh.growth",
        "must be at least 1 (sizes grow away from the walls)",
    ),
    # integers: range, sign, type
    (
        "cells-across-layer-1e23",
        ["mesh.cells_across_layer=99999999999999999999999"],
        "mesh.cells_across_layer",
        "99999999999999999999999 is out of range: integers here are within ±2147483647",
    ),
    ("charge-huge", ["species.A.charge=-99999999999"], "species.A.charge", "is out of range"),
    (
        "cells-per-pore-zero",
        ["mesh.cells_per_pore_diameter=0"],
        "mesh.cells_per_pore_diameter",
        "must be positive, got 0",
    ),
    (
        "cells-per-pore-negative",
        ["mesh.cells_per_pore_diameter=-6"],
        "mesh.cells_per_pore_diameter",
        "must be positive, got -6",
    ),
    (
        "cells-per-pore-fraction",
        ["mesh.cells_per_pore_diameter=6.5"],
        "mesh.cells_per_pore_diameter",
        "expected an integer, got 6.5",
    ),
    (
        "cells-per-pore-string",
        ['mesh.cells_per_pore_diameter="6"'],
        "mesh.cells_per_pore_diameter",
        "expected an integer, got '6'",
    ),
    (
        "cells-per-pore-bool",
        ["mesh.cells_per_pore_diameter=true"],
        "mesh.cells_per_pore_diameter",
        "expected an integer, got True",
    ),
    ("threads-100000", ["mesh.threads=100000"], "mesh.threads", "must be at most 1024"),
    ("refine-negative", ["mesh.refine=-1"], "mesh.refine", "must not be negative"),
    (
        "integer-of-5000-digits",
        ["mesh.refine=1" + "0" * 5000],
        "mesh.refine",
        "expected an integer, got '10000000000",
    ),
    (
        "iterations-float",
        ["solver.max_iterations=1e3"],
        "solver.max_iterations",
        "expected an integer, got 1000.0",
    ),
    # plain numbers: finite, right type
    ("growth-inf", ["mesh.growth=inf"], "mesh.growth", "expected a finite number, got inf"),
    ("growth-nan", ["mesh.growth=nan"], "mesh.growth", "expected a finite number, got nan"),
    ("rtol-negative-inf", ["solver.rtol=-inf"], "solver.rtol", "expected a finite number"),
    (
        "order-inf",
        ["reactions.consume.orders={A = inf}"],
        "reactions.consume.orders",
        "'A' must be a positive number up to 100, got inf",
    ),
    (
        "coefficient-huge",
        ["reactions.consume.reactants={A = 1e300}"],
        "reactions.consume.reactants",
        "'A' must be a positive number up to 100",
    ),
    (
        "petsc-option-nan",
        ["solver.petsc_options={ksp_rtol = nan}"],
        "solver.petsc_options",
        "expected a table of PETSc option = value",
    ),
    # wrong types: numbers, booleans, tables and lists where a quantity or string is expected
    (
        "quantity-as-number",
        ["geometry.outer_diameter=214"],
        "geometry.outer_diameter",
        '214 has no unit: write it as a string, e.g. "214 nm"',
    ),
    (
        "quantity-as-bool",
        ["geometry.outer_diameter=true"],
        "geometry.outer_diameter",
        "expected a quantity string like '1 nm', got True",
    ),
    (
        "quantity-as-table",
        ["geometry.outer_diameter={value = 214, unit = 'nm'}"],
        "geometry.outer_diameter",
        "expected a quantity string like '1 nm', got {",
    ),
    (
        "quantity-as-list",
        ['geometry.outer_diameter=["214 nm"]'],
        "geometry.outer_diameter",
        "expected a quantity string like '1 nm', got ['214 nm']",
    ),
    (
        "quantity-as-inf",
        ["geometry.outer_diameter=inf"],
        "geometry.outer_diameter",
        "inf is not finite",
    ),
    ("string-as-number", ["geometry.kind=5"], "geometry.kind", "expected a string, got 5"),
    (
        "bool-as-string",
        ['output.fields="yes"'],
        "output.fields",
        "expected true or false, got 'yes'",
    ),
    ("name-as-table", ["case.name={a = 1}"], "case.name", "expected a string, got {'a': 1}"),
    (
        "cell-start-on-the-cell",
        ['solver.start="axisymmetric-cell"'],
        "solver.start",
        "'axisymmetric-cell' needs a hollow-sphere at sector-3d or full-3d, not "
        "hollow-sphere at axisymmetric-cell",
    ),
    (
        "cell-start-transient",
        [
            'solver.start="axisymmetric-cell"',
            "geometry.model=sector-3d",
            "solver.transient=true",
            'solver.end_time="1 s"',
            'solver.time_step="0.1 s"',
        ],
        "solver.start",
        "is for steady runs",
    ),
]


def _lattice(key: str, value: Any, **geometry: Any) -> Any:
    """An edit: the pore lattice set by ``key`` instead of wall_thickness."""

    def edit(data: dict[str, Any]) -> None:
        del data["geometry"]["wall_thickness"]
        data["geometry"][key] = value
        data["geometry"].update(geometry)

    return edit


# (id, edit of the TOML data of cases/first-order-shell.toml, key, rule)
RAW: list[tuple[str, Any, str, str]] = [
    (
        "pore-count-2e6",
        _lattice("pore_count", 2000000),
        "geometry.pore_count",
        "estimated 2e+06 pores: above the limit of 10000",
    ),
    (
        "porosity-pores",
        _lattice("porosity", 0.2, outer_diameter="5 um"),
        "geometry.porosity",
        "pores: above the limit of 10000",
    ),
    ("pore-count-2-to-31", _lattice("pore_count", 2**31), "geometry.pore_count", "is out of range"),
    (
        "porosity-string",
        _lattice("porosity", "0.2"),
        "geometry.porosity",
        "expected a number, got '0.2'",
    ),
    (
        "section-as-string",
        lambda d: d.update(geometry="hollow"),
        "geometry",
        "expected a table, got 'hollow'",
    ),
    (
        "array-as-table",
        lambda d: d.update(species={"name": "A"}),
        "species",
        "expected an array of tables [[species]]",
    ),
    (
        "entry-as-number",
        lambda d: d.update(reactions=[1]),
        "reactions[0]",
        "expected a table, got 1",
    ),
]

_SHELL_TEXT = SHELL.read_text()

# (id, case file text, key, rule): what TOML itself can hold
TEXTS: list[tuple[str, str, str, str]] = [
    (
        "nested-too-deeply",
        _SHELL_TEXT + "\n[output.x]\ny = " + "[" * 100000 + "]" * 100000 + "\n",
        "toml",
        "malformed TOML: nested too deeply",
    ),
    (
        "integer-of-5000-digits",
        _SHELL_TEXT.replace(
            "[electrolyte]", "[mesh]\nrefine = 1" + "0" * 5000 + "\n\n[electrolyte]"
        ),
        "toml",
        "malformed TOML: Exceeds the limit (4300 digits)",
    ),
    (
        "quantity-of-200k-characters",
        _SHELL_TEXT.replace(
            '"0.034 mol/L"', '"0.034 ' + "(" * 100000 + "mol" + ")" * 100000 + '/L"'
        ),
        "species.A.bulk",
        "characters) as a quantity with units: longer than 200 characters",
    ),
    (
        "huge-key-name",
        _SHELL_TEXT.replace("[electrolyte]", "[electrolyte]\n" + "k" * 100000 + " = 1"),
        "electrolyte." + "k" * 68 + "...",
        "unknown key",
    ),
]

# (id, sweep file body after its [sweep] case line, key, rule)
SWEEPS: list[tuple[str, str, str, str]] = [
    (
        "linspace-1e9",
        '[parameters]\n"electrode.potential" = '
        '{ linspace = [-0.7, -1.1, 1000000000], unit = "V" }\n',
        "parameters.electrode.potential.linspace",
        "1000000000 points: above the limit of 100000 (sweep.max_points)",
    ),
    (
        "grid-30000x300",
        '[parameters]\n"electrode.potential" = { linspace = [-0.7, -1.1, 30000], unit = "V" }\n'
        '"species.A.bulk" = { linspace = [0.01, 0.03, 300], unit = "mol/L" }\n',
        "parameters",
        "9000000 points (30000 x 300): above the limit of 100000 (sweep.max_points)",
    ),
    (
        "logspace-1e12",
        '[parameters]\n"reactions.consume.rate_constant" = '
        '{ logspace = [1, 1e6, 1000000000000], unit = "1/s" }\n',
        "parameters.reactions.consume.rate_constant.logspace",
        "1000000000000 points: above",
    ),
    (
        "samples-1e9",
        '[parameters]\n"electrode.potential" = { distribution = "normal", mean = -1, std = 0.1, '
        'unit = "V" }\n[sampling]\nn = 1000000000\nseed = 1\n',
        "sampling.n",
        "1000000000 samples: above the limit of 100000 points (sweep.max_points)",
    ),
    (
        "values-over-lowered-limit",
        'max_points = 10\n[parameters]\n"mesh.refine" = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n',
        "parameters.mesh.refine.values",
        "11 values: above the limit of 10 points",
    ),
    (
        "max-points-zero",
        'max_points = 0\n[parameters]\n"mesh.refine" = [0, 1]\n',
        "sweep.max_points",
        "expected a positive integer, got 0",
    ),
    (
        "unit-attack",
        '[parameters]\n"electrode.potential" = { values = [1], unit = "V * 10**10**10" }\n',
        "parameters.electrode.potential.unit",
        "cannot parse unit 'V * 10**10**10': unexpected '10'",
    ),
]

# (id, replacement in the fit file, key, rule)
FITS: list[tuple[str, tuple[str, str], str, str]] = [
    (
        "fit-start-arithmetic",
        ('start = "4.469e+05 mol/(m^3*s)"', 'start = "4.469e+05 mol/(m^3*s) * 0 + 1 mol/(m^3*s)"'),
        "parameters.reactions.volmer.rate_constant.start",
        "unexpected '0'",
    ),
    (
        "fit-bound-power-tower",
        (
            'bounds = ["10 mol/(m^3*s)", "1e9 mol/(m^3*s)"]',
            'bounds = ["10 mol/(m^3*s)", "1e9 mol/(m^3*s)**10**10"]',
        ),
        "parameters.reactions.volmer.rate_constant.bounds",
        "unexpected '**'",
    ),
]


def test_enough_malformed_inputs() -> None:
    assert len(SETS) + len(RAW) + len(TEXTS) + len(SWEEPS) + len(FITS) >= 40


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], float]:
    t0 = time.perf_counter()
    code = main(argv)
    elapsed = time.perf_counter() - t0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.strip().splitlines(), elapsed


def _assert_one_line(lines: list[str], file: Path | str, key: str, rule: str) -> None:
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {file}: {key}: "), lines[0]
    assert rule in lines[0], lines[0]


@pytest.mark.parametrize(("sets", "key", "rule"), [s[1:] for s in SETS], ids=[s[0] for s in SETS])
def test_bad_override(
    sets: list[str], key: str, rule: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["validate", str(SHELL)]
    for s in sets:
        argv += ["--set", s]
    code, lines, elapsed = _run(argv, capsys)
    assert code == 2
    _assert_one_line(lines, SHELL, key, rule)
    assert elapsed < 2.0  # typically under 0.1 s here (the lattice is cached)


@pytest.mark.parametrize(("edit", "key", "rule"), [r[1:] for r in RAW], ids=[r[0] for r in RAW])
def test_bad_section(
    edit: Any, key: str, rule: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tomllib.loads(SHELL.read_text())
    edit(data)
    path = tmp_path / "case.toml"
    path.write_text(tomli_w.dumps(data))
    code, lines, elapsed = _run(["validate", str(path)], capsys)
    assert code == 2
    _assert_one_line(lines, path, key, rule)
    assert elapsed < 2.0


@pytest.mark.parametrize(("text", "key", "rule"), [t[1:] for t in TEXTS], ids=[t[0] for t in TEXTS])
def test_bad_text(
    text: str, key: str, rule: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "case.toml"
    path.write_text(text)
    code, lines, elapsed = _run(["validate", str(path)], capsys)
    assert code == 2
    _assert_one_line(lines, path, key, rule)
    assert len(lines[0]) < 400  # the value is cut, not echoed whole
    assert elapsed < 2.0


def _sweep_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "s.sweep.toml"
    head, sep, rest = body.partition("[parameters]")
    path.write_text(f'[sweep]\ncase = "{SHELL}"\n{head}{sep}{rest}')
    return path


@pytest.mark.parametrize(
    ("body", "key", "rule"), [s[1:] for s in SWEEPS], ids=[s[0] for s in SWEEPS]
)
def test_bad_sweep(
    body: str, key: str, rule: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _sweep_file(tmp_path, body)
    out = tmp_path / "out"
    code, lines, elapsed = _run(["sweep", str(path), "--out", str(out)], capsys)
    assert code == 2
    _assert_one_line(lines, path, key, rule)
    assert elapsed < 2.0
    assert not out.exists()  # refused before anything was expanded or written


@pytest.mark.parametrize(("change", "key", "rule"), [f[1:] for f in FITS], ids=[f[0] for f in FITS])
def test_bad_fit(
    change: tuple[str, str],
    key: str,
    rule: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    src = ROOT / "cases" / "fit" / "mchs7-kinetics.fit.toml"
    text = src.read_text()
    assert change[0] in text
    text = text.replace(change[0], change[1], 1)
    text = text.replace('case = "../mchs-7nm.toml"', f'case = "{UREA}"')
    text = text.replace('data = "', f'data = "{src.parent}/')
    path = tmp_path / "f.fit.toml"
    path.write_text(text)
    code, lines, elapsed = _run(["fit", str(path), "--out", str(tmp_path / "out")], capsys)
    assert code == 2
    _assert_one_line(lines, path, key, rule)
    assert elapsed < 2.0


# The inputs the issue names, as a user runs them: a fresh process each.
PROCESS = [
    ("outer-diameter-10um", ["validate", str(UREA), "--set", 'geometry.outer_diameter="10 um"']),
    ("outer-diameter-1mm", ["validate", str(UREA), "--set", 'geometry.outer_diameter="1 mm"']),
    (
        "outer-diameter-1e300",
        ["validate", str(UREA), "--set", 'geometry.outer_diameter="1e300 nm"'],
    ),
    (
        "cells-per-pore-1e8",
        ["validate", str(UREA), "--set", "mesh.cells_per_pore_diameter=100000000"],
    ),
    (
        "cells-across-1e23",
        ["validate", str(UREA), "--set", "mesh.cells_across_layer=99999999999999999999999"],
    ),
    ("arithmetic", ["validate", str(UREA), "--set", 'geometry.pore_diameter="7.55 nm * 0 + 4 nm"']),
    (
        "power-tower",
        ["validate", str(UREA), "--set", 'geometry.pore_diameter="7.55 nm * 10**10**10"'],
    ),
]


def _cli_in_a_process(argv: list[str]) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``confine`` in a fresh process: its result and the CPU time it took."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        [sys.executable, "-m", "confine.cli", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=60,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return proc, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


@pytest.mark.parametrize("argv", [p[1] for p in PROCESS], ids=[p[0] for p in PROCESS])
def test_named_inputs_in_a_process(argv: list[str]) -> None:
    proc, cpu = _cli_in_a_process(argv)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {UREA}: "), proc.stderr
    assert "Traceback" not in proc.stderr
    # CPU time (not wall time, which the shared machine's load inflates): 0.55-1.25 s
    # here, nearly all of it starting Python and importing numpy, scipy, pint and gmsh
    # (the validation itself: the in-process tests above, milliseconds)
    assert cpu < 2.0


@pytest.mark.parametrize(
    "body", [SWEEPS[0][1], SWEEPS[1][1]], ids=["linspace-1e9", "grid-30000x300"]
)
def test_named_sweeps_in_a_process(body: str, tmp_path: Path) -> None:
    path = _sweep_file(tmp_path, body)
    proc, cpu = _cli_in_a_process(["sweep", str(path), "--out", str(tmp_path / "o")])
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert cpu < 2.0
