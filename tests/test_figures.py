"""Figure styling without a run: palette, tick labels, relative colour scales, coverage masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from confine.figures import CATALYST_TAGS, Plane, hidden, render_field, shown_points
from confine.geometry.groups import CELL_GROUPS
from confine.plot_style import PALETTE, colour_scale, series_style, tick_labels


def test_the_palette_has_15_distinct_colours_and_series_differ() -> None:
    assert len(PALETTE) >= 15
    assert len({c.lower() for c in PALETTE[:15]}) == 15
    styles = {(s["color"], s["marker"]) for s in map(series_style, range(15))}
    assert len(styles) == 15


def test_near_constant_field_gets_a_relative_scale_with_distinct_ticks() -> None:
    co2 = 0.034 * (1.0 - np.linspace(0.0, 5e-5, 50))  # varies by 0.005 %
    scale = colour_scale(co2, "c(CO2)", "mol/L", reference=0.034)
    assert scale.relative
    assert "c_bulk − 1" in scale.label and "0.034 mol/L" in scale.title
    lo, hi = float(scale.values.min()), float(scale.values.max())
    assert 0.5 <= max(abs(lo), abs(hi)) < 10.0  # scaled by a power of ten shown in the label
    ticks = np.linspace(lo, hi, 6)
    labels = tick_labels(ticks)
    assert len(set(labels)) == len(labels)
    # the absolute ticks of the old figure ("0.034" five times) are told apart as well
    absolute = tick_labels(np.linspace(0.0339983, 0.034, 5))
    assert len(set(absolute)) == 5 and "0.034" in absolute[-1]


def test_a_field_that_varies_keeps_its_absolute_scale() -> None:
    scale = colour_scale(np.linspace(1e-6, 1e-5, 10), "c(urea)", "mol/L")
    assert not scale.relative and scale.label == "c(urea) [mol/L]"
    assert colour_scale(np.linspace(1e-9, 1e-5, 10), "c(OH-)", "mol/L", log=True).log
    phi = colour_scale(np.linspace(-2.5e-5, -5e-6, 10), "φ", "V")
    assert phi.label == "φ [µV]" and phi.values.min() == pytest.approx(-25.0)


def test_tick_labels_drop_needless_digits() -> None:
    assert tick_labels([0.0, 0.5, 1.0]) == ["0.0", "0.5", "1.0"]
    assert tick_labels([-1e-19, 1.0, 2.0]) == ["0", "1", "2"]
    assert tick_labels([2.0, 4.0, 6.0]) == ["2", "4", "6"]


def _two_regions() -> Plane:
    """A layer triangle (coverage 0.3-0.4) beside a bath triangle (coverage painted 0)."""
    x = np.array([0.0, 1.0, 0.0, 1.0, 2.0, 1.0])
    y = np.array([0.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    tris = np.array([[0, 1, 2], [3, 4, 5]])
    tags = np.array([CELL_GROUPS["pore_layer"], CELL_GROUPS["bath"]])
    theta = np.array([0.3, 0.35, 0.4, 0.0, 0.0, 0.0])
    return Plane(x, y, tris, tags, {"*H": theta})


def test_a_coverage_map_masks_the_cells_off_the_catalyst(tmp_path: Path) -> None:
    plane = _two_regions()
    mask = hidden(plane, CATALYST_TAGS)
    assert mask.tolist() == [False, True]  # the bath triangle is not drawn
    shown = shown_points(plane, mask)
    assert sorted(shown.tolist()) == [0, 1, 2]
    scale = colour_scale(plane.data["*H"][shown], "θ(*H)", "fraction of sites")
    assert scale.values.min() == pytest.approx(0.3)  # the painted 0 sets no colour
    assert not hidden(plane, None).any()
    pytest.importorskip("matplotlib")
    spread = render_field(
        plane, "*H", tmp_path / "H.png", unit="fraction of sites", live_tags=CATALYST_TAGS
    )
    assert spread > 0 and (tmp_path / "H.png").stat().st_size > 5_000
