"""Pore lattice on the particle: how many radial pores, where, and how close.

Radial cylinders of constant diameter crowd together toward the cavity, so the
lattice is set where it binds, at the cavity radius R_c. The carbon wall
between two pores whose axes make an angle Δθ is measured there as the chord
between the axes minus one pore diameter: w = 2 R_c sin(Δθ/2) − d. Pore
directions (:func:`pore_directions`) are a Fibonacci lattice on the unit
sphere relaxed by short-range repulsion: its smallest spacing rises from
0.81 to about 0.91 of the ideal hexagonal pitch (a sphere cannot be tiled by
hexagons: the twelve defects keep it below 1), and that smallest spacing sets
the smallest wall. Pure numpy/scipy, deterministic: validation and the
builders call the same function, so they agree on the point set.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

GOLDEN_ANGLE = math.pi * (3.0 - math.sqrt(5.0))


def fibonacci_directions(n: int) -> np.ndarray:
    """Unit vectors of an ``n``-point Fibonacci lattice on the sphere, shape (n, 3)."""
    if n < 1:
        raise ValueError("pore count must be at least 1")
    if n == 1:
        return np.array([[0.0, 0.0, 1.0]])
    i = np.arange(n, dtype=float)
    z = 1.0 - (2.0 * i + 1.0) / n
    rho = np.sqrt(np.clip(1.0 - z * z, 0.0, None))
    phi = GOLDEN_ANGLE * i
    return np.column_stack([rho * np.cos(phi), rho * np.sin(phi), z])


#: Relaxation: iterations, step (× pitch), repulsion exponent, neighbours per point,
#: iterations between neighbour-list refreshes.
RELAX_ITERATIONS = 200
RELAX_REFRESH = 10
RELAX_STEP = 0.1
RELAX_EXPONENT = 12.0
RELAX_NEIGHBOURS = 6


@functools.lru_cache(maxsize=128)
def _relaxed(n: int) -> np.ndarray:
    x = fibonacci_directions(n)
    if n < 3:
        return x
    pitch = math.sqrt(8.0 * math.pi / (math.sqrt(3.0) * n))
    nbr = np.zeros((n, 0), dtype=int)
    for it in range(RELAX_ITERATIONS):
        if it % RELAX_REFRESH == 0:  # neighbours change slowly: refresh them now and then
            _, nbr = cKDTree(x).query(x, k=RELAX_NEIGHBOURS + 1)
            nbr = nbr[:, 1:]
        diff = x[:, None, :] - x[nbr]
        dist = np.linalg.norm(diff, axis=2)
        weight = (pitch / dist) ** (RELAX_EXPONENT + 1.0)
        force = (diff / dist[..., None] * weight[..., None]).sum(axis=1)
        force -= (force * x).sum(axis=1)[:, None] * x  # tangential
        scale = float(np.linalg.norm(force, axis=1).max())
        if scale == 0.0:
            break
        x = x + RELAX_STEP * pitch * (1.0 - it / RELAX_ITERATIONS) * force / scale
        x /= np.linalg.norm(x, axis=1)[:, None]
    x.setflags(write=False)
    return x


def pore_directions(n: int) -> np.ndarray:
    """Unit vectors of the ``n`` pore axes, shape (n, 3): the Fibonacci lattice
    relaxed by short-range repulsion (deterministic; cached)."""
    if n < 1:
        raise ValueError("pore count must be at least 1")
    return _relaxed(n).copy()


def min_angle(directions: np.ndarray) -> float:
    """Smallest angle (rad) between any two of the given unit vectors."""
    if len(directions) < 2:
        return math.pi
    dist, _ = cKDTree(directions).query(directions, k=2)
    chord = float(dist[:, 1].min())
    return 2.0 * math.asin(min(chord / 2.0, 1.0))


def wall_at(angle: float, radius: float, diameter: float) -> float:
    """Carbon wall between two pores at ``radius`` whose axes are ``angle`` apart."""
    return 2.0 * radius * math.sin(angle / 2.0) - diameter


def pore_volume(a: float, r_in: float, r_out: float) -> float:
    """Exact volume of a radial cylinder of radius ``a`` between spheres r_in < r_out."""

    def cap(r: float) -> float:
        return r**3 - (r * r - a * a) ** 1.5

    return 2.0 * math.pi / 3.0 * (cap(r_out) - cap(r_in))


def pore_wall_area(a: float, r_in: float, r_out: float) -> float:
    """Exact lateral area of a radial cylinder of radius ``a`` between two spheres."""
    return 2.0 * math.pi * a * (math.sqrt(r_out**2 - a * a) - math.sqrt(r_in**2 - a * a))


def cone_half_angle(n: int) -> float:
    """Half-angle of the cone whose solid angle is 4π/n (the axisymmetric cell)."""
    return math.acos(1.0 - 2.0 / n)


@dataclass(frozen=True)
class Lattice:
    """The pore lattice of one particle (lengths in the caller's unit)."""

    count: int
    min_wall: float  # smallest wall at the cavity radius (the relaxed lattice)
    mean_wall: float  # wall of the ideal hexagonal lattice of the same count
    porosity: float  # pore volume / shell volume (exact cylinder volumes)


def _hex_pitch(n: int, r: float) -> float:
    # area per pore on the sphere = (√3/2) p²
    return math.sqrt(8.0 * math.pi * r * r / (math.sqrt(3.0) * n))


def lattice_from_count(n: int, r_cavity: float, r_outer: float, d: float) -> Lattice:
    """Lattice of ``n`` pores of diameter ``d`` through the shell [r_cavity, r_outer]."""
    dirs = pore_directions(n)
    shell = 4.0 / 3.0 * math.pi * (r_outer**3 - r_cavity**3)
    return Lattice(
        count=n,
        min_wall=wall_at(min_angle(dirs), r_cavity, d),
        mean_wall=_hex_pitch(n, r_cavity) - d,
        porosity=n * pore_volume(d / 2.0, r_cavity, r_outer) / shell,
    )


def count_from_wall(wall: float, r_cavity: float, d: float) -> int:
    """Largest pore count whose lattice keeps the smallest wall ≥ ``wall``.

    The smallest spacing is not monotone in the count: start from the ideal
    hexagonal count scaled by the spacing ratio the lattice reaches, step down
    until the lattice fits, gallop up while it fits and bisect to a count
    that fits while the next one does not.
    """
    if 2.0 * r_cavity <= d + wall:
        return 1

    def fits(m: int) -> bool:
        return m <= 1 or wall_at(min_angle(pore_directions(m)), r_cavity, d) >= wall

    def ratio(m: int) -> float:
        pitch = math.sqrt(8.0 * math.pi / (math.sqrt(3.0) * m))
        return 2.0 * math.sin(min_angle(pore_directions(m)) / 2.0) / pitch

    n_hex = max(1, int(8.0 * math.pi * r_cavity**2 / (math.sqrt(3.0) * (d + wall) ** 2)))
    n = max(1, int(n_hex * 0.83))
    if n > 2:
        n = max(1, int(n_hex * ratio(n) ** 2))
    step = max(1, n // 100)
    while n > 1 and not fits(n):
        n = max(1, n - step)
    # gallop up while it fits, then bisect between the last fit and the first miss
    miss = n + step
    while fits(miss):
        n, miss = miss, miss + step
    while miss - n > 1:
        mid = (n + miss) // 2
        n, miss = (mid, miss) if fits(mid) else (n, mid)
    return n


def count_from_porosity(porosity: float, r_cavity: float, r_outer: float, d: float) -> int:
    """Pore count giving the shell porosity (volume fraction of pores), rounded."""
    shell = 4.0 / 3.0 * math.pi * (r_outer**3 - r_cavity**3)
    return max(1, round(porosity * shell / pore_volume(d / 2.0, r_cavity, r_outer)))
