"""Render a slice through a pore of each fidelity level into docs/img/ (pyvista, off-screen).

Usage::

    python examples/render_levels.py                  # 7 nm, all three levels
    python examples/render_levels.py --levels axisymmetric-cell --pore "11.12 nm"
"""

from __future__ import annotations

import argparse
from pathlib import Path

from confine.case import case_from_dict
from confine.geometry.render import render_case

ROOT = Path(__file__).resolve().parent.parent
LEVELS = ("axisymmetric-cell", "sector-3d", "full-3d")


def main() -> None:
    """Build, mesh and render each requested level."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--levels", nargs="+", default=list(LEVELS), choices=LEVELS)
    p.add_argument("--pore", default="7.55 nm")
    p.add_argument("--wall", default="2 nm")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = p.parse_args()
    for level in args.levels:
        case = case_from_dict(
            {
                "case": {"name": f"render-{level}"},
                "geometry": {
                    "model": level,
                    "pore_diameter": args.pore,
                    "wall_thickness": args.wall,
                    "catalyst_layer": "2 nm",
                },
                "electrolyte": {"hindrance": "none", "potential_model": "none"},
                "species": [{"name": "A", "formula": "X", "diffusivity": "1e-9 m^2/s"}],
            }
        )
        if level == "full-3d":
            window, edges = (-130.0, 130.0, -130.0, 130.0), False
        else:
            window, edges = (-25.0, 25.0, 40.0, 115.0), True
        if level == "axisymmetric-cell":
            window = (0.0, 25.0, 40.0, 115.0)
        path = args.out / f"mesh-{level}.png"
        info = render_case(
            case,
            path,
            window=window,
            edges=edges,
            title=f"{level}, {args.pore} pores ({info_text(case)})",
        )
        print(f"{path}: {info.pore_count} pores, multiplicity {info.multiplicity:g}")


def info_text(case: object) -> str:
    """Short mesh-setting text for the title."""
    m = case.mesh  # type: ignore[attr-defined]
    return f"{m.cells_per_pore_diameter} cells/pore diameter, {m.cells_across_layer} across layer"


if __name__ == "__main__":
    main()
