"""The [[array]] entries of a case file: species, reactions and charged walls.

One frozen dataclass per entry, its fields carrying their
:class:`~confine.schema.Key`; the solvent's name and the orders of a step's
two directions.
"""

from __future__ import annotations

from dataclasses import dataclass

from confine.schema import REQUIRED, key

#: The solvent: not a species; its activity is 1 and it balances H and O.
SOLVENT = "H2O"


@dataclass(frozen=True, kw_only=True)
class Species:
    """[[species]]: one transported or adsorbed species."""

    name: str = key("str", "species name, e.g. CO2, NO3-, *H", default=REQUIRED)
    phase: str = key(
        "str",
        "solution (transported) or adsorbed (coverage on sites)",
        default="solution",
        choices=("solution", "adsorbed"),
    )
    charge: int = key("int", "charge number", default=0)
    formula: str | None = key("str", "elemental formula if the name is not one (urea: CH4N2O)")
    diffusivity: float | None = key(
        "quantity", "diffusivity in bulk water", unit="m^2/s", positive=True
    )
    bulk: float = key(
        "quantity", "bulk concentration (bath)", unit="mol/L", default="0 mol/L", nonnegative=True
    )
    exchange_coefficient: float | None = key(
        "quantity",
        "bath_boundary = exchange: mass-transfer coefficient k to the reservoir (outflow "
        "k (c − bulk) per area; 0 closes the face to this species)",
        unit="m/s",
        nonnegative=True,
    )
    radius: float | None = key(
        "quantity", "solute radius for hindrance/steric terms", unit="nm", positive=True
    )
    radius_kind: str | None = key(
        "str", "which radius", choices=("stokes", "hydrated", "crystal", "molecular")
    )
    radius_source: str | None = key("str", "where the radius comes from (reference)")
    surface_diffusivity: float = key(
        "quantity",
        "adsorbed: surface diffusivity",
        unit="m^2/s",
        default="0 m^2/s",
        nonnegative=True,
    )
    initial: float = key(
        "float", "adsorbed: initial coverage", default=0.0, nonnegative=True, maximum=1.0
    )


@dataclass(frozen=True, kw_only=True)
class Reaction:
    """[[reactions]]: one step of the network."""

    name: str = key("str", "reaction name", default=REQUIRED)
    type: str = key(
        "str",
        "reaction type",
        default=REQUIRED,
        choices=("electrochemical", "chemical", "homogeneous"),
    )
    where: str = key(
        "str",
        "catalytic layer (volumetric), catalytic surface (areal), or the whole electrolyte",
        default="layer",
        choices=("layer", "surface", "electrolyte"),
    )
    reactants: dict[str, float] = key(
        "table", "reactant -> stoichiometric coefficient (H2O is the solvent)"
    )
    products: dict[str, float] = key("table", "product -> stoichiometric coefficient")
    orders: dict[str, float] = key("table", "reaction orders (default: the coefficients)")
    backward_orders: dict[str, float] = key(
        "table", "orders of the backward step (default: product coefficients)"
    )
    lumped: bool = key("bool", "a lumped step: its orders must be declared", default=False)
    electrons: float = key(
        "float",
        "electrons transferred (cathodic, per reaction event)",
        default=0.0,
        nonnegative=True,
    )
    rate_constant: float = key(
        "quantity", "forward rate at the reference potential", unit="", default=REQUIRED
    )
    backward_rate_constant: float = key(
        "quantity",
        "backward rate constant (chemical and homogeneous steps; omitted: irreversible)",
        unit="",
    )
    reference_potential: float = key(
        "quantity", "potential at which the rate constant holds (vs RHE)", unit="V", default="0 V"
    )
    transfer_coefficient: float = key(
        "float", "IUPAC cathodic transfer coefficient α_c", default=0.5, nonnegative=True
    )


#: Charged walls a [[walls]] entry can name (facet groups of the geometry kinds).
WALL_GROUPS = ("electrode", "pore_wall", "cavity_wall", "outer_surface", "catalyst_surface")


@dataclass(frozen=True, kw_only=True)
class Wall:
    """[[walls]]: the electrostatic condition on one wall (poisson models).

    ``name`` is the wall's physical group; walls not listed are uncharged
    (ε ∂φ/∂n = 0). The bath face (``outer_boundary``, and both ends of a
    ``cylinder-pore``) holds the bulk concentrations and φ = 0, the reference
    of every potential here. Conditions: ``charge`` (σ given), ``potential``
    (φ given), ``stern`` (a polarised electrode behind a Stern layer:
    σ = C_S (E − E_pzc − φ_wall), E = electrode.potential, both vs RHE, so
    E − E_pzc is the metal's potential against the bath at zero charge).
    Steady runs ramp the charge, potential or E − E_pzc from (nearly) 0 with
    the continuation multiplier.
    """

    name: str = key("str", "the wall (physical group)", default=REQUIRED, choices=WALL_GROUPS)
    condition: str = key(
        "str",
        "charge: given surface charge density (ε ∂φ/∂n = σ, n out of the electrolyte); "
        "potential: given potential relative to the bath; stern: Stern layer in series, "
        "σ = C_S (electrode.potential − zero_charge_potential − φ_wall)",
        default=REQUIRED,
        choices=("charge", "potential", "stern"),
    )
    surface_charge: float | None = key(
        "quantity", "charge: surface charge density of the wall", unit="C/m^2"
    )
    potential: float | None = key(
        "quantity", "potential: wall potential relative to the bath (φ = 0)", unit="V"
    )
    stern_capacitance: float | None = key(
        "quantity",
        "stern: capacitance of the Stern (Helmholtz) layer per area (source it)",
        unit="F/m^2",
        positive=True,
    )
    zero_charge_potential: float | None = key(
        "quantity", "stern: potential of zero charge of the wall, vs RHE (source it)", unit="V"
    )


def forward_orders(r: Reaction) -> dict[str, float]:
    """Orders of the forward step (declared, else the reactant coefficients)."""
    return dict(r.orders) if r.orders else dict(r.reactants)


def backward_orders(r: Reaction) -> dict[str, float]:
    """Orders of the backward step (declared, else the product coefficients)."""
    return dict(r.backward_orders) if r.backward_orders else dict(r.products)
