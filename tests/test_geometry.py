"""Geometry builders: every physical group against closed forms, lattice, tags, rules.

Meshes are coarse (seconds each) but fine enough where the closed form needs
it: a P1 mesh of a circle of radius ρ with boundary cells of size h misses a
fraction ≈ (h/ρ)²/6 of its area, so the cases below resolve the thinnest
curved region (the pore core) with h/ρ ≲ 0.2 at 1 %, ≲ 0.3 at 2 %.
"""

from __future__ import annotations

import math
from typing import Any

import gmsh
import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from confine.case import Case, CaseError, case_from_dict
from confine.geometry.derived import debye_length, lattice_of, pore_is_filled
from confine.geometry.hollow import sector_apothem
from confine.geometry.lattice import (
    cone_half_angle,
    min_angle,
    pore_directions,
    pore_volume,
    wall_at,
)
from confine.geometry.model import (
    GeometryInfo,
    build_model,
    generate_mesh,
    gmsh_session,
    measure_model,
)


def make_case(mesh: dict[str, Any] | None = None, **geometry: Any) -> Case:
    """A minimal valid case with the given geometry and mesh keys."""
    return case_from_dict(
        {
            "case": {"name": "geometry-test"},
            "geometry": geometry,
            "mesh": mesh or {},
            "electrolyte": {"hindrance": "none", "potential_model": "none"},
            "species": [{"name": "A", "formula": "X", "diffusivity": "1e-9 m^2/s"}],
        }
    )


def build(case: Case) -> tuple[GeometryInfo, dict[str, dict[str, float]], dict[str, Any]]:
    """Build and mesh a case; measured volumes/areas (whole particle) and entities."""
    with gmsh_session():
        info = build_model(case)
        generate_mesh(info, case.mesh.threads)
        measured = measure_model(info)
        ents: dict[str, Any] = {}
        for dim, tag in gmsh.model.getPhysicalGroups():
            name = gmsh.model.getPhysicalName(dim, tag)
            ents[name] = _entity_data(dim, gmsh.model.getEntitiesForPhysicalGroup(dim, tag))
    return info, measured, ents


def _entity_data(dim: int, tags: Any) -> dict[str, Any]:
    """Mesh points of a group and the centroid of each connected piece (surfaces)."""
    node_tags, coords, _ = gmsh.model.mesh.getNodes()
    xyz = np.zeros((int(node_tags.max()) + 1, 3))
    xyz[node_tags.astype(int)] = np.asarray(coords).reshape(-1, 3)
    conn = []
    for t in tags:
        _, _, enodes = gmsh.model.mesh.getElements(dim, int(t))
        conn += [np.asarray(c, dtype=int).reshape(-1, dim + 1) for c in enodes]
    idx = np.concatenate(conn)
    out: dict[str, Any] = {"points": xyz[idx].reshape(-1, 3), "pieces": []}
    if dim == 2:  # connected pieces through shared nodes: one per pore mouth
        n = xyz.shape[0]
        rows = np.repeat(idx[:, 0], 2)
        cols = idx[:, 1:].ravel()
        graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
        _, label = connected_components(graph, directed=False)
        pts = xyz[idx]
        e = pts[:, 1:, :] - pts[:, :1, :]
        w = np.linalg.norm(np.cross(e[:, 0], e[:, 1]), axis=1)
        comp = label[idx[:, 0]]
        for c in np.unique(comp):
            m = comp == c
            out["pieces"].append((pts[m].mean(axis=1) * w[m, None]).sum(axis=0) / w[m].sum())
    return out


def check_closed_forms(
    info: GeometryInfo, measured: dict[str, dict[str, float]], tol: float
) -> None:
    """Every group with a closed form is meshed, non-empty and within ``tol``."""
    for kind, exact in (("volumes", info.volumes), ("areas", info.areas)):
        for name, value in exact.items():
            assert name in measured[kind], f"{name} missing"
            assert measured[kind][name] > 0, f"{name} empty"
            assert measured[kind][name] == pytest.approx(value, rel=tol), name
    for name in info.cell_groups:
        assert measured["volumes"][name] > 0
    assert set(measured["volumes"]) == set(info.cell_groups)
    assert set(measured["areas"]) == set(info.facet_groups)


PARTICLE = {"outer_diameter": "214 nm", "shell_thickness": "52 nm", "bath_thickness": "100 nm"}
MINI = {
    "outer_diameter": "56 nm",
    "shell_thickness": "12 nm",
    "bath_thickness": "8 nm",
    "pore_diameter": "10 nm",
    "catalyst_layer": "2 nm",
    "pore_count": 12,
}
HOLLOW_GROUPS = {"cavity", "cavity_layer", "pore", "pore_layer", "bath"}
HOLLOW_FACETS = {
    "pore_wall",
    "cavity_wall",
    "outer_surface",
    "mouth_outer",
    "mouth_inner",
    "outer_boundary",
}


# --------------------------------------------------------------------------- axisymmetric
@pytest.mark.parametrize(
    ("geometry", "cells", "filled"),
    [
        ({"pore_diameter": "7.55 nm", "wall_thickness": "3 nm"}, HOLLOW_GROUPS, False),
        ({"pore_diameter": "11.12 nm", "porosity": 0.18}, HOLLOW_GROUPS, False),
        ({"pore_diameter": "4.18 nm", "pore_count": 1000}, HOLLOW_GROUPS - {"pore"}, True),
        (
            {"pore_diameter": "7.55 nm", "wall_thickness": "3 nm", "catalyst": "surface"},
            {"cavity", "pore", "bath"},
            False,
        ),
    ],
)
def test_axisymmetric_cell_closed_forms(
    geometry: dict[str, Any], cells: set[str], filled: bool
) -> None:
    case = make_case(model="axisymmetric-cell", **PARTICLE, **geometry)
    info, measured, ents = build(case)
    lat = lattice_of(case)
    assert lat is not None
    assert info.axisymmetric and info.dimension == 2
    assert info.pore_count == lat.count and info.multiplicity == lat.count
    assert info.pore_filled is filled is pore_is_filled(case)
    assert set(info.cell_groups) == cells
    assert set(info.facet_groups) == HOLLOW_FACETS | {"symmetry", "axis"}
    check_closed_forms(info, measured, 0.01)
    # the cell is the cone of solid angle 4π/N
    half = cone_half_angle(lat.count)
    assert info.cone_half_angle == pytest.approx(half)
    assert np.allclose(ents["axis"]["points"][:, 0], 0.0, atol=1e-9)
    normal = np.array([math.cos(half), -math.sin(half), 0.0])
    assert np.allclose(ents["symmetry"]["points"] @ normal, 0.0, atol=1e-6)
    assert np.all(ents["symmetry"]["points"][:, 0] >= 0.0)
    # the porosity the lattice implies is what the mesh holds
    r_out, r_cav = 107.0, 55.0
    pores = sum(measured["volumes"].get(k, 0.0) for k in ("pore", "pore_layer"))
    shell = 4.0 / 3.0 * math.pi * (r_out**3 - r_cav**3)
    assert pores / shell == pytest.approx(lat.porosity, rel=0.01)
    if geometry.get("porosity"):
        assert lat.porosity == pytest.approx(geometry["porosity"], rel=0.01)


def test_pore_count_and_layer_thickness_set_the_cell() -> None:
    case = make_case(
        model="axisymmetric-cell",
        **PARTICLE,
        pore_diameter="7.55 nm",
        pore_count=300,
        catalyst_layer="1.5 nm",
    )
    info, measured, _ = build(case)
    assert info.pore_count == 300
    a, t = 7.55 / 2, 1.5
    core = 300 * pore_volume(a - t, 55.0, 107.0)
    assert measured["volumes"]["pore"] == pytest.approx(core, rel=0.01)


def test_solid_sphere_axisymmetric_layer_and_surface() -> None:
    layer = make_case(kind="solid-sphere", model="axisymmetric-cell", **PARTICLE)
    info, measured, ents = build(layer)
    assert info.multiplicity == 1.0 and info.pore_count == 0
    assert set(info.cell_groups) == {"outer_layer", "bath"}
    assert set(info.facet_groups) == {"outer_surface", "outer_boundary", "axis"}
    check_closed_forms(info, measured, 0.01)
    assert np.allclose(ents["axis"]["points"][:, 0], 0.0, atol=1e-9)
    surface = make_case(
        kind="solid-sphere", model="axisymmetric-cell", catalyst="surface", **PARTICLE
    )
    info, measured, _ = build(surface)
    assert set(info.cell_groups) == {"bath"}
    assert "catalyst_surface" in info.facet_groups
    check_closed_forms(info, measured, 0.01)


# --------------------------------------------------------------------------- sector
def test_sector_one_pore_closed_forms() -> None:
    case = make_case(
        model="sector-3d",
        **PARTICLE,
        pore_diameter="11.12 nm",
        wall_thickness="3 nm",
        mesh={"cells_across_layer": 3},
    )
    info, measured, ents = build(case)
    lat = lattice_of(case)
    assert lat is not None
    assert info.dimension == 3 and not info.axisymmetric
    assert info.pores_in_cell == 1 and info.multiplicity == pytest.approx(lat.count)
    assert set(info.cell_groups) == HOLLOW_GROUPS
    assert set(info.facet_groups) == HOLLOW_FACETS | {"symmetry"}
    check_closed_forms(info, measured, 0.01)
    # symmetry faces lie on the six planes of the hexagonal tile (through the origin)
    p = ents["symmetry"]["points"]
    apothem = sector_apothem(lat.count, 0)
    ang = np.arange(6) * math.pi / 3
    normals = np.column_stack([np.cos(ang), np.sin(ang), -apothem * np.ones(6)])
    normals /= np.linalg.norm(normals, axis=1)[:, None]
    assert np.all(np.min(np.abs(p @ normals.T), axis=1) < 1e-6 * 155.0)
    assert len(ents["symmetry"]["points"]) > 0


@pytest.mark.slow
def test_sector_with_a_ring_of_neighbours() -> None:
    case = make_case(
        model="sector-3d",
        sector_rings=1,
        **{**MINI, "pore_count": 40, "pore_diameter": "6 nm", "catalyst_layer": "0.75 nm"},
        mesh={"max_cell_size": "4 nm"},
    )
    info, measured, ents = build(case)
    assert info.pores_in_cell == 7 and info.multiplicity == pytest.approx(40 / 7)
    assert len(ents["mouth_outer"]["pieces"]) == 7
    check_closed_forms(info, measured, 0.01)


# --------------------------------------------------------------------------- full 3D
def test_full_3d_mini_particle() -> None:
    case = make_case(
        model="full-3d",
        **MINI,
        mesh={"cells_per_pore_diameter": 6, "cells_across_layer": 2, "max_cell_size": "6 nm"},
    )
    info, measured, ents = build(case)
    lat = lattice_of(case)
    assert lat is not None
    assert info.multiplicity == 1.0 and info.pore_count == 12 == info.pores_in_cell
    assert set(info.cell_groups) == HOLLOW_GROUPS
    assert set(info.facet_groups) == HOLLOW_FACETS  # no symmetry, no axis
    check_closed_forms(info, measured, 0.02)
    # pore axes from the built mouths: count and smallest wall at the cavity radius
    axes = np.array([c / np.linalg.norm(c) for c in ents["mouth_inner"]["pieces"]])
    assert len(axes) == 12
    wall = wall_at(min_angle(axes), 16.0, 10.0)
    assert wall == pytest.approx(lat.min_wall, abs=1e-3)
    assert wall == pytest.approx(wall_at(min_angle(pore_directions(12)), 16.0, 10.0), abs=1e-3)


def test_wall_thickness_sets_count_and_smallest_wall() -> None:
    base = {k: v for k, v in PARTICLE.items()} | {"model": "full-3d", "pore_diameter": "7.55 nm"}
    lat = lattice_of(make_case(**base, wall_thickness="3 nm"))
    assert lat is not None
    assert lat.min_wall >= 3.0
    # the count is the largest whose lattice keeps the wall: one more pore breaks it
    more = lattice_of(make_case(**base, pore_count=lat.count + 1, min_wall="0.01 nm"))
    assert more is not None and more.min_wall < 3.0


# --------------------------------------------------------------------------- simple kinds
@pytest.mark.parametrize("model", ["1d", "2d", "3d"])
def test_planar(model: str) -> None:
    case = make_case(kind="planar", model=model, length="20 nm", width="6 nm")
    info, measured, ents = build(case)
    assert set(info.cell_groups) == {"bath", "outer_layer"}
    assert {"electrode", "outer_boundary"} <= set(info.facet_groups)
    check_closed_forms(info, measured, 1e-9)
    assert np.allclose(ents["electrode"]["points"][:, 0], 0.0)
    assert np.allclose(ents["outer_boundary"]["points"][:, 0], 20.0)


@pytest.mark.parametrize("model", ["axisymmetric-cell", "3d"])
def test_cylinder_pore_with_reservoirs(model: str) -> None:
    case = make_case(
        kind="cylinder-pore",
        model=model,
        pore_length="10 nm",
        pore_diameter="8 nm",
        catalyst_layer="1 nm",
        reservoir_length="4 nm",
        mesh={"cells_per_pore_diameter": 12, "max_cell_size": "1 nm"},
    )
    info, measured, ents = build(case)
    assert set(info.cell_groups) == {"pore", "pore_layer", "bath"}
    expected = {
        "pore_wall",
        "end_a",
        "end_b",
        "mouth_inner",
        "mouth_outer",
        "outer_surface",
        "symmetry",
    } | ({"axis"} if model == "axisymmetric-cell" else set())
    assert set(info.facet_groups) == expected
    check_closed_forms(info, measured, 0.01)
    z = 1 if model == "axisymmetric-cell" else 2
    for name, value in (
        ("end_a", -4.0),
        ("mouth_inner", 0.0),
        ("mouth_outer", 10.0),
        ("end_b", 14.0),
    ):
        assert np.allclose(ents[name]["points"][:, z], value)


# --------------------------------------------------------------------------- rules
def test_filled_pore_rule() -> None:
    g = {"model": "axisymmetric-cell", **PARTICLE, "pore_count": 500, "catalyst_layer": "2 nm"}
    assert pore_is_filled(make_case(pore_diameter="4.18 nm", **g))  # core 0.09 nm
    assert not pore_is_filled(make_case(pore_diameter="5.2 nm", **g))  # core 0.6 nm
    assert pore_is_filled(make_case(pore_diameter="5.2 nm", layer_fill_core="0.7 nm", **g))


@pytest.mark.parametrize(
    ("geometry", "key"),
    [
        ({"pore_diameter": "7.55 nm", "wall_thickness": "0.1 nm"}, "geometry.wall_thickness"),
        ({"pore_diameter": "7.55 nm", "pore_count": 3000}, "geometry.pore_count"),
        ({"pore_diameter": "11.12 nm", "porosity": 0.8}, "geometry.porosity"),
        (
            {"pore_diameter": "3 nm", "pore_count": 100, "catalyst_layer": "2 nm"},
            "geometry.catalyst_layer",
        ),
        ({"pore_diameter": "7 nm"}, "geometry.wall_thickness"),
        ({"pore_diameter": "7 nm", "pore_count": 10, "porosity": 0.2}, "geometry.wall_thickness"),
    ],
)
def test_invalid_geometry_rejected_before_meshing(geometry: dict[str, Any], key: str) -> None:
    with pytest.raises(CaseError) as err:
        make_case(model="full-3d", **PARTICLE, **geometry)
    assert any(p.key == key for p in err.value.problems), str(err.value)
    assert not gmsh.isInitialized()


def test_unsupported_level_rejected_before_meshing() -> None:
    with pytest.raises(CaseError) as err:
        make_case(kind="solid-sphere", model="sector-3d", **PARTICLE)
    assert [p.key for p in err.value.problems] == ["geometry.model"]
    assert not gmsh.isInitialized()


def test_boundary_layer_refines_at_walls() -> None:
    ions = [
        {"name": "K+", "charge": 1, "diffusivity": "1.957e-9 m^2/s", "bulk": "0.1 mol/L"},
        {"name": "NO3-", "charge": -1, "diffusivity": "1.902e-9 m^2/s", "bulk": "0.1 mol/L"},
    ]
    raw = {
        "case": {"name": "bl"},
        "geometry": {
            "model": "axisymmetric-cell",
            **PARTICLE,
            "pore_diameter": "7.55 nm",
            "wall_thickness": "3 nm",
        },
        "electrolyte": {"hindrance": "none", "potential_model": "none"},
        "species": ions,
    }
    plain = case_from_dict(raw)
    refined = case_from_dict({**raw, "mesh": {"boundary_layer": True}})
    debye = debye_length(refined)
    assert debye == pytest.approx(0.961, rel=0.01)  # 0.1 M 1:1 electrolyte, 25 °C
    with gmsh_session():
        info = build_model(refined)
        n_refined = generate_mesh(info)["cells"]
    assert info.sizes["boundary_first"] == pytest.approx(0.1 * debye)
    with gmsh_session():
        n_plain = generate_mesh(build_model(plain))["cells"]
    assert n_refined > 1.5 * n_plain
    info_r, measured, _ = build(refined)
    check_closed_forms(info_r, measured, 0.01)
