"""Case files: TOML -> frozen dataclasses with SI floats, validated all at once.

A case file is data: it is parsed with :mod:`tomllib` and its quantity
strings with pint; nothing in it is evaluated as code. Every problem found is
reported in one go as ``error: FILE: section.key: what is wrong``.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import hashlib
import json
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from confine.schema import INT_LIMIT, REQUIRED, TABLE_LIMIT, Key, brief, key, keys_of
from confine.units import UnitError, format_si, parse_quantity, parse_unit, registry

GEOMETRY_KINDS = ("hollow-sphere", "solid-sphere", "sphere", "planar", "cylinder-pore")
MODELS = ("axisymmetric-cell", "sector-3d", "full-3d", "1d", "2d", "3d")
PARTICLE_MODELS = ("axisymmetric-cell", "sector-3d", "full-3d")
POTENTIAL_MODELS = ("none", "secondary", "electroneutral", "poisson", "poisson-steric")


# --------------------------------------------------------------------------- sections
@dataclass(frozen=True, kw_only=True)
class CaseInfo:
    """[case]: name and description."""

    name: str = key("str", "short name, used in output paths", default=REQUIRED)
    description: str = key("str", "one line saying what the case is", default="")


@dataclass(frozen=True, kw_only=True)
class Geometry:
    """[geometry]: the particle (or verification geometry) and its bath."""

    kind: str = key(
        "str",
        "geometry kind (sphere: a ball of electrolyte of outer_diameter, no shell or pores)",
        default="hollow-sphere",
        choices=GEOMETRY_KINDS,
    )
    model: str = key(
        "str",
        "fidelity level (particles) or dimension (planar, cylinder-pore)",
        default="axisymmetric-cell",
        choices=MODELS,
    )
    outer_diameter: float = key(
        "quantity", "particle outer diameter", unit="nm", default="214 nm", positive=True
    )
    shell_thickness: float = key(
        "quantity", "shell thickness (hollow sphere)", unit="nm", default="52 nm", positive=True
    )
    pore_diameter: float = key(
        "quantity", "mean pore diameter", unit="nm", default="7.55 nm", positive=True
    )
    wall_thickness: float | None = key(
        "quantity",
        "smallest carbon wall between pores at the cavity radius (sets the lattice)",
        unit="nm",
        positive=True,
    )
    porosity: float | None = key(
        "float",
        "shell porosity: pore volume / shell volume (sets the lattice)",
        positive=True,
        maximum=0.9069,
    )
    pore_count: int | None = key("int", "number of pores (sets the lattice)", positive=True)
    max_pores: int | None = key(
        "int", "most pores validation accepts (omitted: 10000; docs/limits.md)", positive=True
    )
    min_wall: float = key(
        "quantity",
        "smallest wall at the cavity radius accepted before meshing",
        unit="nm",
        default="0.5 nm",
        positive=True,
    )
    catalyst: str = key(
        "str",
        "catalyst as a volumetric layer or an areal surface",
        default="layer",
        choices=("layer", "surface"),
    )
    catalyst_layer: float = key(
        "quantity",
        "catalytic layer thickness on every inner carbon face",
        unit="nm",
        default="2 nm",
        positive=True,
    )
    layer_fill_core: float = key(
        "quantity",
        "a pore whose core (radius − layer) is thinner than this is all layer",
        unit="nm",
        default="0.5 nm",
        nonnegative=True,
    )
    bath_thickness: float = key(
        "quantity",
        "electrolyte bath around the particle",
        unit="nm",
        default="300 nm",
        positive=True,
    )
    bath_boundary: str = key(
        "str",
        "condition on the bath's outer face (a sphere's surface, a pore's ends): bulk "
        "concentrations, closed, the isolated-sphere far field, or exchange with a reservoir "
        "at the bulk concentrations (outflow k (c − bulk), k = species.exchange_coefficient)",
        default="bulk",
        choices=("bulk", "closed", "far-field", "exchange"),
    )
    sector_rings: int = key(
        "int",
        "sector-3d: rings of neighbour pores around the central one",
        default=0,
        nonnegative=True,
    )
    pore_length: float | None = key(
        "quantity", "cylinder-pore: pore length", unit="nm", positive=True
    )
    reservoir_length: float = key(
        "quantity",
        "cylinder-pore: reservoir length at each end (0: none)",
        unit="nm",
        default="0 nm",
        nonnegative=True,
    )
    length: float | None = key(
        "quantity", "planar: electrode-to-bath distance", unit="nm", positive=True
    )
    end_voltage: float | None = key(
        "quantity",
        "cylinder-pore: potential of end_b minus end_a, applied across the pore "
        "(end_a at −V/2, end_b at +V/2, both at bulk concentrations; omitted: 0)",
        unit="V",
    )
    width: float = key(
        "quantity",
        "planar 2d/3d: lateral size of the slab",
        unit="nm",
        default="10 nm",
        positive=True,
    )


@dataclass(frozen=True, kw_only=True)
class MeshSettings:
    """[mesh]: resolution and grading."""

    cells_per_pore_diameter: int = key(
        "int", "cells across a pore diameter", default=6, positive=True
    )
    cells_across_layer: int = key(
        "int", "cells through the catalytic layer", default=2, positive=True
    )
    max_cell_size: float = key(
        "quantity",
        "coarsest cell (cavity centre, far bath)",
        unit="nm",
        default="20 nm",
        positive=True,
    )
    growth: float = key(
        "float", "cell-size growth rate away from walls", default=1.3, positive=True
    )
    boundary_layer: bool = key("bool", "refine at charged walls (double-layer runs)", default=False)
    first_cell_debye_fraction: float = key(
        "float", "boundary layer: first cell / Debye length", default=0.1, positive=True
    )
    threads: int = key(
        "int",
        "gmsh threads (1: the same mesh every build; more: faster 3D meshing, not reproducible)",
        default=1,
        positive=True,
    )
    refine: int = key(
        "int", "uniform halving of every size (convergence studies)", default=0, nonnegative=True
    )
    max_cells: int | None = key(
        "int", "most cells validation accepts (omitted: 5e7; docs/limits.md)", positive=True
    )


@dataclass(frozen=True, kw_only=True)
class Catalyst:
    """[catalyst]: metal inventory and sites (per particle, equal across supports)."""

    metal_loading: float = key(
        "quantity",
        "metal mass fraction of the particle",
        unit="%",
        default="5 %",
        positive=True,
        maximum=1.0,
    )
    electrode_loading: float = key(
        "quantity",
        "catalyst mass per electrode area",
        unit="mg/cm^2",
        default="0.02 mg/cm^2",
        positive=True,
    )
    site_density: float = key(
        "quantity",
        "catalytic sites per catalytic area",
        unit="mol/m^2",
        default="3e-5 mol/m^2",
        positive=True,
    )
    sites: str = key(
        "str",
        "site placement: uniform (site_density / catalyst_layer per layer volume) or "
        "inventory (the metal per particle spread evenly over the catalytic wall area; "
        "rates per site, declared at site_density)",
        default="uniform",
        choices=("uniform", "inventory"),
    )
    dispersion: float = key(
        "float",
        "inventory: fraction of metal atoms that are surface sites",
        default=0.5,
        positive=True,
        maximum=1.0,
    )
    metal_molar_mass: float = key(
        "quantity",
        "inventory: mean molar mass of the metal",
        unit="g/mol",
        default="63.546 g/mol",
        positive=True,
    )
    carbon_density: float = key(
        "quantity",
        "skeletal density of the carbon",
        unit="g/cm^3",
        default="1.9 g/cm^3",
        positive=True,
    )
    layer_porosity: float = key(
        "float",
        "fluid fraction of the cluster-filled layer",
        default=1.0,
        positive=True,
        maximum=1.0,
    )
    layer_tortuosity: float = key(
        "float", "tortuosity of the cluster-filled layer", default=1.0, positive=True
    )


@dataclass(frozen=True, kw_only=True)
class Electrolyte:
    """[electrolyte]: temperature, potential model, hindrance."""

    temperature: float = key("quantity", "temperature", unit="K", default="298.15 K", positive=True)
    potential_model: str = key(
        "str",
        "how the electrolyte potential is found",
        default="secondary",
        choices=POTENTIAL_MODELS,
    )
    conductivity: float | None = key(
        "quantity",
        "secondary: conductivity (computed from the ions if omitted)",
        unit="S/m",
        positive=True,
    )
    hindrance: str = key(
        "str",
        "hindered diffusion in pores",
        default="renkin",
        choices=("none", "renkin", "dechadilok-deen"),
    )
    relative_permittivity: float = key(
        "float",
        "poisson models, Debye length: relative permittivity of the electrolyte "
        "(water at 25 °C: 78.4, CRC Handbook of Chemistry and Physics, 'Permittivity of "
        "water'; Malmberg & Maryott, J. Res. NBS 56 (1956) 1; 78.5 as commonly rounded)",
        default=78.5,
        positive=True,
    )
    steric: bool = key("bool", "mean-field steric (Bikerman) flux term", default=False)
    ion_size: float | None = key(
        "quantity", "steric: one size for all ions (lattice spacing)", unit="nm", positive=True
    )


@dataclass(frozen=True, kw_only=True)
class Electrode:
    """[electrode]: potential vs RHE."""

    potential: float = key("quantity", "electrode potential vs RHE", unit="V", default="-1.1 V")
    frumkin: bool = key(
        "bool",
        "poisson models: electrochemical steps see the overpotential at their reaction plane, "
        "E − φ_local − E_ref (Frumkin correction), instead of E − E_ref against the bath",
        default=False,
    )


@dataclass(frozen=True, kw_only=True)
class Solver:
    """[solver]: Newton, continuation, PETSc options."""

    transient: bool = key("bool", "time-dependent run (default steady)", default=False)
    end_time: float | None = key("quantity", "transient: end time", unit="s", positive=True)
    time_step: float | None = key("quantity", "transient: first time step", unit="s", positive=True)
    degree: int = key("int", "Lagrange degree of the concentrations", default=1, positive=True)
    stabilization: str = key(
        "str",
        "ion fluxes: none (Galerkin) or eafe (edge-averaged exponential fitting, "
        "Scharfetter-Gummel on each edge, space charge lumped: no oscillations or "
        "negative concentrations where migration dominates, a cell Peclet number "
        "z h dphi_hat/dx above 2; degree 1, simplices)",
        default="none",
        choices=("none", "eafe"),
    )
    rtol: float = key("float", "Newton relative residual tolerance", default=1e-10, positive=True)
    atol: float = key(
        "float",
        "Newton absolute floor on the scaled residual norm; 0 (default): none, convergence "
        "is judged relative to each field's size and to the step's first residual, so it "
        "does not depend on the problem's scale",
        default=0.0,
        nonnegative=True,
    )
    quality_tolerance: float = key(
        "float",
        "largest relative mass-balance error of any species (and excess of the products' "
        "summed FE over 1) a converged run may have; beyond it the run fails like a "
        "non-converged one (failure.json, no metrics.json)",
        default=1e-6,
        positive=True,
    )
    max_iterations: int = key(
        "int", "Newton iterations per continuation step", default=50, positive=True
    )
    continuation_steps: int = key(
        "int", "steps from the always-converging start", default=8, positive=True
    )
    linear_solver: str = key(
        "str",
        "linear solver of each Newton step: auto (MUMPS in 2D and small 3D, GMRES + "
        "one AMG V-cycle per field above, MUMPS again if GMRES fails), direct or iterative",
        default="auto",
        choices=("auto", "direct", "iterative"),
    )
    petsc_options: dict[str, Any] = key("options", "PETSc options passed through (name -> value)")


@dataclass(frozen=True, kw_only=True)
class Output:
    """[output]: what is reported and written."""

    products: tuple[str, ...] = key("list", "species reported as products (rates, FE)")
    interior: str = key(
        "str",
        "interior of C_I/C_E",
        default="cavity",
        choices=("cavity", "cavity+layer", "particle"),
    )
    exterior: str = key(
        "str",
        "exterior of C_I/C_E",
        default="mouth_outer",
        choices=("mouth_outer", "bath", "outer_boundary"),
    )
    fields: bool = key("bool", "write fields for ParaView", default=True)
    figures: bool = key("bool", "write PNG figures", default=True)


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


SECTIONS: dict[str, type] = {
    "case": CaseInfo,
    "geometry": Geometry,
    "mesh": MeshSettings,
    "catalyst": Catalyst,
    "electrolyte": Electrolyte,
    "electrode": Electrode,
    "solver": Solver,
    "output": Output,
}
ARRAYS: dict[str, type] = {"species": Species, "reactions": Reaction, "walls": Wall}
SOLVENT = "H2O"


@dataclass(frozen=True, kw_only=True)
class Case:
    """A fully resolved, validated case (SI floats throughout).

    Build one with :func:`load_case` (or :func:`case_from_dict`).
    """

    case: CaseInfo
    geometry: Geometry
    mesh: MeshSettings
    catalyst: Catalyst
    electrolyte: Electrolyte
    electrode: Electrode
    solver: Solver
    output: Output
    species: tuple[Species, ...]
    reactions: tuple[Reaction, ...]
    walls: tuple[Wall, ...] = ()
    source: str = dataclasses.field(default="<dict>", compare=False)

    def species_named(self, name: str) -> Species:
        """The species called ``name``."""
        for s in self.species:
            if s.name == name:
                return s
        raise KeyError(name)

    def reaction_named(self, name: str) -> Reaction:
        """The reaction called ``name``."""
        for r in self.reactions:
            if r.name == name:
                return r
        raise KeyError(name)

    def wall_named(self, name: str) -> Wall | None:
        """The [[walls]] entry of a wall group, or None (an uncharged wall)."""
        for w in self.walls:
            if w.name == name:
                return w
        return None

    def to_dict(self) -> dict[str, Any]:
        """The resolved case as TOML-ready data (quantities as strings in SI units)."""
        out: dict[str, Any] = {}
        for sec, cls in SECTIONS.items():
            out[sec] = _section_to_dict(getattr(self, sec), cls)
        out["species"] = [_section_to_dict(s, Species) for s in self.species]
        out["reactions"] = [
            _section_to_dict(r, Reaction, units=_rate_units(r, self)) for r in self.reactions
        ]
        if self.walls:  # absent when empty: cases without walls keep their hash
            out["walls"] = [_section_to_dict(w, Wall) for w in self.walls]
        return out

    def to_toml(self) -> str:
        """The resolved case as TOML text (loads back to an equal case)."""
        return tomli_w.dumps(self.to_dict())

    def hash(self) -> str:
        """Hash of the resolved case (identifies a run)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()

    def replace(self, **overrides: Any) -> Case:
        """A validated copy with dotted-key overrides, e.g. ``{"electrode.potential": "-1 V"}``."""
        raw = self.to_dict()
        apply_overrides(raw, overrides, self.source)
        return case_from_dict(raw, self.source)


def _section_to_dict(obj: Any, cls: type, units: dict[str, str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, spec in keys_of(cls).items():
        value = getattr(obj, name)
        if value is None:
            continue
        if spec.kind == "quantity":
            unit = (units or {}).get(name, spec.unit)
            out[name] = format_si(value, unit)
        elif spec.kind == "list":
            out[name] = list(value)
        elif spec.kind in ("table", "options"):
            out[name] = dict(value)
        else:
            out[name] = value
    return out


# --------------------------------------------------------------------------- errors
@dataclass(frozen=True)
class Problem:
    """One validation problem."""

    file: str
    key: str
    message: str

    def __str__(self) -> str:
        key = self.key if len(self.key) <= 100 else f"{self.key[:80]}..."
        return f"error: {self.file}: {key}: {self.message}"


class CaseError(ValueError):
    """A case that failed validation; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _nearest(name: str, valid: Iterable[str]) -> str:
    match = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.5)
    return f" (did you mean '{match[0]}'?)" if match else ""


# --------------------------------------------------------------------------- loading
def load_case(path: str | Path, set: Mapping[str, Any] | None = None) -> Case:
    """Load, override and validate a case file.

    Args:
        path: the TOML case file.
        set: dotted-key overrides applied before validation, e.g.
            ``{"geometry.pore_diameter": "4 nm", "species.CO2.bulk": "0.02 mol/L"}``.
            Values are TOML values or strings (a string that parses as a TOML
            value, like ``"3"`` or ``'"4 nm"'``, is taken as that value).

    Returns:
        The validated case.

    Raises:
        CaseError: listing every problem found (file, key, rule).
        FileNotFoundError: no such file.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text)
    except ValueError as err:  # TOMLDecodeError, or an integer of over 4300 digits
        line = re.search(r"line (\d+)", str(err))
        where = f"line {line.group(1)}" if line else "toml"
        raise CaseError([Problem(str(path), where, f"malformed TOML: {err}")]) from None
    except RecursionError:
        raise CaseError([Problem(str(path), "toml", "malformed TOML: nested too deeply")]) from None
    apply_overrides(raw, set or {}, str(path))
    return case_from_dict(raw, str(path))


def parse_override_value(value: Any) -> Any:
    """A ``--set`` value: a TOML value if it parses as one, else the string itself."""
    if not isinstance(value, str):
        return value
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except (ValueError, RecursionError):  # not TOML, too deep, or a 4300-digit integer
        return value


def apply_overrides(raw: dict[str, Any], overrides: Mapping[str, Any], file: str) -> None:
    """Apply dotted-key overrides in place; arrays of tables are addressed by name.

    Raises:
        CaseError: a path that names no section, entry or key.
    """
    problems = []
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        val = parse_override_value(value)
        if parts[0] in ARRAYS:
            if len(parts) < 3:
                problems.append(Problem(file, dotted, f"address as {parts[0]}.NAME.KEY (--set)"))
                continue
            *name_parts, field_name = parts[1:]
            name = ".".join(name_parts)
            entries = raw.get(parts[0], [])
            match = [e for e in entries if isinstance(e, dict) and e.get("name") == name]
            if not match:
                names = [str(e.get("name")) for e in entries if isinstance(e, dict)]
                problems.append(
                    Problem(
                        file, dotted, f"no {parts[0]} entry named '{name}'{_nearest(name, names)}"
                    )
                )
                continue
            match[0][field_name] = val
        elif parts[0] in SECTIONS and len(parts) >= 2:
            table = raw.setdefault(parts[0], {})
            for p in parts[1:-1]:
                table = table.setdefault(p, {})
            table[parts[-1]] = val
        else:
            valid = list(SECTIONS) + list(ARRAYS)
            problems.append(
                Problem(file, dotted, f"unknown section '{parts[0]}'{_nearest(parts[0], valid)}")
            )
    if problems:
        raise CaseError(problems)


def _read_value(
    spec: Key, value: Any, where: str, file: str, problems: list[Problem], unit: str | None = None
) -> Any:
    """Convert one TOML value per its spec; append a problem and return None on error."""
    bad = len(problems)

    def fail(msg: str) -> None:
        problems.append(Problem(file, where, msg))

    out: Any = None
    if spec.kind == "quantity":
        try:
            out = parse_quantity(value, unit if unit is not None else spec.unit)
        except UnitError as err:
            fail(str(err))
    elif spec.kind == "str":
        if not isinstance(value, str):
            fail(f"expected a string, got {brief(value)}")
        elif spec.choices and value not in spec.choices:
            fail(
                f"{brief(value)} is not one of {', '.join(spec.choices)}"
                f"{_nearest(value, spec.choices)}"
            )
        else:
            out = value
    elif spec.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            fail(f"expected an integer, got {brief(value)}")
        elif abs(value) > INT_LIMIT:
            fail(f"{brief(value)} is out of range: integers here are within ±{INT_LIMIT}")
        else:
            out = value
    elif spec.kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            fail(f"expected a number, got {brief(value)}")
        elif not math.isfinite(value):
            fail(f"expected a finite number, got {brief(value)}")
        else:
            out = float(value)
    elif spec.kind == "bool":
        if not isinstance(value, bool):
            fail(f"expected true or false, got {brief(value)}")
        else:
            out = value
    elif spec.kind == "list":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            fail(f"expected a list of strings, got {brief(value)}")
        else:
            out = tuple(value)
    elif spec.kind == "table":
        if not isinstance(value, dict):
            fail(f"expected a table of name = number, got {brief(value)}")
        else:
            out = {}
            for k, v in value.items():
                if (
                    isinstance(v, bool)
                    or not isinstance(v, int | float)
                    or not 0 < v <= TABLE_LIMIT
                ):
                    fail(f"'{k}' must be a positive number up to {TABLE_LIMIT:g}, got {brief(v)}")
                else:
                    out[k] = float(v)
    elif spec.kind == "options":
        if not isinstance(value, dict) or not all(
            isinstance(v, str | int | bool) or (isinstance(v, float) and math.isfinite(v))
            for v in value.values()
        ):
            fail(f"expected a table of PETSc option = value, got {brief(value)}")
        else:
            out = dict(value)
    if len(problems) > bad or out is None:
        return None
    if isinstance(out, int | float) and not isinstance(out, bool):
        if spec.positive and not out > 0:
            fail(f"must be positive, got {brief(value)}")
        elif spec.nonnegative and out < 0:
            fail(f"must not be negative, got {brief(value)}")
        elif spec.maximum is not None and out > spec.maximum:
            fail(f"must be at most {spec.maximum:g}, got {brief(value)}")
    return out


def _read_section(
    cls: type,
    raw: Any,
    where: str,
    file: str,
    problems: list[Problem],
    units: Mapping[str, str] | None = None,
) -> dict[str, Any] | None:
    """Values of one section (or array entry), defaults filled; None if not a table."""
    if not isinstance(raw, dict):
        problems.append(Problem(file, where, f"expected a table, got {brief(raw)}"))
        return None
    specs = keys_of(cls)
    for name in raw:
        if name not in specs:
            problems.append(Problem(file, f"{where}.{name}", f"unknown key{_nearest(name, specs)}"))
    values: dict[str, Any] = {}
    for name, spec in specs.items():
        unit = (units or {}).get(name)
        if name in raw:
            values[name] = _read_value(spec, raw[name], f"{where}.{name}", file, problems, unit)
        elif spec.default is REQUIRED:
            problems.append(Problem(file, f"{where}.{name}", "required key is missing"))
            values[name] = None
        elif spec.default is None:
            values[name] = (
                {} if spec.kind in ("table", "options") else (() if spec.kind == "list" else None)
            )
        else:
            values[name] = _read_value(spec, spec.default, f"{where}.{name}", file, problems)
    return values


def case_from_dict(raw: Mapping[str, Any], file: str = "<dict>") -> Case:
    """Build and validate a case from TOML-like data (see :func:`load_case`).

    Raises:
        CaseError: every problem found.
    """
    raw = copy.deepcopy(dict(raw))
    problems: list[Problem] = []
    for sec in raw:
        if sec not in SECTIONS and sec not in ARRAYS:
            problems.append(
                Problem(file, sec, f"unknown section{_nearest(sec, list(SECTIONS) + list(ARRAYS))}")
            )
    if "case" not in raw:
        problems.append(Problem(file, "case.name", "required key is missing"))
    sections: dict[str, Any] = {}
    for sec, cls in SECTIONS.items():
        vals = _read_section(cls, raw.get(sec, {}), sec, file, problems)
        sections[sec] = vals
    species_vals = _read_array("species", Species, raw, file, problems)
    wall_vals = _read_array("walls", Wall, raw, file, problems)
    phases = {str(s.get("name")): s.get("phase") for s in species_vals}
    reaction_vals = []
    for i, entry in enumerate(_entries("reactions", raw, file, problems)):
        label = _label("reactions", entry, i)
        units = _expected_rate_units(entry, phases) if isinstance(entry, dict) else None
        if isinstance(entry, dict) and units is None:
            problems.append(
                Problem(
                    file,
                    f"{label}.rate_constant",
                    "cannot check units: fix 'where' and 'orders' first",
                )
            )
            units = {}
        before = len(problems)
        vals = _read_section(Reaction, entry, label, file, problems, units)
        if any(p.key.endswith(("reactants", "products", "orders")) for p in problems[before:]):
            # the rate units follow the orders: one problem, not a second about units
            problems[before:] = [p for p in problems[before:] if "rate_constant" not in p.key]
        if vals is not None:
            reaction_vals.append(vals)
    if problems:
        raise CaseError(problems)
    case = Case(
        **{sec: cls(**sections[sec]) for sec, cls in SECTIONS.items()},
        species=tuple(Species(**v) for v in species_vals),
        reactions=tuple(Reaction(**v) for v in reaction_vals),
        walls=tuple(Wall(**v) for v in wall_vals),
        source=file,
    )
    from confine.validate import check_case  # the cross-key rules

    problems = check_case(case)
    if problems:
        raise CaseError(problems)
    return case


def _entries(arr: str, raw: Mapping[str, Any], file: str, problems: list[Problem]) -> list[Any]:
    entries = raw.get(arr, [])
    if not isinstance(entries, list):
        problems.append(Problem(file, arr, f"expected an array of tables [[{arr}]]"))
        return []
    return entries


def _label(arr: str, entry: Any, i: int) -> str:
    name = entry.get("name") if isinstance(entry, dict) else None
    return f"{arr}.{name}" if isinstance(name, str) else f"{arr}[{i}]"


def _read_array(
    arr: str, cls: type, raw: Mapping[str, Any], file: str, problems: list[Problem]
) -> list[dict[str, Any]]:
    out = []
    for i, entry in enumerate(_entries(arr, raw, file, problems)):
        vals = _read_section(cls, entry, _label(arr, entry, i), file, problems)
        if vals is not None:
            out.append(vals)
    return out


# --------------------------------------------------------------------------- rate units
_BASE_RATE = {"layer": "mol/(m^3*s)", "electrolyte": "mol/(m^3*s)", "surface": "mol/(m^2*s)"}


def _order_sum(orders: Mapping[str, Any], phases: Mapping[str, Any]) -> float | None:
    total = 0.0
    for name, order in orders.items():
        if isinstance(order, bool) or not isinstance(order, int | float):
            return None
        if not math.isfinite(order):
            return None
        if name == SOLVENT or phases.get(name) == "adsorbed":
            continue  # solvent activity 1; coverages are dimensionless
        total += float(order)
    return total


@functools.lru_cache(maxsize=1024)  # every case load asks for the same few
def _unit_for(base: str, order: float) -> str:
    ureg = registry()
    dims: Any = (
        ureg.Quantity(1.0, parse_unit(base)) / ureg.Quantity(1.0, parse_unit("mol/m^3")) ** order
    )
    return f"{dims.to_base_units().units:~C}".replace("**", "^") or "1"


def _expected_rate_units(entry: Mapping[str, Any], phases: Mapping[str, Any]) -> dict[str, str]:
    """Units of the rate constants implied by 'where' and the orders of each direction."""
    where = entry.get("where", "layer")
    base = _BASE_RATE.get(where) if isinstance(where, str) else None
    if base is None:
        return {"rate_constant": "mol/(m^3*s)", "backward_rate_constant": "mol/(m^3*s)"}
    fwd = entry.get("orders") or entry.get("reactants") or {}
    bwd = entry.get("backward_orders") or entry.get("products") or {}
    if not isinstance(fwd, dict) or not isinstance(bwd, dict):
        return {"rate_constant": base, "backward_rate_constant": base}
    nf, nb = _order_sum(fwd, phases), _order_sum(bwd, phases)
    return {
        "rate_constant": _unit_for(base, nf or 0.0),
        "backward_rate_constant": _unit_for(base, nb or 0.0),
    }


def _rate_units(r: Reaction, case: Case) -> dict[str, str]:
    phases = {s.name: s.phase for s in case.species}
    return _expected_rate_units(
        {
            "where": r.where,
            "orders": r.orders or r.reactants,
            "backward_orders": r.backward_orders or r.products,
        },
        phases,
    )


def forward_orders(r: Reaction) -> dict[str, float]:
    """Orders of the forward step (declared, else the reactant coefficients)."""
    return dict(r.orders) if r.orders else dict(r.reactants)


def backward_orders(r: Reaction) -> dict[str, float]:
    """Orders of the backward step (declared, else the product coefficients)."""
    return dict(r.backward_orders) if r.backward_orders else dict(r.products)


def key_reference() -> str:
    """Markdown reference of every case-file key: unit, default, meaning."""
    lines = [
        "# Case-file key reference",
        "",
        "Generated from `confine/case.py` by `confine keys`; quantities are strings with units "
        "(their grammar, and the limits validation applies: docs/limits.md).",
        "",
    ]
    for sec, cls in [*SECTIONS.items(), *(("[" + a + "]", c) for a, c in ARRAYS.items())]:
        lines += [
            f"## [{sec}]",
            "",
            "| key | kind | unit | default | meaning |",
            "|---|---|---|---|---|",
        ]
        for name, spec in keys_of(cls).items():
            default = (
                "required"
                if spec.default is REQUIRED
                else ""
                if spec.default is None
                else f"`{spec.default}`"
            )
            unit = spec.unit or ("per orders" if name.endswith("rate_constant") else "")
            doc = spec.doc + (f" ({' / '.join(spec.choices)})" if spec.choices else "")
            lines.append(f"| `{name}` | {spec.kind} | {unit} | {default} | {doc} |")
        lines.append("")
    return "\n".join(lines)
