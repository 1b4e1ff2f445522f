"""Small messages and names: sections given a value, empty files, no species, point folders."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from sweep_runners import TWO_PATH, ShellRunner, calls_by_point

from confine.case import CaseError, case_from_dict, load_case
from confine.sampling import load_sweep
from confine.sweep_files import DONE, point_dir, point_label
from confine.sweeps import sweep

ROOT = Path(__file__).resolve().parent.parent
SHELL = ROOT / "cases" / "first-order-shell.toml"


def _messages(err: pytest.ExceptionInfo[CaseError]) -> list[str]:
    return [str(p) for p in err.value.problems]


def test_a_section_given_a_value_asks_for_one_of_its_keys() -> None:
    with pytest.raises(CaseError) as err:
        load_case(SHELL, set={"geometry": "1"})
    (line,) = _messages(err)
    assert "did you mean" not in line
    assert line.endswith(
        "geometry: geometry is a section: set one of its keys, e.g. geometry.outer_diameter"
    )
    with pytest.raises(CaseError) as err:  # a misspelt section still gets its suggestion
        load_case(SHELL, set={"geomtry.pore_diameter": "4 nm"})
    assert "did you mean 'geometry'?" in _messages(err)[0]


@pytest.mark.parametrize("text", ["", "# nothing but a comment\n"])
def test_an_empty_file_is_one_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "empty.toml"
    path.write_text(text)
    with pytest.raises(CaseError) as err:
        load_case(path)
    assert _messages(err) == [
        f"error: {path}: case: the file is empty: a case needs [case] and [[species]]"
    ]


def test_no_species_is_said_first_without_what_follows_from_it() -> None:
    raw = tomllib.loads(SHELL.read_text())
    del raw["species"]
    raw["geometry"]["catalyst_layer"] = "200 nm"  # unrelated (a cross-key rule): still reported
    with pytest.raises(CaseError) as err:
        case_from_dict(raw, "c.toml")
    lines = _messages(err)
    assert lines[0] == "error: c.toml: species: at least one species is needed"
    assert not [x for x in lines if "unknown species" in x]
    assert any("geometry.catalyst_layer" in x for x in lines[1:])


def _grid(tmp_path: Path) -> Path:
    path = tmp_path / "s.sweep.toml"
    path.write_text(
        f'[sweep]\ncase = "{TWO_PATH}"\n[parameters]\n'
        '"geometry.pore_diameter" = ["4.18 nm", "7.55 nm"]\n'
        '"electrode.potential" = { linspace = [-0.7, -0.9, 2], unit = "V" }\n'
    )
    return path


def test_point_folders_are_readable_and_keep_the_hash(tmp_path: Path) -> None:
    points = load_sweep(_grid(tmp_path)).points()
    d = point_dir(tmp_path, points[1])
    assert d.name == f"pore_diameter=4.18nm,potential=-0.9V_{points[1].hash[:16]}"
    assert d.parent == tmp_path / "points"
    assert len({point_dir(tmp_path, p) for p in points}) == 4
    assert all(len(point_label(p)) <= 80 for p in points)


def test_a_sweep_begun_with_hash_only_folders_resumes_in_them(tmp_path: Path) -> None:
    """Folders named by the hash alone (an earlier version's) are found and not run again."""
    path, out, calls = _grid(tmp_path), tmp_path / "out", tmp_path / "calls"
    sweep(path, out, runner=ShellRunner(), plots=False, show_progress=False)
    for d in (out / "points").iterdir():  # as an earlier version named them
        d.rename(d.parent / d.name[-16:])
    (out / "points" / load_sweep(path).points()[0].hash[:16] / DONE).unlink()
    df = sweep(path, out, runner=ShellRunner(calls=str(calls)), plots=False, show_progress=False)
    assert (df["status"] == "done").all()
    assert list(calls_by_point(calls).values()) == [1]  # only the unfinished point ran
    assert sorted(len(d.name) for d in (out / "points").iterdir()) == [16] * 4
