"""Every output file of a run opens in pyvista and meshio; the resolved case reproduces the run.

The readers run in subprocesses: a reader that crashes (VTK's XDMF reader
segfaulted on dolfinx's own XDMF layout) fails the test instead of the runner.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import confine
from confine.case import case_from_dict, load_case

ROOT = Path(__file__).resolve().parent.parent

PYVISTA = """
import json, sys
import pyvista as pv
data = pv.read(sys.argv[1])
if isinstance(data, pv.MultiBlock):
    data = data[0]
print(json.dumps({"points": data.n_points, "cells": data.n_cells,
                  "point": list(data.point_data), "cell": list(data.cell_data),
                  "field": {k: [str(v) for v in data.field_data[k]] for k in data.field_data}}))
"""

MESHIO_SERIES = """
import json, sys
import meshio
with meshio.xdmf.TimeSeriesReader(sys.argv[1]) as reader:
    points, cells = reader.read_points_cells()
    _, point_data, cell_data = reader.read_data(0)
print(json.dumps({"points": len(points), "cells": sum(len(c.data) for c in cells),
                  "point": list(point_data), "cell": list(cell_data),
                  "range": {k: [float(v.min()), float(v.max())] for k, v in point_data.items()}}))
"""

MESHIO = """
import json, sys
import meshio
mesh = meshio.read(sys.argv[1])
point_data = mesh.point_data
print(json.dumps({"points": len(mesh.points), "cells": sum(len(c.data) for c in mesh.cells),
                  "point": list(point_data), "cell": list(mesh.cell_data),
                  "range": {k: [float(v.min()), float(v.max())] for k, v in point_data.items()}}))
"""


def _read(script: str, path: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYVISTA_OFF_SCREEN": "true", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, f"{path.name}: exit {done.returncode}\n{done.stderr[-2000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, confine.Result]:
    raw = tomllib.loads((ROOT / "cases" / "first-order-shell.toml").read_text())
    raw["mesh"] = {"cells_per_pore_diameter": 4, "max_cell_size": "30 nm"}
    raw["output"] = {**raw.get("output", {}), "fields": True, "figures": False}
    out = tmp_path_factory.mktemp("files") / "run"
    return out, confine.run(case_from_dict(raw), out=out)


FIELDS = ["A [mol/L]", "B [mol/L]"]


def test_xdmf_opens_in_pyvista_and_meshio(run_dir: tuple[Path, confine.Result]) -> None:
    """pyvista and meshio's time-series reader open the ``.xdmf``; plain meshio.read its twin."""
    out, _ = run_dir
    for read, name in (
        (PYVISTA, "fields.xdmf"),
        (MESHIO_SERIES, "fields.xdmf"),
        (MESHIO, "fields.meshio.xdmf"),
    ):
        got = _read(read, out / name)
        assert got["points"] > 0 and got["cells"] > 0
        assert set(FIELDS) <= set(got["point"]), got
        assert "subdomain" in got["cell"]
        if read is not PYVISTA:  # the values too: A consumed from its bulk, B made from it
            (a_lo, a_hi), (b_lo, b_hi) = got["range"]["A [mol/L]"], got["range"]["B [mol/L]"]
            assert 0.0 < a_lo < a_hi <= 0.034 * (1 + 1e-9), got["range"]
            assert -1e-12 <= b_lo < b_hi < 0.034, got["range"]
        facets = _read(read, out / name.replace("fields", "facet_tags"))
        assert facets["cells"] > 0 and "facet_tags" in facets["cell"]


def test_vtk_files_open_in_pyvista_and_the_pieces_in_meshio(
    run_dir: tuple[Path, confine.Result],
) -> None:
    out, _ = run_dir
    files = [out / "vtk" / "fields.pvd", *sorted((out / "vtk").glob("*.pvtu"))]
    pieces = sorted((out / "vtk").glob("*.vtu"))
    assert pieces
    for path in [*files, *pieces]:
        got = _read(PYVISTA, path)
        assert set(FIELDS) <= set(got["point"]) and "subdomain" in got["cell"], path.name
    for path in pieces:  # meshio has no .pvd/.pvtu/.vtp reader
        got = _read(MESHIO, path)
        assert set(FIELDS) <= set(got["point"]) and "subdomain" in got["cell"], path.name
    revolved = _read(PYVISTA, out / "vtk" / "revolved.vtp")
    assert set(FIELDS) <= set(revolved["point"])
    assert revolved["field"]["length_unit"] == ["nm"]
    assert "1 cavity" in revolved["field"]["subdomain_names"]


def test_fields_json_names_units_and_tags(run_dir: tuple[Path, confine.Result]) -> None:
    out, _ = run_dir
    info = json.loads((out / "fields.json").read_text())
    assert info["length_unit"] == "nm"
    assert info["fields"]["A [mol/L]"] == {"name": "A", "unit": "mol/L"}
    assert info["subdomain"]["1"] == "cavity" and info["subdomain"]["5"] == "bath"
    assert info["facet_tags"]["14"] == "pore_wall"


def test_resolved_case_reproduces_the_run_in_readable_units(
    run_dir: tuple[Path, confine.Result],
) -> None:
    out, result = run_dir
    text = (out / "case.toml").read_text()
    assert not re.search(r"kg\*m|A/s|/s\^3", text), text
    assert 'outer_diameter = "' in text and ' nm"' in text
    again = load_case(out / "case.toml")
    assert again.hash() == result.case.hash()
    assert again.to_dict() == result.case.to_dict()  # every SI value bit-identical
    rerun = confine.run(again)
    for name in ("A", "B"):
        for key in ("ratio_interior_exterior", "interior_mean_mol_L"):
            assert rerun.metric(f"species.{name}.{key}") == result.metric(f"species.{name}.{key}")


@pytest.mark.parametrize("case", ["mchs-7nm.toml", "cs.toml", "first-order-shell.toml"])
def test_shipped_cases_resolve_without_si_base_units(case: str) -> None:
    loaded = load_case(ROOT / "cases" / case)
    text = loaded.to_toml()
    assert not re.search(r"kg\*m|A/s|/s\^3", text)
    assert 'potential = "' not in text or ' V"' in text
    assert case_from_dict(tomllib.loads(text)).hash() == loaded.hash()
