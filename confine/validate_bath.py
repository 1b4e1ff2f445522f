"""Cross-key rules of the bath condition and of the ``sphere`` kind.

* ``far-field`` is the condition outside an isolated sphere: it needs a
  particle in a bath (hollow or solid sphere), not a ball of electrolyte.
* ``sphere``: a ball of electrolyte at ``axisymmetric-cell`` or ``full-3d``;
  its catalytic layer is thinner than its radius.
* ``exchange``: every solution species says its ``exchange_coefficient``
  (0 closes the face to it); adsorbates and other bath conditions take none.
* The potential: ``closed`` and ``exchange`` faces neither hold φ nor pass
  current, so a model with φ (``secondary``, ``electroneutral``) would have
  no reference and nowhere for the Faradaic current to go.
"""

from __future__ import annotations

from confine.case_data import CaseData
from confine.findings import Finding


def check_bath(case: CaseData) -> list[Finding]:
    """Problems of the bath condition and the sphere kind (empty when valid)."""
    g, f = case.geometry, case.source
    out: list[Finding] = []
    if g.bath_boundary == "far-field" and g.kind not in ("hollow-sphere", "solid-sphere"):
        out.append(
            Finding(
                f,
                "geometry.bath_boundary",
                "'far-field' is the condition outside an isolated sphere: it needs kind "
                f"hollow-sphere or solid-sphere, not '{g.kind}' (use bulk, closed or exchange)",
            )
        )
    if g.kind == "sphere":
        if g.model not in ("axisymmetric-cell", "full-3d"):
            out.append(
                Finding(
                    f,
                    "geometry.model",
                    f"a sphere is built at axisymmetric-cell or full-3d, not '{g.model}'",
                )
            )
        if g.catalyst == "layer" and g.catalyst_layer >= g.outer_diameter / 2:
            out.append(
                Finding(f, "geometry.catalyst_layer", "layer is thicker than the sphere's radius")
            )
    exchange = g.bath_boundary == "exchange"
    for s in case.species:
        where = f"species.{s.name}.exchange_coefficient"
        if s.exchange_coefficient is not None and not (exchange and s.phase == "solution"):
            why = "an adsorbed species stays on its sites" if exchange else "it is not"
            out.append(
                Finding(f, where, f"applies with geometry.bath_boundary = 'exchange' ({why})")
            )
        elif exchange and s.phase == "solution" and s.exchange_coefficient is None:
            out.append(
                Finding(
                    f,
                    where,
                    "required with geometry.bath_boundary = 'exchange' (0 m/s closes the face "
                    "to this species)",
                )
            )
    model = case.electrolyte.potential_model
    if g.bath_boundary in ("closed", "exchange") and model in ("secondary", "electroneutral"):
        out.append(
            Finding(
                f,
                "electrolyte.potential_model",
                f"'{model}' needs a face that holds φ and passes the current (bath_boundary "
                f"bulk or far-field); a '{g.bath_boundary}' face does neither (use 'none')",
            )
        )
    return out
