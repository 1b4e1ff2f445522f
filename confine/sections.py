"""The [section] tables of a case file: one frozen dataclass per table.

Each field carries its :class:`~confine.schema.Key` (kind, unit, default,
limits); the reader (:mod:`confine.case_reader`), the rules
(:mod:`confine.validate`), the resolved-TOML writer and the key reference all
read the same specs. The [[array]] entries are in :mod:`confine.entries`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confine.schema import REQUIRED, key

GEOMETRY_KINDS = ("hollow-sphere", "solid-sphere", "sphere", "planar", "cylinder-pore")
MODELS = ("axisymmetric-cell", "sector-3d", "full-3d", "1d", "2d", "3d")
PARTICLE_MODELS = ("axisymmetric-cell", "sector-3d", "full-3d")
FILM_COUPLINGS = ("none", "effectiveness")
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
    layer_fluid_fraction: float | None = key(
        "float",
        "volume fraction of the layer in which homogeneous reactions run (default: "
        "layer_porosity; a film adds the electrolyte inside its particles)",
        positive=True,
        maximum=1.0,
    )


@dataclass(frozen=True, kw_only=True)
class Film:
    """[film]: the catalyst film on the electrode and the Nernst diffusion layer outside it.

    With ``coupling = "effectiveness"`` the case is an electrode: a 1D film of
    ``catalyst.electrode_loading`` worth of these particles, solved with the
    particle cell as its sub-grid model (see :mod:`confine.film`).
    """

    coupling: str = key(
        "str",
        "electrode model: none (one particle in its bath) or effectiveness (a 1D film of "
        "particles whose volumetric rates are the particle cell's, via effectiveness "
        "factors, across a Nernst diffusion layer)",
        default="none",
        choices=FILM_COUPLINGS,
    )
    packing: float | None = key(
        "float",
        "volume fraction of the film held by particles (their outer envelope); with the "
        "loading it sets the film thickness (give packing or thickness)",
        positive=True,
    )
    thickness: float | None = key(
        "quantity",
        "film thickness; with the loading it sets the packing (give packing or thickness)",
        unit="um",
        positive=True,
    )
    tortuosity: float | None = key(
        "float",
        "tortuosity of the pores between particles (default: Bruggeman, porosity^-1/2)",
        positive=True,
    )
    diffusion_layer: float | None = key(
        "quantity",
        "Nernst diffusion-layer thickness between the film's outer face and the bulk",
        unit="um",
        positive=True,
    )
    effectiveness_at: str = key(
        "str",
        "where the particle's effectiveness factors are taken: film (the particle in the "
        "film's own composition and potential at mid-depth, iterated with the film) or "
        "bulk (the particle in the bulk electrolyte: one particle solve)",
        default="film",
        choices=("film", "bulk"),
    )
    cells_across_film: int = key("int", "mesh cells across the film", default=40, positive=True)
    cells_across_diffusion_layer: int = key(
        "int",
        "mesh cells across the diffusion layer (graded from the film)",
        default=40,
        positive=True,
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
    until: str | None = key(
        "str",
        "transient: march until end_time (unset: so), or until steady state: 'steady' "
        "(pseudo-transient continuation: steps from time_step that grow as the steady "
        "residual falls, until it has fallen by 1e-6 from the start (or below atol) or a "
        "step changes no field by rtol; no end_time)",
        choices=("end_time", "steady"),
    )
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
    lumped_reactions: bool = key(
        "bool",
        "reaction terms integrated at the vertices (mass-lumped): a monotone discretisation "
        "where fast homogeneous reactions are not resolved by the cells (a film's "
        "micrometre cells); electrode films set it",
        default=False,
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
    start: str = key(
        "str",
        "where a steady solve starts: bulk (the rate continuation from the bulk state) or "
        "axisymmetric-cell (a hollow sphere's sector-3d or full-3d model: the same case is "
        "first solved on its axisymmetric cell, that solution is mapped onto this mesh by "
        "radius and distance from the nearest pore axis, and Newton starts there; where "
        "the cell or that Newton fails, or its state fails the quality checks, the "
        "continuation from the bulk): a few Newton steps on the large 3D meshes",
        default="bulk",
        choices=("bulk", "axisymmetric-cell"),
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
