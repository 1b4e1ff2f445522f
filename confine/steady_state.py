"""Whether a steady state exists, and is determined, when no face holds the bath.

With ``bath_boundary = "bulk"`` or ``"far-field"`` every species meets a
reservoir, and a steady run is always posed. With ``"closed"`` (or
``"exchange"``, for the species whose ``exchange_coefficient`` is 0) the
domain keeps what it holds, and integrating each balance over it gives, at
steady state, Σ_r ν_ir R_r + X_i = 0 (R_r the integrated rate of step r, X_i
the net inflow of species i through exchange faces). Two rules follow.

1. **Determined.** A combination y·c of the species that no step changes
   (y·ν_r = 0 for every step) and no face exchanges (y_i = 0 for exchanged
   species) keeps its initial amount forever; the steady equations hold for
   any amount, so they do not fix it (the Newton matrix is singular, and a
   solve would return an arbitrary amount). Rule: the columns ν_r and the
   unit vectors of the exchanged species span the species space.
2. **Exists.** A *persistent* step (irreversible, zero order in every
   species, no free sites needed: water reduction, a zero-order source) runs
   at a positive rate whatever the state. If a combination y·c is increased
   by a persistent step, decreased by no step (y·ν_r ≥ 0 for irreversible
   steps, = 0 for reversible ones) and exchanged through no face, it grows
   without end: no steady state. Rule (Farkas): no such y exists;
   equivalently, some integrated rates R ≥ 0 (free for reversible steps and
   exchanges, > 0 for persistent steps) balance: Σ_r ν_r R_r + X = 0.

A sink that balances the source (a decay of the product, an exchange face)
satisfies both; a product that only accumulates breaks rule 2, and a
closed, non-reacting or merely converted inventory breaks rule 1.

3. **A sink for every mobile species** (closed and exchange domains, after
   rules 1 and 2). A solution species that some step makes while no step
   consumes it (irreversibly, or both ways) and no face exchanges it keeps
   all that is made: at steady state the steps that make it have stopped,
   and nothing fixes its amount — even when rules 1 and 2 pass, e.g. A → I
   beside a decay of A, where A runs out and leaves I at whatever the
   transient made (the Newton matrix is singular in I).

One rule holds for every bath (:func:`check_site_balances`, steady runs):

4. **A site balance for every adsorbate.** Coverages never leave the
   catalyst, so an adsorbed species must be put on the sites by some step
   and taken off by another (or by one reversible step): one that no step
   consumes only fills the free sites (no steady balance fixes its
   coverage), and one that no step makes has a coverage that can only drain
   to zero, leaving every step that uses it dead.
"""

from __future__ import annotations

import numpy as np

from confine.case_data import CaseData
from confine.entries import SOLVENT, Reaction, backward_orders, forward_orders
from confine.findings import Finding

#: Relative size below which a singular value or a coefficient counts as zero.
_TOL = 1e-9


def check_steady_state(case: CaseData) -> list[Finding]:
    """The two rules above for a steady run whose faces do not hold every species."""
    g = case.geometry
    if case.solver.transient or g.bath_boundary in ("bulk", "far-field"):
        return []
    names = [s.name for s in case.species]
    idx = {n: i for i, n in enumerate(names)}

    def column(nu: dict[str, float]) -> np.ndarray:
        col = np.zeros(len(names))
        for s, v in nu.items():
            if s in idx:
                col[idx[s]] = v
        return col

    exchanged = {
        s.name: s.bulk
        for s in case.species
        if g.bath_boundary == "exchange" and (s.exchange_coefficient or 0.0) > 0.0
    }
    # columns: free (reversible steps, faces to a stocked reservoir), irreversible
    # (integrated rate >= 0: irreversible steps, faces that can only take out)
    free = [column(_net(r)) for r in case.reactions if r.backward_rate_constant]
    free += [column({n: 1.0}) for n, bulk in exchanged.items() if bulk > 0]
    irreversible = [column(_net(r)) for r in case.reactions if not r.backward_rate_constant]
    irreversible += [column({n: -1.0}) for n, bulk in exchanged.items() if bulk <= 0]
    where = f"bath_boundary = '{g.bath_boundary}'"
    conserved = _conserved(np.array(free + irreversible).reshape(-1, len(names)).T)
    if conserved is not None:
        return [
            Finding(
                case.source,
                "geometry.bath_boundary",
                f"a steady state does not fix the amount of {_combination(conserved, names)}: "
                f"no step changes it and no face exchanges it ({where}); hold the bath at "
                "bulk or far-field, exchange it, or set solver.transient = true",
            )
        ]
    persistent = _persistent(case, {n for n, bulk in exchanged.items() if bulk > 0})
    if not persistent:
        return _without_sink(case, set(exchanged), where)
    cols = {r.name: column(_net(r)) for r in case.reactions if r.name in persistent}
    y = _accumulating(free, irreversible, list(cols.values()), len(names))
    if y is None:
        return _without_sink(case, set(exchanged), where)
    makers = [n for n, c in cols.items() if y @ c > _TOL]
    return [
        Finding(
            case.source,
            "geometry.bath_boundary",
            f"no steady state: the amount of {_combination(y, names)} only grows: "
            f"{', '.join(makers)} {'makes' if len(makers) == 1 else 'make'} it at a rate "
            "that never falls to zero, no step "
            f"removes it and no face takes it out ({where}); add a sink (a decay, an "
            "exchange) or set solver.transient = true",
        )
    ]


def check_site_balances(case: CaseData) -> list[Finding]:
    """Rule 4: every adsorbed species of a steady run is made by a step and consumed by one."""
    if case.solver.transient:
        return []
    out: list[Finding] = []
    for s in case.species:
        if s.phase != "adsorbed":
            continue
        makers, users = makers_and_users(case, s.name)
        if makers and users:
            continue
        if not makers and not users:
            what = "no step makes or consumes it, so nothing fixes its coverage"
        elif not users:
            what = (
                f"{_names(makers)} {_verb(makers, 'puts', 'put')} it on the sites but no step "
                "takes it off, so its coverage only fills the free sites"
            )
        else:
            what = (
                f"no step puts it on the sites, so its coverage can only drain to zero "
                f"and {_names(users)} {_verb(users, 'stops', 'stop')}"
            )
        out.append(
            Finding(
                case.source,
                f"species.{s.name}",
                f"an adsorbed species needs a site balance at steady state: {what}; add the "
                "missing step (adsorption, desorption or a reaction) or set "
                "solver.transient = true",
            )
        )
    return out


def _without_sink(case: CaseData, exchanged: set[str], where: str) -> list[Finding]:
    """Rule 3: mobile species that steps make and nothing removes (not exchanged)."""
    out: list[Finding] = []
    for s in case.species:
        if s.phase != "solution" or s.name in exchanged:
            continue
        makers, users = makers_and_users(case, s.name)
        if makers and not users:
            out.append(
                Finding(
                    case.source,
                    f"species.{s.name}",
                    f"a mobile species with no sink: {_names(makers)} "
                    f"{_verb(makers, 'makes', 'make')} it, no step consumes it and no face "
                    f"takes it out ({where}), so a steady state does not fix its amount; "
                    "add a step that consumes it, exchange it, or set solver.transient = true",
                )
            )
    return out


def makers_and_users(case: CaseData, name: str) -> tuple[list[str], list[str]]:
    """Steps that can make a species, and steps that can consume it (a reversible step
    that changes it does both)."""
    makers, users = [], []
    for r in case.reactions:
        nu = _net(r).get(name, 0.0)
        if nu == 0.0:
            continue
        reversible = bool(r.backward_rate_constant)
        if nu > 0 or reversible:
            makers.append(r.name)
        if nu < 0 or reversible:
            users.append(r.name)
    return makers, users


def _names(steps: list[str]) -> str:
    return ", ".join(steps)


def _verb(steps: list[str], one: str, many: str) -> str:
    return one if len(steps) == 1 else many


def _persistent(case: CaseData, stocked: set[str]) -> set[str]:
    """Irreversible steps whose rate cannot vanish at a steady state.

    A species is surely present (not zero everywhere) when a face brings it from
    a stocked reservoir, or when a step whose reactants are all present makes it;
    an irreversible step whose reactants (positive orders) are all present, that
    needs no free sites, runs at a positive rate: it is persistent. Zero-order
    steps (the solvent only) are the first ones found.
    """
    adsorbed = {s.name for s in case.species if s.phase == "adsorbed"}
    present = set(stocked)
    out: set[str] = set()
    changed = True
    while changed:
        changed = False
        for r in case.reactions:
            if not r.rate_constant > 0:
                continue
            directions = [(forward_orders(r), r.reactants, r.products)]
            if r.backward_rate_constant:
                directions.append((backward_orders(r), r.products, r.reactants))
            for orders, used, made in directions:
                needs = {s for s, m in orders.items() if s != SOLVENT and m > 0}
                sites = sum(c for s, c in made.items() if s in adsorbed) > sum(
                    c for s, c in used.items() if s in adsorbed
                )
                if sites or not needs <= present:
                    continue
                if not r.backward_rate_constant and r.name not in out:
                    out.add(r.name)
                    changed = True
                new = {s for s in made if s != SOLVENT} - present
                if new:
                    present |= new
                    changed = True
    return out


def _net(r: Reaction) -> dict[str, float]:
    """Net coefficients ν (products +, reactants −; the solvent dropped).

    :func:`confine.physics.kinetics.stoichiometry` without its UFL import (validation
    stays light).
    """
    nu: dict[str, float] = {}
    for side, sign in ((r.reactants, -1.0), (r.products, 1.0)):
        for s, c in side.items():
            if s != SOLVENT:
                nu[s] = nu.get(s, 0.0) + sign * c
    return nu


def _conserved(m: np.ndarray) -> np.ndarray | None:
    """A sparse y ≠ 0 with yᵀM = 0 (species × columns), or None when M has full row rank."""
    n = m.shape[0]
    if m.size and np.linalg.matrix_rank(m, tol=_TOL * max(1.0, np.abs(m).max())) == n:
        return None
    if not m.size:
        return np.eye(n)[0] if n else None
    for i in range(n):  # the sparsest combination that holds species i (min |y|₁, y_i = 1)
        y = _l1_min(n, eq=[*m.T, np.eye(n)[i]], eq_rhs=[0.0] * m.shape[1] + [1.0])
        if y is not None:
            return y
    return None  # pragma: no cover - a rank-deficient M has a left null vector


def _accumulating(
    free: list[np.ndarray], irreversible: list[np.ndarray], persistent: list[np.ndarray], n: int
) -> np.ndarray | None:
    """A y that the persistent steps raise and nothing lowers (rule 2), or None."""
    ub = [-c for c in irreversible] + [-np.sum(persistent, axis=0)]
    return _l1_min(
        n, eq=free, eq_rhs=[0.0] * len(free), ub=ub, ub_rhs=[0.0] * len(irreversible) + [-1.0]
    )


def _l1_min(
    n: int,
    eq: list[np.ndarray],
    eq_rhs: list[float],
    ub: list[np.ndarray] | None = None,
    ub_rhs: list[float] | None = None,
) -> np.ndarray | None:
    """argmin |y|₁ subject to eq·y = eq_rhs and ub·y ≤ ub_rhs (y = p − q, p, q ≥ 0)."""

    from scipy.optimize import linprog  # heavy (0.1 s): only closed domains need it

    def split(rows: list[np.ndarray]) -> np.ndarray | None:
        return np.array([np.concatenate([r, -r]) for r in rows]) if rows else None

    res = linprog(
        np.ones(2 * n),
        A_ub=split(ub or []),
        b_ub=ub_rhs or None,
        A_eq=split(eq),
        b_eq=eq_rhs or None,
        bounds=(0, None),
        method="highs",
    )
    if res.status != 0:
        return None
    y = res.x[:n] - res.x[n:]
    y[np.abs(y) < _TOL * max(1.0, np.abs(y).max())] = 0.0
    return np.asarray(y)


def _combination(y: np.ndarray, names: list[str]) -> str:
    """'CO2 + 2 C2O4' from weights (scaled so the smallest nonzero one is ±1)."""
    nz = np.flatnonzero(y)
    y = y / np.abs(y[nz]).min()
    if y[nz[0]] < 0:
        y = -y
    text = ""
    for i in nz:
        coef = f"{abs(y[i]):.4g} " if abs(abs(y[i]) - 1.0) > 1e-9 else ""
        sign = "−" if y[i] < 0 else "+"
        text += f"{coef}{names[i]}" if not text else f" {sign} {coef}{names[i]}"
    return text
