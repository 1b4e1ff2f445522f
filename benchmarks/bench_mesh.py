"""Mesh benchmark: time, cells and peak memory per fidelity level and pore size.

Each point runs in its own process (so its peak resident memory is its own)
with the MCHS geometry of DESIGN.md section 1, the 2 nm catalytic layer,
6 cells per pore diameter, 2 cells through the layer, a 2 nm carbon wall at
the cavity radius (sets the pore count), and writes one JSON record to
``benchmarks/records/mesh-<level>-<size>nm.json``.

Usage::

    python benchmarks/bench_mesh.py                       # axisymmetric + sector, 4/7/11 nm
    python benchmarks/bench_mesh.py --levels full-3d --sizes 11
    python benchmarks/bench_mesh.py --convert             # + dolfinx conversion and XDMF
    python benchmarks/bench_mesh.py --case cases/mchs-11nm.toml --levels full-3d --sizes 11 \
        --layer-cells 1 --convert                         # a case file's own mesh keys
    python benchmarks/bench_mesh.py ... --suffix lean      # record named mesh-...-lean.json

With ``--case`` the point is that case file at the level (its own mesh keys,
one gmsh thread unless it says otherwise: the deterministic mesh of the
cache) with ``mesh.cells_across_layer`` = ``--layer-cells``; the size only
names the record. Every stage's wall and CPU time and peak memory are
recorded (``stages``: the peak is ``VmHWM`` reset at each stage's start).

Targets (issue 9, this 2-core machine): axisymmetric cell < 2 s, sector-3d
< 60 s, full-3d 11 nm < 5 min and 4 GiB, full-3d 4 nm < 15 min and 16 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RECORDS = ROOT / "benchmarks" / "records"
PORES = {"4": "4.18 nm", "7": "7.55 nm", "11": "11.12 nm"}
LEVELS = ("axisymmetric-cell", "sector-3d", "full-3d")


def bench_case(level: str, size: str, layer_cells: int = 2, case_file: str | None = None) -> Any:
    """The benchmark case of one level and pore size (or of ``case_file`` at the level)."""
    from confine.case import case_from_dict, load_case

    if case_file:
        sets = {"geometry.model": level, "mesh.cells_across_layer": str(layer_cells)}
        return load_case(case_file, set=sets)

    return case_from_dict(
        {
            "case": {"name": f"bench-{level}-{size}nm"},
            "geometry": {
                "kind": "hollow-sphere",
                "model": level,
                "outer_diameter": "214 nm",
                "shell_thickness": "52 nm",
                "pore_diameter": PORES[size],
                "wall_thickness": "2 nm",
                "catalyst_layer": "2 nm",
                "bath_thickness": "300 nm",
            },
            "mesh": {"cells_per_pore_diameter": 6, "cells_across_layer": layer_cells, "threads": 2},
            "electrolyte": {"hindrance": "none", "potential_model": "none"},
            "species": [{"name": "A", "formula": "X", "diffusivity": "1e-9 m^2/s"}],
        }
    )


def run_one(
    level: str, size: str, convert: bool, layer_cells: int, case_file: str | None = None
) -> dict[str, Any]:
    """Build and mesh one point in this process; the record."""
    t_start = time.perf_counter()
    c_start = time.process_time()
    case = bench_case(level, size, layer_cells, case_file)
    t_validate = time.perf_counter() - t_start
    record: dict[str, Any] = {
        "level": level,
        "pore_size": f"{size} nm",
        "pore_diameter_nm": float(PORES[size].split()[0]),
        "cells_across_layer": layer_cells,
        "case_file": case_file,
        "mesh_threads": case.mesh.threads,
        "validate_s": t_validate,
        "load_1min_before": os.getloadavg()[0],
    }
    if convert:
        from confine.mesh import build_mesh_files

        with tempfile.TemporaryDirectory() as tmp:
            info = build_mesh_files(case, Path(tmp))
        record.update(
            {
                k: info[k]
                for k in ("cells", "vertices", "min_quality", "pore_count", "min_wall", "hash")
            }
        )
        record["timings_s"] = info["timings"]
        record["peak_rss_mib_after"] = info.get("peak_rss_mb_after")
    else:
        from confine.geometry.model import build_model, generate_mesh, gmsh_session
        from confine.mesh import mesh_hash

        with gmsh_session():
            info = build_model(case)
            stats = generate_mesh(info, case.mesh.threads)
        record.update({k: stats[k] for k in ("cells", "vertices", "min_quality")})
        record.update(
            {
                "pore_count": info.pore_count,
                "min_wall": info.min_wall,
                "hash": mesh_hash(case),
                "timings_s": info.timings,
            }
        )
    record["sizes_nm"] = info["sizes"] if isinstance(info, dict) else info.sizes
    record["total_s"] = time.perf_counter() - t_start
    record["total_cpu_s"] = time.process_time() - c_start
    record["load_1min_after"] = os.getloadavg()[0]
    record["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return record


def git_revision() -> str | None:
    """The revision of this checkout (``-dirty`` with uncommitted changes)."""
    from confine.env import git_revision as rev

    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    revision = rev()
    return f"{revision}-dirty" if revision and dirty else revision


def machine() -> dict[str, Any]:
    """Where the record was taken."""
    from confine.env import versions

    return {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions(),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark points (each in a subprocess) and write records."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--levels", nargs="+", default=["axisymmetric-cell", "sector-3d"], choices=LEVELS
    )
    p.add_argument("--sizes", nargs="+", default=["4", "7", "11"], choices=sorted(PORES))
    p.add_argument(
        "--convert",
        action="store_true",
        help="include dolfinx conversion and the XDMF write (the cache path)",
    )
    p.add_argument("--layer-cells", type=int, default=2)
    p.add_argument("--case", help="a case file instead of the benchmark geometry")
    p.add_argument("--timeout", type=float, default=3600.0)
    p.add_argument("--out", type=Path, default=RECORDS)
    p.add_argument("--suffix", default="", help="appended to the record's name (-SUFFIX)")
    p.add_argument("--one", nargs=2, metavar=("LEVEL", "SIZE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        rec = run_one(args.one[0], args.one[1], args.convert, args.layer_cells, args.case)
        print(json.dumps(rec, default=str))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for level in args.levels:
        for size in args.sizes:
            cmd = (
                [
                    sys.executable,
                    __file__,
                    "--one",
                    level,
                    size,
                    "--layer-cells",
                    str(args.layer_cells),
                ]
                + (["--convert"] if args.convert else [])
                + (["--case", args.case] if args.case else [])
            )
            t0 = time.perf_counter()
            try:
                res = subprocess.run(
                    cmd, capture_output=True, text=True, env=env, timeout=args.timeout, check=False
                )
            except subprocess.TimeoutExpired:
                rec: dict[str, Any] = {
                    "level": level,
                    "pore_size": f"{size} nm",
                    "error": f"timeout after {args.timeout:g} s",
                }
            else:
                if res.returncode == 0:
                    rec = json.loads(res.stdout.strip().splitlines()[-1])
                else:
                    rec = {
                        "level": level,
                        "pore_size": f"{size} nm",
                        "error": res.stderr.strip().splitlines()[-1:],
                        "returncode": res.returncode,
                    }
            rec["wall_s"] = time.perf_counter() - t0
            rec["machine"] = machine()
            rec["date"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            rec["command"] = " ".join(
                ["python", "benchmarks/bench_mesh.py", "--levels", level, "--sizes", size]
                + ["--layer-cells", str(args.layer_cells)]
                + (["--convert"] if args.convert else [])
                + (["--case", args.case] if args.case else [])
                + (["--suffix", args.suffix] if args.suffix else [])
            )
            rec["git"] = git_revision()
            suffix = "" if args.layer_cells == 2 else f"-layer{args.layer_cells}"
            stem = f"{Path(args.case).stem}-" if args.case else ""
            convert = "-convert" if args.convert else ""
            extra = f"-{args.suffix}" if args.suffix else ""
            name = f"mesh-{stem}{level}-{size}nm{suffix}{convert}{extra}.json"
            (args.out / name).write_text(json.dumps(rec, indent=2, default=str))
            print(
                f"{level:18s} {size:>2s} nm  pores {rec.get('pore_count', '-')!s:>5s}  "
                f"cells {rec.get('cells', '-')!s:>9s}  {rec.get('total_s', float('nan')):8.1f} s"
                f"  {rec.get('peak_rss_mib', float('nan')):8.0f} MiB  {rec.get('error', '')}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
