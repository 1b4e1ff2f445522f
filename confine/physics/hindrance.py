"""Hindered diffusion of a finite solute in a cylindrical pore.

Both correlations give the diffusive hindrance factor H = Φ·K_d, i.e. the
partition coefficient Φ = (1 − λ)² *included*, with λ = solute radius / pore
radius (carbon wall to axis). The solver uses D_pore = D·H with the
concentration continuous across the pore mouths: the pore field is then the
bulk-equivalent concentration (actual in-pore concentration = Φ × field), and
the pore conductance H·D·A/L is the classical hindered-transport result.
"""

from __future__ import annotations

import math

#: Valid λ range of the Dechadilok–Deen fit (their paper: λ ≤ 0.95).
DECHADILOK_DEEN_MAX_LAMBDA = 0.95


def partition(lam: float) -> float:
    """Steric partition coefficient Φ = (1 − λ)² of a sphere in a cylinder."""
    _check(lam)
    return (1.0 - lam) ** 2 if lam < 1.0 else 0.0


def renkin(lam: float) -> float:
    """Renkin (1954) hindrance factor, partition included.

    H = (1 − λ)² (1 − 2.104 λ + 2.09 λ³ − 0.95 λ⁵).

    Args:
        lam: solute radius / pore radius, in [0, 1).

    Returns:
        H in [0, 1] (0 for λ ≥ 1: the solute does not enter).
    """
    _check(lam)
    if lam >= 1.0:
        return 0.0
    return (1.0 - lam) ** 2 * (1.0 - 2.104 * lam + 2.09 * lam**3 - 0.95 * lam**5)


def dechadilok_deen(lam: float) -> float:
    """Dechadilok & Deen (2006, Ind. Eng. Chem. Res. 45, 6953) hindrance factor.

    H = 1 + 9/8 λ ln λ − 1.56034 λ + 0.528155 λ² + 1.91521 λ³ − 2.81903 λ⁴
    + 0.270788 λ⁵ + 1.10115 λ⁶ − 0.435933 λ⁷ (partition included).

    Args:
        lam: solute radius / pore radius, in [0, 0.95].

    Returns:
        H.

    Raises:
        ValueError: λ outside the fitted range.
    """
    _check(lam)
    if lam > DECHADILOK_DEEN_MAX_LAMBDA:
        raise ValueError(f"Dechadilok-Deen holds for lambda <= 0.95, got {lam:g}")
    if lam == 0.0:
        return 1.0
    c = (-1.56034, 0.528155, 1.91521, -2.81903, 0.270788, 1.10115, -0.435933)
    return 1.0 + 9.0 / 8.0 * lam * math.log(lam) + sum(a * lam ** (i + 1) for i, a in enumerate(c))


def hindrance_factor(model: str, solute_radius: float | None, pore_radius: float) -> float:
    """H for a species in a pore under the case's hindrance model.

    Args:
        model: "none", "renkin" or "dechadilok-deen".
        solute_radius: m (None: a point solute, H = 1).
        pore_radius: m, carbon wall to axis.

    Raises:
        ValueError: unknown model, or a solute that cannot enter the pore.
    """
    if model == "none" or solute_radius is None:
        return 1.0
    lam = solute_radius / pore_radius
    if model == "renkin":
        h = renkin(lam)
    elif model == "dechadilok-deen":
        h = dechadilok_deen(lam)
    else:
        raise ValueError(f"unknown hindrance model {model!r}")
    if h <= 0.0:
        raise ValueError(
            f"solute of radius {solute_radius:g} m cannot enter a pore of radius "
            f"{pore_radius:g} m (lambda = {lam:.3g})"
        )
    return h


def _check(lam: float) -> None:
    if not lam >= 0.0:
        raise ValueError(f"lambda must be >= 0, got {lam!r}")
