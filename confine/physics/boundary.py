"""Exchange with a reservoir through the bath faces (a Robin condition).

``bath_boundary = "exchange"``: each solution species leaves through the bath
faces at N·n = k_i (c_i − c_i,bulk), k_i = ``species.exchange_coefficient``
(m/s), a mass-transfer coefficient to a reservoir held at the bulk
concentrations (inflow k_i (c_i,bulk − c_i)). ``far-field`` is the same
condition with k_i = D_i / R_b: the exact isolated-sphere condition
∂c/∂r = −(c − c_∞)/R_b at the bath radius R_b. In the scaled balance (divided
by D_i c_ref,i, lengths in the mesh unit L) the coefficient is k_i L / D_i.
"""

from __future__ import annotations

from typing import Any

from confine.case import Case

Expr = Any

#: Facet groups that hold the bath condition (a kind has some of them).
BATH_FACES = ("outer_boundary", "end_a", "end_b")


def exchange_coefficients(case: Case) -> dict[str, float]:
    """k_i (m/s) of every solution species exchanged through the bath faces.

    Empty unless ``bath_boundary`` is ``far-field`` or ``exchange``; a species
    with k = 0 (or none given) is left out (its face is closed).

    Raises:
        ValueError: ``far-field`` on a geometry that is not a particle in a bath.
    """
    g = case.geometry
    sol = [s for s in case.species if s.phase == "solution"]
    if g.bath_boundary == "far-field":
        if g.kind not in ("hollow-sphere", "solid-sphere"):
            raise ValueError("bath_boundary = 'far-field' needs a spherical particle")
        r_bath = g.outer_diameter / 2 + g.bath_thickness
        return {s.name: float(s.diffusivity or 0.0) / r_bath for s in sol}
    if g.bath_boundary == "exchange":
        return {
            s.name: float(s.exchange_coefficient)
            for s in sol
            if s.exchange_coefficient is not None and s.exchange_coefficient > 0.0
        }
    return {}


def exchange_form(c_hat: Expr, c_res_hat: Expr, k_hat: float, test: Expr, w: Expr, ds: Any) -> Any:
    """∫ k̂ (ĉ − ĉ_res) v w ds: the scaled outflow through an exchange face.

    Args:
        c_hat: concentration over its reference.
        c_res_hat: reservoir (bulk) concentration over the same reference.
        k_hat: k L / D (k in m/s, L the mesh unit, D the bulk diffusivity).
        test: the species' test function.
        w: the integration weight (2πr when axisymmetric, else 1).
        ds: the measure over the bath faces.
    """
    return k_hat * (c_hat - c_res_hat) * test * w * ds
