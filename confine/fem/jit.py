"""Forms and expressions compiled on every rank at once.

dolfinx's JIT (``dolfinx.jit.mpi_jit_decorator``) compiles or loads a form on
rank 0, then loads it on the other ranks: each form costs the ranks' loads one
after another. On a warm cache a load is the form's UFL signature and a module
import (~50 ms each for the urea network's 18 forms: 0.96 s on one rank, 1.94 s
of a two-rank sector run, ×N on N ranks). Here every rank compiles with its own
communicator (``MPI.COMM_SELF``), so the loads run side by side; FFCx's cache
lets one process compile a missing form (it creates the ``.c`` file exclusively)
while the others wait for it, as worker processes of a sweep already do.

Two things dolfinx's protocol gave are kept: every rank learns whether any rank
failed (one allreduce per form, so no rank goes on into a collective alone), and
a wait long enough for another process's compile of a large form under load
(:data:`WAIT_S`; FFCx's default is 10 s). A ``.c`` file left by a killed compile
is never finished: after that wait it is removed and compiled again, once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from confine.env import import_dolfinx

import_dolfinx()
import ufl  # noqa: E402
from dolfinx import fem  # noqa: E402
from mpi4py import MPI  # noqa: E402

log = logging.getLogger("confine")

#: Seconds a process waits for another's compile of the same form before it takes
#: the ``.c`` file as left by a killed compile (the urea network's largest forms
#: compile in well under a minute on a loaded 2-core machine).
WAIT_S = 300
#: FFCx/CFFI options of every compile here.
JIT_OPTIONS = {"timeout": WAIT_S}
_STALE = re.compile(r"remove (\S+\.c)\)")


def concurrently[T](comm: Any, compile_: Callable[[], T]) -> T:
    """``compile_()`` on every rank of ``comm`` at once (collective).

    Args:
        comm: the communicator whose ranks all compile (the mesh's).
        compile_: compiles with ``MPI.COMM_SELF`` and :data:`JIT_OPTIONS`.

    Raises:
        RuntimeError (or the rank's own error): a compile failed on some rank;
            every rank raises.
    """
    out: Any = None
    error: Exception | None = None
    try:
        out = _once_more_if_stale(compile_)
    except Exception as err:  # reported on every rank below
        error = err
    if comm.allreduce(error is not None, op=MPI.LOR):
        if error is not None:
            raise error
        raise RuntimeError("JIT compilation failed on another rank")
    return out


def _once_more_if_stale[T](compile_: Callable[[], T]) -> T:
    """``compile_()``; where FFCx gave up waiting on a ``.c`` file that never got its
    module (a killed compile), that file is removed and the compile run again."""
    try:
        return compile_()
    except TimeoutError as err:
        found = _STALE.search(str(err))
        if found is None:
            raise
        stale = Path(found.group(1))
        if stale.with_suffix(".c.cached").exists():
            raise
        log.warning("removing %s: a compile that never finished (%s s)", stale, WAIT_S)
        stale.unlink(missing_ok=True)
        return compile_()


def _comm_of(forms: Any) -> Any:
    """The communicator of the first UFL form's mesh in a (nested) sequence."""
    if isinstance(forms, ufl.Form):
        domain = forms.ufl_domain()  # None for a form without integrals
        return None if domain is None else domain.ufl_cargo().comm
    if isinstance(forms, Sequence):
        for f in forms:
            comm = _comm_of(f)
            if comm is not None:
                return comm
    return None


def form(forms: Any, entity_maps: Any = None) -> Any:
    """:func:`dolfinx.fem.form` of a UFL form (or a nested sequence of them, None
    kept), compiled on every rank at once (collective over the forms' mesh)."""
    comm = _comm_of(forms)
    if comm is None:  # nothing to compile
        return fem.form(forms, entity_maps=entity_maps)
    return concurrently(
        comm,
        lambda: fem.form(
            forms, entity_maps=entity_maps, jit_comm=MPI.COMM_SELF, jit_options=JIT_OPTIONS
        ),
    )


def compile_form(comm: Any, expr: Any) -> Any:
    """:func:`dolfinx.fem.compile_form` on every rank of ``comm`` at once."""
    return concurrently(
        comm, lambda: fem.compile_form(MPI.COMM_SELF, expr, jit_options=JIT_OPTIONS)
    )


def expression(expr: Any, points: Any, comm: Any) -> Any:
    """:class:`dolfinx.fem.Expression` at ``points``, compiled on every rank of ``comm``
    at once."""
    return concurrently(
        comm,
        lambda: fem.Expression(expr, points, comm=MPI.COMM_SELF, jit_options=JIT_OPTIONS),
    )
