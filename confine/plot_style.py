"""How every figure looks: a colour-blind-safe palette, markers, tick labels, colour scales.

No plotting library is imported here: these are the numbers and strings the
figure modules (:mod:`confine.figures`, :mod:`confine.profiles`,
:mod:`confine.sweep_plots`) share.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: 15 distinct colour-blind-safe colours: Okabe & Ito's 8 and 7 of Paul Tol's muted scheme
#: (Okabe-Ito's yellow last: it is weak on white).
PALETTE: tuple[str, ...] = (
    "#000000",  # black (Okabe-Ito)
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#009E73",  # bluish green
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#332288",  # indigo (Tol muted)
    "#CC6677",  # rose
    "#117733",  # green
    "#882255",  # wine
    "#44AA99",  # teal
    "#999933",  # olive
    "#AA4499",  # purple
    "#F0E442",  # yellow (Okabe-Ito's, last: weak on white)
)

#: Markers cycled with the colours, so series stay apart in grey print too.
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h", "*", "p", "d")

#: Line styles for series beyond the palette.
LINESTYLES: tuple[str, ...] = ("-", "--", ":", "-.")


def series_style(i: int) -> dict[str, str]:
    """Colour, marker and line style of the ``i``-th series (distinct for i < 15 * 4)."""
    return {
        "color": PALETTE[i % len(PALETTE)],
        "marker": MARKERS[i % len(MARKERS)],
        "linestyle": LINESTYLES[i // len(PALETTE) % len(LINESTYLES)],
    }


def tick_labels(ticks: Sequence[float]) -> list[str]:
    """Labels of ``ticks`` with as few significant digits as keep them distinct.

    ``[0.03401, 0.03402, 0.03403]`` gives ``["0.03401", "0.03402", "0.03403"]``,
    never ``"0.034"`` three times. Plain decimals between 1e-3 and 1e5, else one
    mantissa width for all (``2.0e-06``, ``2.4e-06``).
    """
    values = [float(t) for t in ticks]
    scale = max((abs(v) for v in values), default=0.0)
    fixed = 1e-3 <= scale < 1e5  # plain decimals read best in this range
    for digits in range(13):
        labels = [_label(v, digits, scale, fixed) for v in values]
        if len(set(labels)) == len(labels):
            return labels
    return [repr(v) for v in values]


def _label(v: float, digits: int, scale: float, fixed: bool) -> str:
    if scale > 0 and abs(v) < scale * 1e-12:
        v = 0.0  # a tick at zero among larger ones, not 1e-18
    if v == 0.0 and not fixed:
        return "0"
    text = f"{v:.{digits}f}" if fixed else f"{v:.{digits}e}"
    return text[1:] if text.startswith("-") and text.strip("-0.") == "" else text


@dataclass(frozen=True)
class ColourScale:
    """What a map colours by: the values shown and the colour-bar label.

    Attributes:
        values: the numbers to colour by (the field, or its relative deviation).
        label: the colour bar's label, with its unit.
        title: the map's title, with its unit (and the reference of a relative scale).
        relative: True when ``values`` are ``(c / c_ref - 1) * 10**-exponent``.
        log: a logarithmic colour scale.
    """

    values: np.ndarray
    label: str
    title: str
    relative: bool = False
    log: bool = False


#: A field that varies by less than this fraction of its size is shown relative to a reference.
RELATIVE_BELOW = 0.01


def colour_scale(
    values: np.ndarray,
    quantity: str,
    unit: str,
    *,
    reference: float | None = None,
    reference_name: str = "c_bulk",
    log: bool = False,
) -> ColourScale:
    """How to colour a field: absolute, logarithmic, or relative when it varies by < 1 %.

    Args:
        values: the field's values where it is drawn.
        quantity: its symbol in the label, e.g. ``"c(CO2)"``.
        unit: its unit, e.g. ``"mol/L"``.
        reference: the value a relative scale divides by (default: the largest value).
        reference_name: the reference's symbol in the label.
        log: allow a log scale (used when the positive values span over a factor 100).
    """
    v = np.asarray(values, dtype=float)
    finite = v[np.isfinite(v)]
    if finite.size == 0:
        return ColourScale(v, f"{quantity} [{unit}]", f"{quantity} [{unit}]")
    lo, hi = float(finite.min()), float(finite.max())
    size = max(abs(lo), abs(hi))
    if lo > 0 and size > 0 and (hi - lo) < RELATIVE_BELOW * size:
        ref = float(reference) if reference and reference > 0 else hi
        rel = v / ref - 1.0
        spread = float(np.nanmax(np.abs(rel))) if np.any(np.isfinite(rel)) else 0.0
        exponent = min(math.floor(math.log10(spread)), 0) if spread > 0 else 0
        factor = f" [$10^{{{exponent}}}$]" if exponent else " [-]"
        label = f"{quantity} / {reference_name} − 1{factor}"
        title = f"{quantity} relative to {reference_name} = {ref:.4g} {unit}"
        return ColourScale(rel / 10.0**exponent, label, title, relative=True)
    if unit == "V" and 0 < size < 1.0:  # a potential drop of mV or µV: say it in those
        multiple, unit = (1e3, "mV") if size >= 1e-3 else (1e6, "µV")
        return ColourScale(v * multiple, f"{quantity} [{unit}]", f"{quantity} [{unit}]")
    positive = finite[finite > 0]
    use_log = bool(log and lo > 0 and positive.size and positive.max() / positive.min() > 100)
    return ColourScale(v, f"{quantity} [{unit}]", f"{quantity} [{unit}]", log=use_log)


def nice_length(span: float) -> float:
    """A round length (1, 2 or 5 × 10^k) of about a fifth of ``span``, for a scale bar."""
    if span <= 0:
        return 1.0
    target = span / 5.0
    power = 10.0 ** math.floor(math.log10(target))
    for step in (5.0, 2.0, 1.0):
        if step * power <= target:
            return step * power
    return power
