"""Pure UFL physics: hindrance, transport fluxes, reaction kinetics, potential models.

No I/O and no function spaces here: these modules turn values and UFL
expressions into UFL expressions (most also accept plain floats), so the
solver, the metrics and the tests share one definition of each law.
"""
