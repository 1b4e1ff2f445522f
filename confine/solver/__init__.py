"""Solving a discrete model: options, sparsity, Newton, continuation, tangents.

One way: :mod:`~confine.solver.options` and :mod:`~confine.solver.sparsity`
→ :mod:`~confine.solver.convergence` → :mod:`~confine.solver.newton` →
:mod:`~confine.solver.continuation` (the ``solve`` entry, returning a frozen
:class:`confine.solution.Solution`) → :mod:`~confine.solver.tangent`.
"""
