"""Rules of an electrode case's [film], checked before any meshing.

A film is made of the case's particles (a particle kind); its thickness or
packing is given (one of them), and with the loading it must give a porosity
in (0, 1) and a film at least one particle thick; the diffusion layer is given
and not thinner than the film; its potential model is one the film scale has
(no resolved double layers over micrometres). Film keys without a coupling are
a mistake worth one line too.
"""

from __future__ import annotations

from confine.case_data import CaseData
from confine.film import film_geometry, is_electrode
from confine.findings import Finding

#: Potential models a film is solved with (double layers are the particle's business).
FILM_POTENTIAL_MODELS = ("none", "secondary", "electroneutral")
_KEYS = ("packing", "thickness", "tortuosity", "diffusion_layer")
UM = 1e-6


def check_film(case: CaseData) -> list[Finding]:
    """Problems of the [film] section (empty when it is valid or absent)."""
    film, f = case.film, case.source
    if not is_electrode(case):
        given = [k for k in _KEYS if getattr(film, k) is not None]
        if given:
            return [
                Finding(
                    f,
                    f"film.{given[0]}",
                    "set, but film.coupling is 'none' (one particle in its bath): "
                    'set film.coupling = "effectiveness" for an electrode, or drop the key',
                )
            ]
        return []
    out: list[Finding] = []

    def err(key: str, msg: str) -> None:
        out.append(Finding(f, key, msg))

    if case.geometry.kind not in ("hollow-sphere", "solid-sphere"):
        err(
            "film.coupling",
            "a film is made of particles: it needs geometry.kind hollow-sphere or "
            f"solid-sphere, not {case.geometry.kind!r}",
        )
    if (film.packing is None) == (film.thickness is None):
        err(
            "film.packing",
            "give exactly one of film.packing and film.thickness (with the loading, "
            "each sets the other)",
        )
    if film.diffusion_layer is None:
        err("film.diffusion_layer", "required for an electrode (the Nernst layer, e.g. 100 um)")
    if case.electrolyte.potential_model not in FILM_POTENTIAL_MODELS:
        err(
            "electrolyte.potential_model",
            f"'{case.electrolyte.potential_model}' resolves double layers, which a film of "
            f"micrometres cannot: use one of {', '.join(FILM_POTENTIAL_MODELS)}",
        )
    if out:
        return out
    geo = film_geometry(case)
    source = "film.thickness" if film.thickness is not None else "film.packing"
    if not 0.0 < geo.porosity < 1.0:
        err(
            source,
            f"{case.catalyst.electrode_loading * 100:g} mg/cm^2 of these particles in "
            f"{geo.thickness / UM:.4g} um gives a porosity of {geo.porosity:.4g}, outside (0, 1)",
        )
    if geo.thickness < geo.particle_diameter:
        err(
            source,
            f"the film ({geo.thickness / UM:.4g} um) is thinner than one particle "
            f"({geo.particle_diameter / UM:.4g} um): raise the loading "
            "(catalyst.electrode_loading) or lower the packing",
        )
    if geo.diffusion_layer < geo.thickness:
        err(
            "film.diffusion_layer",
            f"{geo.diffusion_layer / UM:.4g} um is thinner than the film "
            f"({geo.thickness / UM:.4g} um)",
        )
    return out
