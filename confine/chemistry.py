"""Element bookkeeping: formulas read as element counts, and the balances of a step.

A formula is plain (``NO3``, ``CH4N2O``), optionally with a charge or phase
suffix (``NO3-``, ``CO3^2-``, ``CO2(aq)``) and a leading ``*`` for an
adsorbate; the solvent counts as H2O. The rules that report an imbalance are
in :mod:`confine.validate`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from confine.case_data import CaseData
from confine.entries import SOLVENT, Reaction

_ELEMENT = re.compile(r"([A-Z][a-z]?)(\d*)")
_CHARGE_SUFFIX = re.compile(r"(\^\d*[+-]|[+-]+|\(aq\)|\(g\))$")


def elements(formula: str) -> Counter[str] | None:
    """Element counts of a plain formula like 'NO3', 'CH4N2O' (None if not one)."""
    body = formula.lstrip("*")
    body = _CHARGE_SUFFIX.sub("", body)
    if not body or _ELEMENT.sub("", body):
        return None
    counts: Counter[str] = Counter()
    for el, n in _ELEMENT.findall(body):
        counts[el] += int(n) if n else 1
    return counts


def species_charge(case: CaseData, name: str) -> int:
    """Charge number of a species of the case (the solvent: 0)."""
    if name == SOLVENT:
        return 0
    return case.species_named(name).charge


def species_elements(case: CaseData, name: str) -> Counter[str]:
    """Element counts of a species of the case (its formula, else its name)."""
    if name == SOLVENT:
        return Counter({"H": 2, "O": 1})
    s = case.species_named(name)
    return elements(s.formula or s.name) or Counter()


def side_sum(
    case: CaseData, side: dict[str, float], fn: Callable[[CaseData, str], object]
) -> dict[str, float]:
    """Σ ν × (charge or element counts) over one side of a reaction."""
    total: dict[str, float] = {}
    for name, nu in side.items():
        val = fn(case, name)
        counts = val if isinstance(val, Counter) else {"charge": float(val)}  # type: ignore[arg-type]
        for el, n in counts.items():
            total[el] = total.get(el, 0.0) + nu * n
    return total


def charge_balance(case: CaseData, r: Reaction) -> tuple[float, float]:
    """Charge of the reactants (with the electrons taken up) and of the products."""
    q_in = side_sum(case, r.reactants, species_charge).get("charge", 0.0) - r.electrons
    q_out = side_sum(case, r.products, species_charge).get("charge", 0.0)
    return q_in, q_out


def element_imbalance(case: CaseData, r: Reaction) -> dict[str, float]:
    """Products − reactants per element, only the elements that do not balance."""
    e_in = side_sum(case, r.reactants, species_elements)
    e_out = side_sum(case, r.products, species_elements)
    diff = {el: e_out.get(el, 0) - e_in.get(el, 0) for el in set(e_in) | set(e_out)}
    return {el: d for el, d in diff.items() if abs(d) > 1e-9}
