"""Solving a discrete model: options, sparsity, Newton, continuation.

One way: :mod:`~confine.solver.options` and :mod:`~confine.solver.sparsity`
→ :mod:`~confine.solver.convergence` → :mod:`~confine.solver.newton` →
:mod:`~confine.solver.continuation` (the ``solve`` entry, returning a frozen
:class:`confine.solution.Solution`); the capacitance tangent solve is a
metric (:mod:`confine.metrics.double_layer`, from
:func:`~confine.solver.continuation.jacobian_at`).
"""
