"""Nanoreactor metrics of a converged solution (metrics.json), one module per family.

* :mod:`~confine.metrics.means`: interior/exterior means, C_I/C_E by every
  definition, local pH;
* :mod:`~confine.metrics.catalyst_means`: means over the catalyst's surface or layer;
* :mod:`~confine.metrics.rates`: reaction rates, production, current, Faradaic
  efficiencies, selectivity, yields, mass balances, electrons per molecule;
* :mod:`~confine.metrics.sections`: cross-sections of a pore;
* :mod:`~confine.metrics.double_layer`: wall charge, potential and capacitance
  (the tangent solve), pore conduction, cell Péclet number;
* :mod:`~confine.metrics.document`: :func:`compute_metrics`, the units table and
  the definitions.

Everything a caller needs is re-exported here.
"""

from confine.metrics.document import KEY_UNITS, UNITS, compute_metrics, definitions
from confine.metrics.double_layer import wall_capacitance
from confine.metrics.means import MOL_L, PKW, RATIO_DEFINITIONS
from confine.metrics.rates import ATOMIC_MASS, electrons_per_molecule, molar_mass
from confine.metrics.sections import section_of_pore

__all__ = [
    "ATOMIC_MASS",
    "KEY_UNITS",
    "MOL_L",
    "PKW",
    "RATIO_DEFINITIONS",
    "UNITS",
    "compute_metrics",
    "definitions",
    "electrons_per_molecule",
    "molar_mass",
    "section_of_pore",
    "wall_capacitance",
]
