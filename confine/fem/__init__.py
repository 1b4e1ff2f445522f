"""The discrete model: spaces and scales → swept Constants → residual → conditions.

One way: :mod:`~confine.fem.spaces` → :mod:`~confine.fem.parameters` (the one
list of swept values, :mod:`~confine.fem.swept`) → :mod:`~confine.fem.fields`
and :mod:`~confine.fem.residual` (weak forms from :mod:`confine.physics`) →
:mod:`~confine.fem.bcs`, composed by :class:`confine.fem.model.Model`; no
solver here (:mod:`confine.solver`). Importing the package imports nothing.
"""
