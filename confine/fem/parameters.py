"""The swept values as ``fem.Constant``s, and the continuation multiplier.

One Constant (or one per reaction, species, wall) for every entry of
:data:`confine.fem.swept.SWEPT`: :meth:`Parameters.update` sets them from a
case whose :func:`~confine.fem.swept.form_signature` equals the model's, so a
sweep changes values, never forms. The continuation multiplier s scales the
catalytic rates; wall charges, wall potentials and the voltage across a pore
ramp with it (:meth:`Parameters.set_multiplier`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from confine.case import Case, Wall
from confine.env import import_dolfinx
from confine.fem.spaces import Spaces
from confine.fem.swept import SWEPT, form_signature
from confine.physics import potential
from confine.units import FARADAY

import_dolfinx()
from dolfinx import fem  # noqa: E402

#: Wall charges and potentials follow m(s) = max(s, WALL_FLOOR · s^(1/4)) in the
#: continuation: 1e-4 of their value at s = 1e-8 (a start well above round-off,
#: still linear), then the same steps as the rates from s = 1e-2 on.
WALL_FLOOR = 1e-2


def assign(c: Any, value: float) -> None:
    """Set a scalar fem.Constant (sweeps change values, not forms)."""
    c.value = value


class Parameters:
    """The Constants of one model.

    Attributes:
        case: the case whose values the Constants hold now.
        E: electrode potential (V); s: continuation multiplier.
        k, kb, alpha, e_ref: per reaction (rate constants, backward rate constants,
            transfer coefficients, reference potentials).
        bulk_hat: ĉ_bulk = bulk / c_ref per solution species.
        wall_value, wall_target: the ramped wall data (σ̂ or ψ̂) and its value at s = 1.
        end_value, end_target: the ramped φ̂ at a cylinder pore's ends, and half the
            voltage across it at s = 1.
        charge_scale: ε RT/(F L), C/m² per unit σ̂ (poisson models).
        ohm: F/(κ v_T) of the secondary model (κ from the bulk ions, so it follows
            ``bulk``; a reused model would otherwise keep its first bath's κ).
        dt: the time step (s) of a transient run (None if steady).
    """

    def __init__(self, spaces: Spaces, case: Case):
        self.spaces = spaces
        self.case = case
        self.vt = spaces.vt
        self.c_ref = spaces.c_ref
        self.E = self._const(case.electrode.potential)
        self.s = self._const(1.0)  # continuation multiplier of catalytic rates
        self.k = {r.name: self._const(r.rate_constant) for r in case.reactions}
        self.kb = {
            r.name: self._const(r.backward_rate_constant)
            for r in case.reactions
            if r.backward_rate_constant is not None
        }
        self.bulk_hat = {
            s: self._const(case.species_named(s).bulk / self.c_ref[s]) for s in self.c_ref
        }
        self.ohm = self._const(_ohm(spaces, case))
        echem = [r for r in case.reactions if r.type == "electrochemical"]
        self.alpha = {r.name: self._const(r.transfer_coefficient) for r in echem}
        self.e_ref = {r.name: self._const(r.reference_potential) for r in echem}
        #: Half the voltage across a cylinder pore (φ̂ at end_b; −that at end_a), and
        #: the ramped end potentials.
        self.end_target = 0.5 * float(case.geometry.end_voltage or 0.0) / self.vt
        self.end_value = {
            "end_a": self._const(-self.end_target),
            "end_b": self._const(self.end_target),
        }
        #: Wall data at s = 1 (σ̂ or ψ̂) and the constants holding the ramped values.
        self.wall_target: dict[str, float] = {}
        self.wall_value: dict[str, fem.Constant] = {}
        self.charge_scale = 1.0
        if spaces.poisson:
            self.charge_scale = potential.charge_scale(case, spaces.L)
            for wall in case.walls:
                self.wall_target[wall.name] = self.wall_hat(wall)
                self.wall_value[wall.name] = self._const(self.wall_target[wall.name])
        self.dt: Any = None  # a fem.Constant in transient runs
        if case.solver.transient:
            self.dt = self._const(float(case.solver.time_step or 1.0))

    def _const(self, value: float) -> fem.Constant:
        return fem.Constant(self.spaces.mesh, float(value))

    def wall_hat(self, wall: Wall) -> float:
        """Scaled wall data: σ̂ = σ / (ε RT/(F L)), ψ̂ = Fψ/RT, or (Stern) F(E − E_pzc)/RT."""
        if wall.condition == "charge":
            return float(wall.surface_charge or 0.0) / self.charge_scale
        if wall.condition == "stern":
            e_pzc = float(wall.zero_charge_potential or 0.0)
            return (self.case.electrode.potential - e_pzc) / self.vt
        return float(wall.potential or 0.0) / self.vt

    def stern_conductance(self, wall: Wall) -> float:
        """k = C_S L / ε of a Stern wall (scaled)."""
        return (
            float(wall.stern_capacitance or 0.0) * self.spaces.L / potential.permittivity(self.case)
        )

    def set_multiplier(self, value: float) -> None:
        """Set the continuation multiplier s: catalytic rates × s, wall charges and
        potentials and the voltage across a pore × max(s, :data:`WALL_FLOOR` · s^(1/4))."""
        assign(self.s, value)
        ramp = max(value, WALL_FLOOR * value**0.25)
        for name, c in self.wall_value.items():
            assign(c, ramp * self.wall_target[name])
        assign(self.end_value["end_a"], -ramp * self.end_target)
        assign(self.end_value["end_b"], ramp * self.end_target)

    def update(self, case: Case) -> None:
        """Take a case that differs only in swept values (:data:`~confine.fem.swept.SWEPT`).

        Every entry of the table sets its Constants; anything else is compiled
        into the forms or the set-up (diffusivities, temperature, sites, geometry,
        solver options, ...). The multiplier keeps its value.

        Raises:
            ValueError: the case differs in anything else (build a new model).
        """
        if form_signature(self.case) != form_signature(case):
            raise ValueError(
                "only the potential, rate constants, transfer coefficients, reference "
                "potentials and bulk values can change on a reused problem"
            )
        self.case = case
        for item in SWEPT:
            _SETTERS[(item.section, item.key)](self, case)
        self.set_multiplier(float(self.s.value))

    def bulk_offsets(self, unknowns: list[str]) -> np.ndarray:
        """ĉ_bulk of each unknown on the full mesh (0 for φ): ĉ = offset + unknown."""
        return np.array([0.0 if n == "phi" else float(self.bulk_hat[n].value) for n in unknowns])


# ---------------------------------------------------------------- one setter per SWEPT entry
def _set_potential(p: Parameters, case: Case) -> None:
    assign(p.E, case.electrode.potential)


def _set_rate_constant(p: Parameters, case: Case) -> None:
    for r in case.reactions:
        assign(p.k[r.name], r.rate_constant)


def _set_backward(p: Parameters, case: Case) -> None:
    for r in case.reactions:
        if r.backward_rate_constant is not None:
            assign(p.kb[r.name], r.backward_rate_constant)


def _set_alpha(p: Parameters, case: Case) -> None:
    for r in case.reactions:
        if r.name in p.alpha:
            assign(p.alpha[r.name], r.transfer_coefficient)


def _set_reference(p: Parameters, case: Case) -> None:
    for r in case.reactions:
        if r.name in p.e_ref:
            assign(p.e_ref[r.name], r.reference_potential)


def _ohm(spaces: Spaces, case: Case) -> float:
    """F/(κ v_T), v_T = RT/F: the secondary model's source scale (κ of the bulk ions); else 0."""
    if spaces.model != "secondary":
        return 0.0
    return FARADAY / (potential.conductivity(case) * spaces.vt)


def _set_bulk(p: Parameters, case: Case) -> None:
    for s in p.c_ref:
        assign(p.bulk_hat[s], case.species_named(s).bulk / p.c_ref[s])
    assign(p.ohm, _ohm(p.spaces, case))


def _set_walls(p: Parameters, case: Case) -> None:
    """Wall targets (σ̂, ψ̂, or a Stern wall's F(E − E_pzc)/RT); ramped by set_multiplier."""
    for wall in case.walls:
        p.wall_target[wall.name] = p.wall_hat(wall)


def _set_end_voltage(p: Parameters, case: Case) -> None:
    p.end_target = 0.5 * float(case.geometry.end_voltage or 0.0) / p.vt


_SETTERS: dict[tuple[str, str], Callable[[Parameters, Case], None]] = {
    ("electrode", "potential"): _set_potential,
    ("reactions", "rate_constant"): _set_rate_constant,
    ("reactions", "backward_rate_constant"): _set_backward,
    ("reactions", "transfer_coefficient"): _set_alpha,
    ("reactions", "reference_potential"): _set_reference,
    ("species", "bulk"): _set_bulk,
    ("walls", "surface_charge"): _set_walls,
    ("walls", "potential"): _set_walls,
    ("walls", "zero_charge_potential"): _set_walls,
    ("geometry", "end_voltage"): _set_end_voltage,
}
if set(_SETTERS) != {(s.section, s.key) for s in SWEPT}:  # the table is the one list
    raise ImportError("confine.fem.parameters does not set every entry of SWEPT")
