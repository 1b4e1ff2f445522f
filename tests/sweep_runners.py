"""A small, honest, fast runner for sweep and fit tests (stands in for confine.pipeline.run).

:class:`ShellRunner` computes closed-form metrics of a case: first-order
consumption of one reactant in the catalytic shell of a hollow sphere, with
Tafel kinetics for electrochemical steps, Renkin hindrance in the pores, a
closed (non-reacting) cavity, and the bulk held at the outer radius. It writes
``metrics.json`` like the real pipeline, records each invocation as a file,
and can be made to sleep or fail on chosen points.
"""

from __future__ import annotations

import functools
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confine.case import Case, forward_orders
from confine.geometry.derived import lattice_of
from confine.result import Result
from confine.units import FARADAY, GAS_CONSTANT

ROOT = Path(__file__).resolve().parent.parent
TWO_PATH = ROOT / "tests" / "sweep_cases" / "two-path.toml"


def case_value(case: Case, dotted: str) -> Any:
    """A case value by dotted key (arrays of tables by name), in SI."""
    head, *rest = dotted.split(".")
    if head == "species":
        return getattr(case.species_named(".".join(rest[:-1])), rest[-1])
    if head == "reactions":
        return getattr(case.reaction_named(".".join(rest[:-1])), rest[-1])
    return getattr(getattr(case, head), rest[0])


def renkin(lam: float) -> float:
    """Renkin hindrance factor (partition included) for solute/pore radius ``lam``."""
    if lam >= 1:
        return 0.0
    return (1 - lam) ** 2 * (1 - 2.104 * lam + 2.09 * lam**3 - 0.95 * lam**5)


def _porosity(case: Case) -> float:
    """Shell porosity of the case's pore lattice (cached: the lattice count is not free)."""
    return _porosity_of(case.geometry)


@functools.lru_cache(maxsize=256)
def _porosity_of(geometry: Any) -> float:
    lat = lattice_of(_GeometryOnly(geometry))  # type: ignore[arg-type]  # reads .geometry only
    return lat.porosity if lat is not None else 0.3


@dataclass(frozen=True)
class _GeometryOnly:
    geometry: Any


def shell_metrics(case: Case) -> dict[str, Any]:
    """Closed-form metrics of a case (one reactant, first order in every step)."""
    g = case.geometry
    r_out = g.outer_diameter / 2
    r_in = r_out - g.shell_thickness
    porosity = _porosity(case)
    rp = g.pore_diameter / 2
    core = rp - g.catalyst_layer
    layer_fraction = 1.0 if core < g.layer_fill_core else 1 - (core / rp) ** 2
    reactants = {n for r in case.reactions for n in forward_orders(r)}
    if len(reactants) != 1:
        raise NotImplementedError("ShellRunner: one reactant, first order in every step")
    name = reactants.pop()
    a = case.species_named(name)
    hind = 1.0
    if case.electrolyte.hindrance != "none" and a.radius is not None:
        hind = renkin(a.radius / rp)
    d_eff = (a.diffusivity or 0.0) * porosity * hind
    f_over_rt = FARADAY / (GAS_CONSTANT * case.electrolyte.temperature)
    e = case.electrode.potential
    k = {}
    for r in case.reactions:
        if forward_orders(r) != {name: 1.0}:
            raise NotImplementedError(f"ShellRunner: {r.name} is not first order in {name}")
        tafel = 1.0
        if r.type == "electrochemical":
            tafel = math.exp(-r.transfer_coefficient * f_over_rt * (e - r.reference_potential))
        k[r.name] = r.rate_constant * tafel * porosity * layer_fraction
    k_tot = sum(k.values())
    m = math.sqrt(k_tot / d_eff)
    length = r_out - r_in
    cb = a.bulk
    # u = r c = amp (cosh(m s) + sinh(m s) / (m r_in)), s = r - r_in: zero flux at r_in
    th, x = math.tanh(m * length), m * length
    sech = 2 * math.exp(-x) / (1 + math.exp(-2 * x))
    du = r_out * cb * m * (th + 1 / (m * r_in)) / (1 + th / (m * r_in))  # u'(r_out)
    total = 4 * math.pi * d_eff * (r_out * du - r_out * cb)  # mol/s into the shell
    c_cavity = r_out * cb * sech / (1 + th / (m * r_in)) / r_in
    v_shell = 4 / 3 * math.pi * (r_out**3 - r_in**3)

    def q(v: Any, unit: str) -> dict[str, Any]:
        return {"value": v, "unit": unit}

    rates = {n: total * kn / k_tot for n, kn in k.items()}
    current = sum(case.reaction_named(n).electrons * FARADAY * v for n, v in rates.items())
    products: dict[str, Any] = {}
    for p in case.output.products:
        prod = sum(rates[r.name] * r.products.get(p, 0.0) for r in case.reactions)
        entry = {"production_mol_s": q(prod, "mol/s")}
        if current > 0:
            n_e = sum(r.electrons * rates[r.name] for r in case.reactions if r.products.get(p, 0.0))
            entry["faradaic_efficiency"] = q(n_e * FARADAY / current, "1")
        products[p] = entry
    return {
        "case": case.case.name,
        "model": "closed-form first-order spherical shell (tests)",
        "solver": {"converged": True},
        "thiele_modulus": q(m * length, "1"),
        "effectiveness_factor": q(total / (k_tot * cb * v_shell), "1"),
        "current_A": q(current, "A"),
        "species": {
            name: {
                "interior_mean_mol_L": q(c_cavity / 1000, "mol/L"),
                "exterior_mean_mol_L": q(cb / 1000, "mol/L"),
                "ratio_interior_exterior": q(c_cavity / cb, "1"),
            }
        },
        "reactions": {n: {"rate_mol_s": q(v, "mol/s")} for n, v in rates.items()},
        "products": products,
    }


@dataclass
class ShellRunner:
    """Picklable runner with the pipeline's signature.

    Attributes:
        calls: a directory where every invocation leaves a file ``<hash16>.<pid>.<ns>``.
        sleep: seconds to sleep per point (to be killed midway).
        fail_key: a dotted case key; points where it equals ``fail_value`` raise.
        fail_value: see ``fail_key`` (SI).
        warm_fails: raise when given a warm start (like a solver that cannot use it).
    """

    calls: str | None = None
    sleep: float = 0.0
    fail_key: str | None = None
    fail_value: float | None = None
    warm_fails: bool = False

    def __call__(
        self, case: Case, out: Path | None = None, comm: Any = None, initial: Any = None
    ) -> Result:
        """Run a case: closed-form metrics, metrics.json in ``out``."""
        if self.calls is not None:
            Path(self.calls).mkdir(parents=True, exist_ok=True)
            tag = f"{case.hash()[:16]}.{os.getpid()}.{time.time_ns()}"
            (Path(self.calls) / tag).write_text("warm" if initial is not None else "cold")
        if self.sleep:
            time.sleep(self.sleep)
        if self.warm_fails and initial is not None:
            raise ValueError("cannot warm-start from this solution")
        if (
            self.fail_key is not None
            and self.fail_value is not None
            and math.isclose(case_value(case, self.fail_key), self.fail_value, rel_tol=1e-9)
        ):
            raise RuntimeError(f"made to fail at {self.fail_key} = {self.fail_value}")
        metrics = shell_metrics(case)
        metrics["solver"]["newton_iterations"] = {"value": 1 if initial else 4, "unit": "1"}
        if out is not None:
            Path(out).mkdir(parents=True, exist_ok=True)
            (Path(out) / "metrics.json").write_text(json.dumps(metrics, indent=1))
        return Result(case=case, metrics=metrics, out=out, solution={"case": case.hash()})


def calls_by_point(calls: Path) -> dict[str, int]:
    """Invocations per point hash (16 hex digits) recorded in a ``calls`` directory."""
    out: dict[str, int] = {}
    if not calls.is_dir():
        return out
    for f in calls.iterdir():
        h = f.name.split(".")[0]
        out[h] = out.get(h, 0) + 1
    return out
