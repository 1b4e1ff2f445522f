"""``confine doctor``: what is installed, and whether each part works here.

The optional and heavy libraries (dolfinx, PETSc, gmsh, pyvista) are imported
inside each check: a library that fails to import is a finding to report, not
a crash.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from confine.env import import_dolfinx, versions


def _check_dolfinx() -> tuple[str, bool]:
    try:
        import_dolfinx()
        from dolfinx import fem, mesh  # checked here: a failure is reported
        from mpi4py import MPI

        msh = mesh.create_unit_square(MPI.COMM_WORLD, 4, 4)
        one = fem.assemble_scalar(fem.form(fem.Constant(msh, 1.0) * _dx(msh)))
        ok = bool(np.isclose(msh.comm.allreduce(one), 1.0))
        return f"assembles a form on {MPI.COMM_WORLD.size} rank(s)", ok
    except Exception as err:  # report, don't crash: this is a diagnostic
        return f"broken: {type(err).__name__}: {err}", False


def _dx(msh: object) -> object:
    import ufl  # with dolfinx, only once it imported

    return ufl.dx(domain=msh)


def _check_solvers() -> tuple[str, bool]:
    try:
        import_dolfinx()
        from petsc4py import PETSc  # checked here: a failure is reported

        have = [
            name
            for name in ("mumps", "superlu_dist", "hypre")
            if PETSc.Sys.hasExternalPackage(name)
        ]
        return f"external packages: {', '.join(have) or 'none'}", "mumps" in have
    except Exception as err:
        return f"broken: {err}", False


def _check_gmsh() -> tuple[str, bool]:
    try:
        import gmsh  # checked here: a failure is reported

        gmsh.initialize(interruptible=False)
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.occ.addSphere(0, 0, 0, 1)
        gmsh.model.occ.synchronize()
        gmsh.model.mesh.generate(2)
        n = len(gmsh.model.mesh.getNodes()[0])
        gmsh.finalize()
        return f"OCC meshes a sphere ({n} nodes)", n > 0
    except Exception as err:
        return f"broken: {err}", False


def _check_pyvista() -> tuple[str, bool]:
    try:
        import pyvista as pv  # optional (the viz extra): its absence is reported

        pv.OFF_SCREEN = True
        with tempfile.TemporaryDirectory() as tmp:
            plotter = pv.Plotter(off_screen=True, window_size=[64, 64])
            plotter.add_mesh(pv.Sphere())
            png = Path(tmp) / "t.png"
            img = plotter.screenshot(str(png))
            plotter.close()
            ok = float(np.asarray(img).std()) > 0
        return "renders off-screen" if ok else "renders a blank image", ok
    except Exception as err:
        return f"not usable ({type(err).__name__}: {err}): figures are skipped", False


def report() -> tuple[list[str], bool]:
    """Lines describing the installation, and whether the essentials work."""
    lines = ["confine doctor", ""]
    for name, ver in versions().items():
        lines.append(f"  {name:10s} {ver or 'not installed'}")
    lines.append("")
    essential = True
    for label, fn, needed in (
        ("dolfinx", _check_dolfinx, True),
        ("PETSc", _check_solvers, True),
        ("gmsh", _check_gmsh, True),
        ("pyvista", _check_pyvista, False),
    ):
        text, ok = fn()
        essential &= ok or not needed
        lines.append(f"  [{'ok' if ok else 'FAIL' if needed else 'warn'}] {label}: {text}")
    return lines, essential
