"""The quality gate: a converged solve whose checks fail is a failure, never a result.

Newton's convergence test looks at the residual and the steps; it cannot see a
solution that satisfies the discrete equations to round-off and is still wrong
for the question asked (a flux lost to cancellation, a bound crossed, a NaN in a
derived value). After every solve, :func:`assess` reads the metrics and the
fields and returns what failed and by how much; :func:`confine.pipeline.run`
then raises :class:`QualityError` (failure.json, no metrics.json, exit 1).

Checks (``solver.quality_tolerance`` = τ, default 1e-6):

* finite: every number in the metrics document is finite;
* mass balance: each species' relative error (outflow from the assembled
  residual against the integrated stoichiometry, or an adsorbate's net
  production against its gross turnover) is at most τ — over its own turnover
  ``mass_balance_scale_mol_s``, or over f × the largest species' turnover where
  that is larger (:func:`round_off_fraction`: a species made at 1e-34 mol/s
  beside fluxes of 1e-16 mol/s has a balance of round-off alone);
* Faradaic efficiencies: their sum over the declared products is at most
  1 + τ where no species stores a negative electron count (then every
  product's share of the current is positive, and they cannot carry more
  than all of it); in a transient run, plus the share the other species
  release from storage (``stored_current_fraction``: a march's adsorbates
  discharging give the products more than the current at that instant);
* bounds: every concentration at least −:data:`BOUND_TOLERANCE` × its largest
  value, every coverage within [−BOUND_TOLERANCE, 1 + BOUND_TOLERANCE]. The
  tolerance is the one the solver uses to accept a Newton root (P1 Galerkin
  has no discrete maximum principle: a trace species may undershoot zero
  slightly next to a steep layer); beyond it, the step was redone as a
  bounded variational inequality, so a failure here is a solver defect.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from confine.case import Case
from confine.env import import_dolfinx

import_dolfinx()  # MPI is initialised in dolfinx's order
from mpi4py import MPI  # noqa: E402

#: Round-off of a balance in units of the machine epsilon times the largest turnover
#: in its sums: a balance is a difference of sums over the cells whose terms reach
#: the largest fluxes (measured on the study's 4 nm model, 3 cells per pore: K+,
#: which no step makes, leaves 0.56 ε × the largest turnover as outflow; urea,
#: made at 2e-33 mol/s beside 3.4e-16, has an imbalance of 0.006 ε of it).
ROUND_OFF_EPS = 100.0


def round_off_fraction(tol: float, rtol: float) -> float:
    """The fraction f of the largest species' turnover S below which a species'
    balance is judged against f·S instead of its own turnover (at most 1).

    Two resolutions bound what a balance can show. Double precision: an
    imbalance below :data:`ROUND_OFF_EPS` ε·S is round-off, so f ≥ that / τ
    (τ·f·S is the smallest imbalance the gate can flag). The solver: Newton
    resolves each field to ``solver.rtol`` of its size, so a species turning over
    less than rtol·S is finer than the solve was asked to resolve, f ≥ rtol. At
    the defaults (τ = 1e-6, rtol = 1e-10) f = 2.2e-8: a species is judged on its
    own turnover down to 2.2e-8 of the largest, and below it an imbalance fails
    once it exceeds 2.2e-14 S (100 ε S).

    Args:
        tol: ``solver.quality_tolerance`` (τ).
        rtol: ``solver.rtol``.
    """
    eps = float(np.finfo(float).eps)
    return min(1.0, max(rtol, ROUND_OFF_EPS * eps / tol))


#: Relative undershoot of a concentration (and of a coverage below 0 or above 1)
#: accepted as discretisation error; the solver's admissibility test uses it too.
BOUND_TOLERANCE = 1e-3


@dataclass(frozen=True)
class Finding:
    """One failed check: what, of which quantity, the value and the limit."""

    check: str
    subject: str
    value: float
    limit: float

    def __str__(self) -> str:
        value, limit = f"{self.value:.3g}", f"{self.limit:.3g}"
        if value == limit:  # e.g. an FE sum of 1 + 2.4e-6 against 1 + 1e-6: show what differs
            value, limit = f"{self.value:.10g}", f"{self.limit:.10g}"
        return f"{self.check} of {self.subject} is {value} (limit {limit})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "subject": self.subject,
            "value": self.value,
            "limit": self.limit,
        }


class QualityError(RuntimeError):
    """A converged solve failed its quality checks.

    Attributes:
        findings: every failed check.
        history: the residual history of the solve (all Newton iterations).
    """

    def __init__(self, findings: Sequence[Finding], history: Sequence[float] = ()):
        self.findings = list(findings)
        self.history = list(history)
        self.quality = [f.to_dict() for f in self.findings]
        shown = "; ".join(str(f) for f in self.findings[:3])
        more = f" (and {len(self.findings) - 3} more)" if len(self.findings) > 3 else ""
        super().__init__(f"the solution failed its quality checks: {shown}{more}")

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuilt from its arguments where it is unpickled (a pool worker's failure)
        return (type(self), (self.findings, self.history))


def _numbers(node: Any, path: str = "") -> Iterator[tuple[str, float]]:
    """Every number in a metrics document, with its dotted path."""
    if isinstance(node, Mapping):
        for k, v in node.items():
            yield from _numbers(v, f"{path}.{k}" if path else str(k))
    elif isinstance(node, list | tuple):
        for i, v in enumerate(node):
            yield from _numbers(v, f"{path}[{i}]")
    elif isinstance(node, float | int) and not isinstance(node, bool):
        yield path, float(node)


def _value(entry: Any) -> Any:
    return entry.get("value") if isinstance(entry, Mapping) else entry


def assess(case: Case, metrics: Mapping[str, Any], fields: FieldBounds | None) -> list[Finding]:
    """The failed checks of one solve (empty: the run is trustworthy).

    Args:
        case: the case solved (its ``solver.quality_tolerance``).
        metrics: what :func:`confine.metrics.compute_metrics` returned.
        fields: the extremes of the solved fields (:func:`field_bounds`), or None.
    """
    tol = case.solver.quality_tolerance
    found: list[Finding] = []
    for path, x in _numbers(metrics):
        if not math.isfinite(x):
            found.append(Finding("finite value", path, x, math.inf))
    found += _mass_balance(metrics.get("species") or {}, tol, case.solver.rtol)
    found += _faradaic(metrics, tol)
    if fields is not None:
        found += fields.findings()
    return found


def judged_mass_balances(species: Mapping[str, Any], tol: float, rtol: float) -> dict[str, float]:
    """Each reacting species' relative imbalance as the gate judges it: over its own
    turnover, or over :func:`round_off_fraction` × the largest species' turnover where
    that is larger (a document without ``mass_balance_scale_mol_s``: over its own)."""
    scales = {n: _value(e.get("mass_balance_scale_mol_s")) for n, e in species.items()}
    known = [float(s) for s in scales.values() if s is not None and math.isfinite(s)]
    floor = round_off_fraction(tol, rtol) * max(known, default=0.0)
    out: dict[str, float] = {}
    for name, entry in species.items():
        err = _value(entry.get("mass_balance_relative_error"))
        if err is None:
            continue
        own = scales[name]
        if own is not None and 0.0 < own < floor and math.isfinite(err):
            err = err * own / floor  # the same imbalance over the round-off scale
        out[name] = float(err)
    return out


def _mass_balance(species: Mapping[str, Any], tol: float, rtol: float) -> list[Finding]:
    """Each reacting species' judged imbalance (:func:`judged_mass_balances`) at most
    ``tol``."""
    return [
        Finding("mass balance", name, err, tol)
        for name, err in judged_mass_balances(species, tol, rtol).items()
        if not err <= tol  # NaN fails too
    ]


def _faradaic(metrics: Mapping[str, Any], tol: float) -> list[Finding]:
    """Summed FE of the products at most 1 + tol, where every electron count is ≥ 0 (plus
    what the other species release from storage in a transient run)."""
    products = metrics.get("products") or {}
    counts = [_value(p.get("electrons_per_molecule")) for p in products.values()]
    if any(c is not None and c < 0 for c in counts):
        return []
    total = 0.0
    for p in products.values():
        fe = _value(p.get("faradaic_efficiency"))
        if fe is not None:
            total += float(fe)
    released = -min(0.0, float(_value(metrics.get("stored_current_fraction")) or 0.0))
    if total > 1.0 + released + tol:
        limit = 1.0 + released + tol
        return [Finding("summed Faradaic efficiency", "declared products", total, limit)]
    return []


@dataclass(frozen=True)
class FieldBounds:
    """Global extremes of the solved fields (gathered over ranks).

    Attributes:
        concentration: species -> (min, max) of c / c_ref over the nodes.
        coverage: adsorbate -> (min, max) of θ over the catalyst's nodes.
    """

    concentration: dict[str, tuple[float, float]]
    coverage: dict[str, tuple[float, float]]

    def findings(self, tol: float = BOUND_TOLERANCE) -> list[Finding]:
        """The bounds crossed by more than ``tol`` (a NaN extreme crosses them too)."""
        out = []
        for name, (lo, hi) in self.concentration.items():
            scale = max(abs(hi), abs(lo))
            if not lo >= -tol * scale:
                rel = lo / scale if scale > 0 else lo
                out.append(Finding("relative undershoot below 0", name, rel, -tol))
        for name, (lo, hi) in self.coverage.items():
            if not lo >= -tol:
                out.append(Finding("coverage below 0", name, lo, -tol))
            if not hi <= 1.0 + tol:
                out.append(Finding("coverage above 1", name, hi, 1.0 + tol))
        return out


def field_bounds(problem: Any, comm: Any) -> FieldBounds:
    """The extremes of a solved problem's unknowns (collective).

    Args:
        problem: a :class:`confine.fem.model.Model` holding the solution.
        comm: its communicator.
    """
    theta = problem.theta.x.array if problem.theta is not None else None
    return bounds_of(problem.scaled_values(), problem.unknowns, theta, problem.adsorbed, comm)


def bounds_of(
    values: np.ndarray,
    unknowns: Sequence[str],
    theta: np.ndarray | None,
    adsorbed: Sequence[str],
    comm: Any,
) -> FieldBounds:
    """Global extremes of c/c_ref (one column per unknown; φ skipped) and of each
    coverage (``theta``: interleaved per node, or None), gathered over ranks."""
    names = [n for n in unknowns if n != "phi"]
    cols = [list(unknowns).index(n) for n in names]
    conc = dict(zip(names, _extremes(values[:, cols], comm), strict=True))
    cov = {}
    if theta is not None:
        th = theta.reshape(-1, len(adsorbed))
        cov = dict(zip(adsorbed, _extremes(th, comm), strict=True))
    return FieldBounds(conc, cov)


def _extremes(columns: np.ndarray, comm: Any) -> list[tuple[float, float]]:
    """(min, max) of every column over all ranks."""
    lo = columns.min(axis=0, initial=np.inf)
    hi = columns.max(axis=0, initial=-np.inf)
    glo, ghi = np.empty_like(lo), np.empty_like(hi)
    comm.Allreduce(lo, glo, op=MPI.MIN)
    comm.Allreduce(hi, ghi, op=MPI.MAX)
    return [(float(a), float(b)) for a, b in zip(glo, ghi, strict=True)]
