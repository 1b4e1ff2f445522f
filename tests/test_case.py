"""Case files: units, round trip, overrides, and every validation rule."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import confine
from confine.case import CaseError, case_from_dict, key_reference, load_case
from confine.units import UnitError, parse_quantity

ROOT = Path(__file__).resolve().parent.parent
BAD = sorted((ROOT / "tests" / "cases_bad").glob("*.toml"))
# case files; sweep files beside them (a [sweep] table) are checked in test_examples.py
GOOD = sorted(
    p for p in (ROOT / "cases").glob("*.toml") if "sweep" not in tomllib.loads(p.read_text())
)


@pytest.mark.parametrize(
    ("text", "unit", "si"),
    [
        ("214 nm", "m", 214e-9),
        ("1.91e-9 m^2/s", "m^2/s", 1.91e-9),
        ("0.1 mol/L", "mol/L", 100.0),
        ("0.1 M", "mol/L", 100.0),
        ("-1.1 V", "V", -1.1),
        ("5 %", "%", 0.05),
        ("0.02 mg/cm^2", "kg/m^2", 2e-4),
        ("25 degC", "K", 298.15),
    ],
)
def test_parse_quantity_to_si(text: str, unit: str, si: float) -> None:
    assert parse_quantity(text, unit) == pytest.approx(si, rel=1e-12)


@pytest.mark.parametrize("text", ["7 nm^2", "7", "seven nm", "1e400 nm", "", True])
def test_parse_quantity_rejects(text: object) -> None:
    with pytest.raises(UnitError):
        parse_quantity(text, "nm")


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_shipped_cases_are_valid(path: Path) -> None:
    case = load_case(path)
    assert case.case.name == path.stem


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_round_trip_case_resolved_toml_case(path: Path, tmp_path: Path) -> None:
    case = load_case(path)
    resolved = tmp_path / "case.toml"
    resolved.write_text(case.to_toml())
    again = load_case(resolved)
    assert again == case
    assert again.hash() == case.hash()
    assert again.to_toml() == case.to_toml()


def test_si_floats_inside() -> None:
    case = load_case(ROOT / "cases" / "mchs-7nm.toml")
    assert case.geometry.outer_diameter == pytest.approx(214e-9)
    assert case.species_named("CO2").bulk == pytest.approx(34.0)  # mol/m^3
    assert case.electrode.potential == -1.1
    assert case.reaction_named("water").backward_rate_constant == pytest.approx(1.4e8)


def test_overrides_before_validation() -> None:
    path = ROOT / "cases" / "mchs-7nm.toml"
    case = load_case(
        path,
        set={
            "geometry.pore_diameter": "4.18 nm",
            "geometry.model": "sector-3d",
            "species.CO2.bulk": '"0.02 mol/L"',
            "reactions.volmer.rate_constant": "2e3 mol/(m^3*s)",
            "mesh.cells_per_pore_diameter": "8",
        },
    )
    assert case.geometry.pore_diameter == pytest.approx(4.18e-9)
    assert case.geometry.model == "sector-3d"
    assert case.species_named("CO2").bulk == pytest.approx(20.0)
    assert case.reaction_named("volmer").rate_constant == pytest.approx(2e3)
    assert case.mesh.cells_per_pore_diameter == 8
    replaced = case.replace(**{"electrode.potential": "-0.7 V"})
    assert replaced.electrode.potential == -0.7 and replaced.geometry == case.geometry


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("species.NO3.bulk", "no species entry named 'NO3' (did you mean 'NO3-'?)"),
        ("geometri.kind", "unknown section 'geometri' (did you mean 'geometry'?)"),
    ],
)
def test_bad_override_paths(key: str, message: str) -> None:
    with pytest.raises(CaseError) as err:
        load_case(ROOT / "cases" / "mchs-7nm.toml", set={key: "1"})
    assert str(err.value).endswith(f"{key}: {message}")


def _expected(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: '"
    return f"error: {path}: {first.removeprefix('# expect: ')}"


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_malformed_case_gives_exact_error(path: Path) -> None:
    with pytest.raises(CaseError) as err:
        load_case(path)
    assert _expected(path) in str(err.value).splitlines()


def test_enough_malformed_cases() -> None:
    assert len(BAD) >= 15


def test_all_problems_reported_at_once() -> None:
    raw = tomllib.loads((ROOT / "cases" / "first-order-shell.toml").read_text())
    raw["geometry"]["pore_diamter"] = "7 nm"
    raw["geometry"]["bath_thickness"] = "-1 nm"
    raw["species"][0]["diffusivity"] = "1 m/s"
    with pytest.raises(CaseError) as err:
        case_from_dict(raw, "x.toml")
    keys = [p.key for p in err.value.problems]
    assert keys == ["geometry.pore_diamter", "geometry.bath_thickness", "species.A.diffusivity"]


def test_case_files_are_never_evaluated(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = (
        (ROOT / "cases" / "first-order-shell.toml")
        .read_text()
        .replace('bulk = "0.034 mol/L"', f"bulk = \"__import__('os').system('touch {marker}')\"")
    )
    case = tmp_path / "evil.toml"
    case.write_text(text)
    with pytest.raises(CaseError):
        load_case(case)
    assert not marker.exists()


def test_pore_fill_rule() -> None:
    from confine.geometry.derived import pore_is_filled

    path = ROOT / "cases" / "mchs-7nm.toml"
    assert pore_is_filled(load_case(path, set={"geometry.pore_diameter": "4.18 nm"}))
    assert not pore_is_filled(load_case(path, set={"geometry.pore_diameter": "7.55 nm"}))
    # the threshold itself is a case key
    assert not pore_is_filled(
        load_case(
            path, set={"geometry.pore_diameter": "4.18 nm", "geometry.layer_fill_core": "0.05 nm"}
        )
    )


def test_key_reference_covers_every_key() -> None:
    text = key_reference()
    for key in (
        "outer_diameter",
        "wall_thickness",
        "potential_model",
        "rate_constant",
        "transfer_coefficient",
        "radius_source",
        "petsc_options",
    ):
        assert f"`{key}`" in text
    doc = ROOT / "docs" / "case-reference.md"
    assert doc.read_text() == text + "\n", (
        "docs/case-reference.md is stale: run `confine keys --out docs/case-reference.md`"
    )


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "confine.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def test_cli_validate_exit_codes() -> None:
    ok = _cli("validate", "cases/mchs-7nm.toml")
    assert ok.returncode == 0, ok.stderr
    bad = _cli("validate", "tests/cases_bad/unknown-key.toml")
    assert bad.returncode == 2
    assert bad.stderr.strip() == _expected(Path("tests/cases_bad/unknown-key.toml"))
    overridden = _cli("validate", "cases/mchs-7nm.toml", "--set", "geometry.pore_diameter=3 nm")
    assert overridden.returncode == 2
    assert "geometry.catalyst_layer: layer of 2 nm is thicker than the pore radius 1.5 nm" in (
        overridden.stderr
    )


def test_cli_help_lists_every_command() -> None:
    out = _cli("--help").stdout
    for cmd in ("validate", "mesh", "run", "sweep", "bench", "doctor"):
        assert cmd in out
        assert _cli(cmd, "--help").returncode == 0


def test_version() -> None:
    assert confine.__version__ in _cli("--version").stdout
