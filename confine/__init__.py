"""confine: transport and reaction in nanoconfined electrocatalysts.

Typical use::

    import confine
    case = confine.load_case("cases/mchs-7nm.toml", set={"electrode.potential": "-0.9 V"})
    result = confine.run(case)
    result.metric("species.urea.ratio_interior_exterior")

``run``, ``sweep`` (module confine.sweeps) and ``fit`` (module confine.calibrate)
import dolfinx only when called.
"""

from __future__ import annotations

from typing import Any

from confine._version import __version__
from confine.case import Case, CaseError, load_case


def run(case: Case, out: Any = None, comm: Any = None, initial: Any = None) -> Any:
    """Solve a case; see :func:`confine.pipeline.run`."""
    # heavy: the solver stack (dolfinx, PETSc); `import confine` stays light without it
    from confine.pipeline import run as _run

    return _run(case, out=out, comm=comm, initial=initial)


def sweep(path: Any, out: Any, jobs: int = 1, **kwargs: Any) -> Any:
    """Run a sweep file and return its table; see :func:`confine.sweeps.sweep`."""
    # heavy: pandas and, per point, the solver stack
    from confine.sweeps import sweep as _sweep

    return _sweep(path, out=out, jobs=jobs, **kwargs)


def fit(path: Any, out: Any = None, **kwargs: Any) -> Any:
    """Calibrate case parameters; see :func:`confine.calibrate.fit`."""
    # heavy: scipy.optimize and, per trial, the solver stack
    from confine.calibrate import fit as _fit

    return _fit(path, out=out, **kwargs)


__all__ = ["Case", "CaseError", "__version__", "fit", "load_case", "run", "sweep"]
