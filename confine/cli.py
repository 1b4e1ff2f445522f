"""Command line: parses arguments and calls the Python API, nothing more.

``confine validate|mesh|run|sweep|fit|bench|doctor|keys``; ``confine CMD --help``
for each. Logging goes to stderr on MPI rank 0 only; progress is shown on a
terminal and kept quiet otherwise. Every failure is one line on stderr and an
exit code (:mod:`confine.cli_guard`); ``confine --debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from confine import summary as run_summary
from confine._version import __version__
from confine.budget import run_memory
from confine.case import Case, CaseError, key_reference, load_case
from confine.cli_guard import (
    EXIT_FAIL,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    guarded,
    key_value,
    rank,
)
from confine.doctor import report
from confine.env import comm_world
from confine.geometry.derived import lattice_of, pore_is_filled
from confine.sampling import load_sweep

log = logging.getLogger("confine")

EPILOG = """exit codes: 0 success; 1 the work failed (no convergence, a failed sweep point
or fit, an output that cannot be written); 2 the command line or an input file is
wrong (nothing ran); 3 not available in this installation; 130 interrupted; 141
stdout closed by its reader (`confine keys | head`).
Every error is one line on stderr; `confine --debug COMMAND ...` shows the traceback."""


DEBUG_HELP = "on an error, show the full traceback instead of one line"
QUIET_HELP = "warnings and errors only (no progress, no end-of-run summary or tables)"


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit 2) instead of the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INVALID, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def setup_logging(verbose: int) -> None:
    """Log to stderr on rank 0 only (other ranks: errors only)."""
    level = logging.WARNING if verbose < 0 else logging.DEBUG if verbose > 0 else logging.INFO
    if rank() != 0:
        level = logging.ERROR
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr, force=True)


def _parse_sets(items: Sequence[str]) -> dict[str, str]:
    """``--set`` items (KEY=VALUE: checked by the parser) as a dict."""
    out: dict[str, str] = {}
    for item in items:
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _load(args: argparse.Namespace) -> Case | None:
    """Load and validate the case; print every problem and return None if invalid."""
    try:
        return load_case(args.case, set=_parse_sets(getattr(args, "set", None) or []))
    except CaseError as err:
        for p in err.problems:
            print(p, file=sys.stderr)
        return None


def cmd_validate(args: argparse.Namespace) -> int:
    """``confine validate CASE``."""
    case = _load(args)
    if case is None:
        return EXIT_INVALID
    summary = f"{args.case}: valid ({len(case.species)} species, {len(case.reactions)} reactions"
    lat = lattice_of(case)
    if lat is not None:
        summary += (
            f"; {lat.count} pores, smallest wall {lat.min_wall:.2f} nm at the cavity "
            f"radius, porosity {lat.porosity:.3f}"
            f"{', pores filled by the layer' if pore_is_filled(case) else ''}"
        )
    log.info(summary + ")")
    if args.estimate:
        memory = run_memory(case, args.ranks)
        print(json.dumps({"case": str(args.case), **(memory or {})}))
    return EXIT_OK


def _needs(module: str, issue: str) -> Any:
    """Import an optional part of confine, or say plainly that it is not there yet."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name == module:
            log.error("error: %s is not available in this version of confine (%s)", module, issue)
            return None
        raise


def cmd_mesh(args: argparse.Namespace) -> int:
    """``confine mesh CASE [--out DIR]``."""
    case = _load(args)
    if case is None:
        return EXIT_INVALID
    mesh_mod = _needs("confine.mesh", "geometry issue")
    if mesh_mod is None or not hasattr(mesh_mod, "mesh_case"):
        log.error("error: meshing is not available in this version of confine")
        return EXIT_UNAVAILABLE
    info = mesh_mod.mesh_case(case, Path(args.out), comm_world())
    log.info("mesh: %s cells -> %s", info.get("cells"), Path(args.out) / "mesh.json")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    """``confine run CASE --out DIR [--set KEY=VALUE ...]``."""
    case = _load(args)
    if case is None:
        return EXIT_INVALID
    runner = _needs("confine.pipeline", "solver issue")
    if runner is None:
        return EXIT_UNAVAILABLE
    t0 = time.perf_counter()
    result = runner.run(case, out=Path(args.out), comm=comm_world())
    if rank() == 0 and not args.quiet:
        info = run_summary.summarize(
            result.metrics, Path(args.out).resolve(), time.perf_counter() - t0
        )
        print(run_summary.as_json(info) if args.json else run_summary.text(info), flush=True)
    return EXIT_OK if result.converged else EXIT_FAIL


def cmd_sweep(args: argparse.Namespace) -> int:
    """``confine sweep SWEEP --out DIR [-j N]`` (``--merge``: only merge the table)."""
    try:
        if not args.merge:  # a bad sweep file is refused before the heavy stack loads
            load_sweep(args.sweep)
    except CaseError as err:
        for p in err.problems:
            print(p, file=sys.stderr)
        return EXIT_INVALID
    # heavy: pandas and, per point, the solver stack; `confine validate` must stay light
    from confine import sweeps as sweep_mod

    try:
        if args.merge:
            table = sweep_mod.collect(args.sweep, Path(args.out))
        else:
            table = sweep_mod.sweep(
                args.sweep,
                out=Path(args.out),
                jobs=args.jobs,
                retry_failed=args.retry_failed,
                ranks_per_point=args.ranks_per_point,
            )
    except CaseError as err:
        for p in err.problems:
            print(p, file=sys.stderr)
        return EXIT_INVALID
    failed = int((table["status"] == "failed").sum()) if "status" in table else 0
    if rank() == 0 and not args.quiet and len(table):
        print(run_summary.sweep_text(table), flush=True)
    log.info(
        "sweep: %d points, %d failed -> %s", len(table), failed, Path(args.out) / "results.csv"
    )
    # pending rows inside a SLURM array task belong to other tasks: not a failure
    return EXIT_FAIL if failed else EXIT_OK


def cmd_fit(args: argparse.Namespace) -> int:
    """``confine fit FIT --out DIR``."""
    # heavy: scipy.optimize and, per trial, the solver stack; `confine validate` stays light
    from confine import calibrate as fit_mod

    try:
        report = fit_mod.fit(args.fit, out=Path(args.out), jobs=args.jobs)
    except CaseError as err:
        for p in err.problems:
            print(p, file=sys.stderr)
        return EXIT_INVALID
    except fit_mod.FitError as err:
        print(f"error: {args.fit}: {err}", file=sys.stderr)
        return EXIT_FAIL
    for warning in report.warnings:
        log.warning("warning: %s", warning)
    if rank() == 0 and not args.quiet:
        print(report.to_text(), flush=True)
    log.info("fit report: %s", Path(args.out) / "fit.md")
    return EXIT_OK if report.success else EXIT_FAIL


def cmd_bench(args: argparse.Namespace) -> int:
    """``confine bench [--full] [--check | --update] [--out DIR]``."""
    bench = _needs("confine.bench", "benchmarks issue")
    if bench is None:
        return EXIT_UNAVAILABLE
    return int(
        bench.main(
            full=args.full,
            check=args.check,
            update=args.update,
            out=args.out,
            references=args.references,
            case=args.case,
            overrides=_parse_sets(args.set) if args.set else None,
            name=args.name,
        )
    )


def cmd_doctor(args: argparse.Namespace) -> int:
    """``confine doctor``: what is installed and what works."""
    lines, ok = report()
    print("\n".join(lines))
    return EXIT_OK if ok else EXIT_FAIL


def cmd_keys(args: argparse.Namespace) -> int:
    """``confine keys``: the case-file key reference (Markdown)."""
    text = key_reference()
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return EXIT_OK


def _mesh_cache_option(sp: argparse.ArgumentParser) -> None:
    sp.add_argument(
        "--mesh-cache",
        metavar="DIR",
        help="mesh cache folder (default: $CONFINE_MESH_CACHE, else meshes/ here)",
    )


def _case_command(
    sub: Any, name: str, help_: str, out: bool, sets: bool
) -> argparse.ArgumentParser:
    """A command on one case file (validate, mesh, run)."""
    sp: argparse.ArgumentParser = sub.add_parser(name, help=help_, description=help_)
    sp.add_argument("case", help="case file (TOML)")
    if sets:
        sp.add_argument(
            "--set",
            action="append",
            metavar="KEY=VALUE",
            type=key_value,
            default=[],
            help="override a key before validation, e.g. "
            '--set geometry.pore_diameter="4 nm" (repeatable)',
        )
    if name == "run":
        sp.add_argument(
            "--json",
            action="store_true",
            help="print the end-of-run summary as one JSON object (machine-readable)",
        )
    if out:
        sp.add_argument(
            "--out",
            required=(name == "run"),
            default="results/mesh",
            metavar="DIR",
            help="output directory",
        )
        _mesh_cache_option(sp)
    return sp


def _sweep_and_fit_commands(sub: Any) -> None:
    """``confine sweep`` and ``confine fit``."""
    sp = sub.add_parser("sweep", help="one run per point of a sweep file, resumable")
    sp.add_argument("sweep", help="sweep file (TOML)")
    sp.add_argument("--out", required=True, metavar="DIR")
    sp.add_argument("-j", "--jobs", type=int, default=1, help="parallel processes")
    sp.add_argument("--retry-failed", action="store_true", help="run failed points again")
    sp.add_argument(
        "--ranks-per-point",
        type=int,
        default=None,
        metavar="N",
        help="under mpiexec: MPI ranks per point (sub-communicators)",
    )
    sp.add_argument(
        "--merge", action="store_true", help="only merge finished points into results.csv and plots"
    )
    _mesh_cache_option(sp)
    sp = sub.add_parser(
        "fit",
        help="calibrate case parameters against measurements",
        description="Calibrate case parameters against measurements: bounded least squares,\n"
        "95 % intervals, sensitivities, correlations (fit.md, fit.json, fitted-case.toml).",
        epilog="the fit file (TOML: [fit], [set], [parameters], [conditions], [targets])\n"
        "and the report are described in docs/sweeps.md, section 'Fit files'; an\n"
        "example: cases/fit/mchs7-kinetics.fit.toml (cases/README.md, 'Calibration').",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sp.add_argument("fit", help="fit file (TOML); its keys: docs/sweeps.md, 'Fit files'")
    sp.add_argument("--out", required=True, metavar="DIR", help="output directory")
    sp.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=1,
        help="parallel processes: an evaluation's conditions at once (warm_start = false)",
    )
    _mesh_cache_option(sp)


def _bench_command(sub: Any) -> None:
    """``confine bench``."""
    sp = sub.add_parser("bench", help="performance and regression suite (benchmarks/)")
    sp.add_argument("--full", action="store_true", help="the whole suite, not the quick subset")
    mode = sp.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="compare against stored references")
    mode.add_argument(
        "--update", action="store_true", help="store this run's records as the new references"
    )
    sp.add_argument(
        "--out", default=None, metavar="DIR", help="record directory (default results/bench)"
    )
    sp.add_argument(
        "--references",
        default=None,
        metavar="DIR",
        help="reference directory (default benchmarks/references)",
    )
    sp.add_argument("--case", metavar="CASE", help="benchmark this case file instead of the suite")
    sp.add_argument(
        "--set",
        action="append",
        type=key_value,
        default=[],
        metavar="KEY=VALUE",
        help="override (with --case)",
    )
    sp.add_argument("--name", metavar="NAME", help="record name for --case (default: its stem)")
    _mesh_cache_option(sp)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``confine``."""
    p = _Parser(
        prog="confine",
        description="Transport and reaction in nanoconfined electrocatalysts (FEniCSx).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"confine {__version__}")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    p.add_argument("-q", "--quiet", action="store_true", help=QUIET_HELP)
    p.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sp = _case_command(
        sub, "validate", "check a case file; exit 2 listing every problem", False, True
    )
    sp.add_argument(
        "--estimate",
        action="store_true",
        help="print the estimated cells, unknowns and memory (bytes: mesh build, solve, "
        "per rank) as one JSON line, for a batch script's memory request",
    )
    sp.add_argument("--ranks", type=int, default=1, help="with --estimate: MPI ranks of the run")
    _case_command(sub, "mesh", "build (or reuse) the mesh and write DIR/mesh.json", True, True)
    _case_command(
        sub, "run", "solve a case: DIR/metrics.json, case.toml, fields, figures", True, True
    )
    _sweep_and_fit_commands(sub)
    _bench_command(sub)
    sub.add_parser("doctor", help="report dolfinx, PETSc, MPI, gmsh, pyvista and what works")
    sp = sub.add_parser("keys", help="print the case-file key reference (Markdown)")
    sp.add_argument("--out", metavar="FILE", help="write it to FILE")
    for sp in sub.choices.values():  # also after the command: `confine run X --debug`
        sp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
        sp.add_argument(
            "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=QUIET_HELP
        )
    return p


COMMANDS = {
    "validate": cmd_validate,
    "mesh": cmd_mesh,
    "run": cmd_run,
    "sweep": cmd_sweep,
    "fit": cmd_fit,
    "bench": cmd_bench,
    "doctor": cmd_doctor,
    "keys": cmd_keys,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``confine`` command."""
    args = build_parser().parse_args(argv)
    setup_logging(-1 if args.quiet else args.verbose)
    if getattr(args, "mesh_cache", None):  # read by confine.mesh.cache_root, here and in workers
        os.environ["CONFINE_MESH_CACHE"] = str(Path(args.mesh_cache).resolve())
    return guarded(COMMANDS[args.command], args)


if __name__ == "__main__":
    sys.exit(main())
