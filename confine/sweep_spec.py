"""What a sweep is: its swept parameters, and the points they make (validated cases).

:class:`SweepSpec` is the frozen hand-off from the sweep-file parser
(:mod:`confine.sampling`) to the scheduler (:mod:`confine.sweeps`), the table
and the plots; :meth:`SweepSpec.points` expands it into validated
:class:`Point` cases.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confine.case import Case, CaseError, load_case
from confine.findings import Finding

#: The axis of a sampled sweep's joint samples.
SAMPLE_AXIS = "<samples>"


@dataclass(frozen=True)
class Parameter:
    """One swept case key and the values it takes, in order.

    Attributes:
        key: the dotted case key, e.g. ``"electrode.potential"``.
        values: override values as given to :meth:`Case.replace` (strings with units,
            numbers or strings).
        numbers: the values as numbers in ``unit`` (None where not numeric).
        unit: the unit of the column in the results table ("" for plain numbers,
            None for non-numeric values).
        axis: the axis (zip group) this parameter belongs to.
        sampled: whether the values are samples of a distribution.
    """

    key: str
    values: tuple[Any, ...]
    numbers: tuple[float | None, ...]
    unit: str | None
    axis: str
    sampled: bool = False
    distribution: str | None = None
    dist_args: dict[str, float] = field(default_factory=dict)

    @property
    def column(self) -> str:
        """Column name in the results table, with the unit in brackets."""
        if self.unit is None:
            return self.key
        return f"{self.key} [{self.unit or '1'}]"


@dataclass(frozen=True)
class Point:
    """One point of a sweep: the overrides that make it, and where it sits.

    Attributes:
        index: position in the sweep (row of the results table).
        overrides: dotted key -> value, applied on the base case.
        coords: per axis, the index of this point's value along it.
        case: the resolved, validated case.
        hash: hash of the fully resolved case (names the point's directory).
    """

    index: int
    overrides: dict[str, Any]
    coords: dict[str, int]
    case: Case = field(repr=False)
    hash: str = ""

    def label(self) -> str:
        """``key=value`` pairs, for logs."""
        return " ".join(f"{k}={v}" for k, v in self.overrides.items())


@dataclass(frozen=True)
class SweepSpec:
    """A parsed and validated sweep file.

    Attributes:
        name: sweep name.
        source: the file it came from ("<dict>" otherwise).
        case_path: the base case file.
        fixed: overrides applied to every point.
        parameters: the swept parameters in file order.
        axes: axis names in product order (the last varies fastest).
        warm_axis: the axis run in order with warm starts, or None.
        ranks_per_point: MPI ranks per point under mpiexec.
        sampling: n, seed and method of the sampled axis (empty if none).
        description: one line.
    """

    name: str
    source: str
    case_path: Path
    fixed: dict[str, Any]
    parameters: tuple[Parameter, ...]
    axes: tuple[str, ...]
    warm_axis: str | None
    ranks_per_point: int = 1
    sampling: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def base_case(self) -> Case:
        """The base case with the fixed overrides (validated)."""
        return load_case(self.case_path, set=self.fixed)

    def axis_length(self, axis: str) -> int:
        """Number of values along an axis."""
        return len(next(p for p in self.parameters if p.axis == axis).values)

    def size(self) -> int:
        """Number of points."""
        return math.prod(self.axis_length(a) for a in self.axes) if self.axes else 1

    def points(self, base: Case | None = None) -> list[Point]:
        """Every point with its resolved case, all validated first.

        Raises:
            CaseError: problems of any point (grouped by key and rule, naming the points).
        """
        base = base if base is not None else self.base_case()
        by_axis = {a: [p for p in self.parameters if p.axis == a] for a in self.axes}
        ranges = [range(self.axis_length(a)) for a in self.axes]
        points: list[Point] = []
        failures: dict[tuple[str, str], list[int]] = {}
        for i, idx in enumerate(itertools.product(*ranges)):
            coords = dict(zip(self.axes, idx, strict=True))
            overrides = {p.key: p.values[coords[a]] for a in self.axes for p in by_axis[a]}
            try:
                case = base.replace(**overrides)
            except CaseError as err:
                for prob in err.problems:
                    failures.setdefault((prob.key, prob.message), []).append(i)
                continue
            points.append(Point(i, overrides, coords, case, case.hash()))
        if failures:
            problems = []
            for (key, msg), which in failures.items():
                shown = ", ".join(str(j) for j in which[:8]) + (" ..." if len(which) > 8 else "")
                problems.append(Finding(self.source, key, f"{msg} (point {shown})"))
            raise CaseError(problems)
        return points
