"""The catalyst film a case's particles make on the electrode: its size, pores and sites.

A film of ``catalyst.electrode_loading`` (mass per electrode area) of
identical particles on a flat current collector, under a Nernst diffusion
layer of ``film.diffusion_layer`` δ. Everything here follows from the case's
particle and the [film] keys, before any meshing:

* particles per electrode area n_A = loading / m_p (m_p: one particle's mass,
  :func:`confine.catalyst.particle_mass`);
* film thickness L = n_A V_p / φ with V_p the particle's envelope volume and φ
  the ``packing`` (volume fraction held by particles), or φ = n_A V_p / L when
  the ``thickness`` is given;
* porosity ε = 1 − φ: the electrolyte between particles, the film's transport
  path (the particles' own pores and cavities are the sub-grid model's);
* tortuosity τ = ε^(−1/2) (Bruggeman 1935, Ann. Phys. 416, 636: D_eff = D ε^1.5
  for a bed of spheres), or the ``tortuosity`` given;
* catalytic sites per electrode area n_A N_p, with N_p the sites of one particle
  as its cell counts them (:mod:`confine.two_scale`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from confine.case_data import CaseData
from confine.catalyst import particle_mass


@dataclass(frozen=True)
class FilmGeometry:
    """The film a case's particles make (SI units).

    Attributes:
        particles_per_area: n_A (1/m²).
        particle_volume: V_p, the envelope volume of one particle (m³).
        thickness: L (m).
        packing: φ, volume fraction held by particles.
        porosity: ε = 1 − φ.
        tortuosity: τ.
        diffusion_layer: δ (m).
        particle_diameter: the particle's outer diameter (m).
    """

    particles_per_area: float
    particle_volume: float
    thickness: float
    packing: float
    porosity: float
    tortuosity: float
    diffusion_layer: float
    particle_diameter: float

    @property
    def particles_thick(self) -> float:
        """Film thickness in particle diameters."""
        return self.thickness / self.particle_diameter

    @property
    def transport_factor(self) -> float:
        """ε/τ: effective over free diffusivity (and conductivity) in the film."""
        return self.porosity / self.tortuosity


def is_electrode(case: CaseData) -> bool:
    """Whether the case is an electrode (a film of its particles), not one particle."""
    return case.film.coupling != "none"


def particle_volume(case: CaseData) -> float:
    """Envelope volume of one particle (m³): the ball of its outer diameter."""
    return math.pi / 6.0 * case.geometry.outer_diameter**3


def film_geometry(case: CaseData) -> FilmGeometry:
    """The film of an electrode case (see the module doc).

    Raises:
        ValueError: not a particle, or neither packing nor thickness given, or no
            diffusion layer (:mod:`confine.validate_film` says so per key first).
    """
    film = case.film
    mass = particle_mass(case)  # g
    if mass is None:
        raise ValueError("a film needs particles (geometry.kind hollow-sphere or solid-sphere)")
    if film.diffusion_layer is None:
        raise ValueError("a film needs film.diffusion_layer")
    n_a = case.catalyst.electrode_loading / (mass * 1e-3)  # kg/m² over kg
    v_p = particle_volume(case)
    if film.thickness is not None:
        thickness = film.thickness
        packing = n_a * v_p / thickness
    elif film.packing is not None:
        packing = film.packing
        thickness = n_a * v_p / packing
    else:
        raise ValueError("a film needs film.packing or film.thickness")
    porosity = 1.0 - packing
    tau = film.tortuosity
    if tau is None:
        tau = porosity**-0.5 if porosity > 0 else math.inf
    return FilmGeometry(
        particles_per_area=n_a,
        particle_volume=v_p,
        thickness=thickness,
        packing=packing,
        porosity=porosity,
        tortuosity=tau,
        diffusion_layer=film.diffusion_layer,
        particle_diameter=case.geometry.outer_diameter,
    )
