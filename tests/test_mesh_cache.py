"""The mesh cache on shared file systems: its location, one build per key under a
lock, no partial entry visible, stale staging folders removed, umask modes."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import stat
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mpi4py import MPI

import confine
from confine import io, staging
from confine.case import case_from_dict
from confine.cli import main
from confine.mesh import (
    CACHE_ENV,
    INFO_FILE,
    MESH_FILE,
    cache_root,
    ensure_cached,
    load_mesh,
    mesh_hash,
)

ROOT = Path(__file__).resolve().parent.parent

#: A tiny 2D case: the first-order shell, coarse (a few hundred triangles, solved in 1 s).
CASE: dict[str, Any] = tomllib.loads((ROOT / "cases" / "first-order-shell.toml").read_text())
CASE["mesh"] = {"cells_per_pore_diameter": 4, "max_cell_size": "30 nm"}
CASE["output"]["figures"] = False


def _case() -> Any:
    return case_from_dict(CASE)


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def _age(path: Path, seconds: float) -> Path:
    t = time.time() - seconds
    os.utime(path, (t, t))
    return path


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


# ---------------------------------------------------------------------- location
def test_cache_location_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CACHE_ENV, raising=False)
    assert cache_root() == Path("meshes")  # relative: under the working directory
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "from-env"))
    assert cache_root() == tmp_path / "from-env"
    assert cache_root(tmp_path / "given") == tmp_path / "given"
    # the default cache_dir of load_mesh follows the variable
    data = load_mesh(_case(), MPI.COMM_SELF)
    assert Path(data.info["directory"]) == tmp_path / "from-env" / mesh_hash(_case())


def test_cli_mesh_cache_option_beats_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "from-env"))  # restored after the test
    case_file = tmp_path / "case.toml"
    case_file.write_text((ROOT / "cases" / "first-order-shell.toml").read_text())
    sets = ["--set", "mesh.cells_per_pore_diameter=4", "--set", 'mesh.max_cell_size="30 nm"']
    code = main(["mesh", str(case_file), "--out", "out", "--mesh-cache", "cli-cache", *sets])
    assert code == 0
    report = json.loads((tmp_path / "out" / "mesh.json").read_text())
    assert Path(report["cache"]).parent == tmp_path / "cli-cache"
    assert not (tmp_path / "from-env").exists() and not (tmp_path / "meshes").exists()
    capsys.readouterr()
    for command in ("mesh", "run", "sweep", "fit", "bench"):  # every command that meshes
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "--mesh-cache" in capsys.readouterr().out, command


# --------------------------------------------------------------------------- lock
WORKER = """
import json, os, sys, time
from pathlib import Path
from mpi4py import MPI
import confine.mesh as m
from confine.case import case_from_dict

cache, go, builds = Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
real = m.build_mesh_files

def slow_build(case, directory, verbose=False):
    (builds / str(os.getpid())).touch()
    time.sleep(1.0)  # long enough that the other process asks while this one builds
    return real(case, directory, verbose)

m.build_mesh_files = slow_build
case = case_from_dict(json.loads(sys.argv[1]))
(builds.parent / f"ready-{os.getpid()}").touch()
while not go.exists():
    time.sleep(0.01)
final, cached = m.ensure_cached(case, MPI.COMM_SELF, cache)
data = m.read_mesh(final, MPI.COMM_SELF)
print(json.dumps({"dir": str(final), "cached": cached,
                  "cells": data.mesh.topology.index_map(2).size_local}))
"""


def test_concurrent_builds_of_one_key_build_once(tmp_path: Path) -> None:
    cache, go, builds = tmp_path / "cache", tmp_path / "go", tmp_path / "builds"
    builds.mkdir()
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    args = [json.dumps(CASE), str(cache), str(go), str(builds)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, *args],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("ready-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # both past their imports, waiting for the go file
    go.touch()
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    assert len(list(builds.iterdir())) == 1  # one build
    assert sorted(r["cached"] for r in results) == [False, True]  # the other waited, reused
    assert results[0]["dir"] == results[1]["dir"]
    assert results[0]["cells"] == results[1]["cells"] > 0
    # nothing left beside the entry: no lock file, no staging folder
    assert [p.name for p in cache.iterdir()] == [mesh_hash(_case())]


def test_lock_waits_for_the_holder(tmp_path: Path) -> None:
    lock, released = tmp_path / ".lock-x", tmp_path / "released"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from confine import staging\n"
            "with staging.exclusive(Path(sys.argv[1])) as held:\n"
            "    print(held, flush=True); time.sleep(1.5); Path(sys.argv[2]).touch()",
            str(lock),
            str(released),
        ],
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "True"  # the holder has it
    with staging.exclusive(lock) as held:
        assert held
        assert released.exists()  # we got it only once the holder was done
    holder.wait()
    assert not lock.exists()  # the last holder removes it


def test_a_killed_build_neither_blocks_nor_stays(tmp_path: Path) -> None:
    """kill -9 in the middle of a build: the lock goes with the process, the next
    build proceeds, and the staging folder left behind is swept."""
    cache, go, builds = tmp_path / "cache", tmp_path / "go", tmp_path / "builds"
    builds.mkdir()
    go.touch()
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, json.dumps(CASE), str(cache), str(go), str(builds)],
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not list(builds.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.02)  # the worker is inside its (slow) build, holding the lock
    proc.kill()
    proc.wait()
    left = list(cache.glob(".tmp-*"))
    assert len(left) == 1 and staging.owner_of(left[0].name) is not None
    lock = cache / f".lock-{mesh_hash(_case())}"
    fd = os.open(lock, os.O_RDWR)  # the killed holder could not remove it...
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # ...but its lock is gone
    finally:
        os.close(fd)
    _age(left[0], staging.DEAD_OWNER_AGE + 1)
    path, cached = ensure_cached(_case(), MPI.COMM_SELF, cache)
    assert not cached
    assert sorted(p.name for p in cache.iterdir()) == [path.name]  # no lock, no staging


# ------------------------------------------------------------------ partial entry
def test_readers_never_see_a_partial_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import confine.mesh as m

    case, cache = _case(), tmp_path / "cache"
    final = cache / mesh_hash(case)
    real = m.build_mesh_files
    seen: dict[str, Any] = {}

    def build_and_look(case: Any, directory: Path, verbose: bool = False) -> dict[str, Any]:
        info = real(case, directory, verbose)
        # every file is written, but only in the hidden staging folder
        seen["staging"] = directory
        seen["final_during_build"] = final.exists()
        return info

    monkeypatch.setattr(m, "build_mesh_files", build_and_look)
    path, cached = ensure_cached(case, MPI.COMM_SELF, cache)
    assert path == final and not cached
    assert not seen["final_during_build"]
    owner = staging.owner_of(seen["staging"].name)
    assert seen["staging"].name.startswith(f".tmp-{final.name}_")
    assert owner == (socket.gethostname().replace("_", "-"), os.getpid())
    assert {p.name for p in final.iterdir()} >= {MESH_FILE, "mesh.h5", INFO_FILE}
    assert [p.name for p in cache.iterdir()] == [final.name]

    def half_build(case: Any, directory: Path, verbose: bool = False) -> dict[str, Any]:
        (directory / MESH_FILE).write_text("half")
        raise OSError("disk full")

    monkeypatch.setattr(m, "build_mesh_files", half_build)
    other = case.replace(**{"mesh.cells_per_pore_diameter": 5})
    with pytest.raises(RuntimeError, match="disk full"):
        ensure_cached(other, MPI.COMM_SELF, cache)
    assert [p.name for p in cache.iterdir()] == [final.name]  # no entry, no staging left


def test_output_folder_appears_only_when_complete(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with io.output_dir(out, MPI.COMM_SELF) as tmp:
        io.write_json(tmp / "metrics.json", {"a": 1})
        assert not out.exists()
        assert tmp.parent == tmp_path and tmp.name.startswith(".run.partial_")
    assert json.loads((out / "metrics.json").read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


# ------------------------------------------------------------------------ stale
def test_stale_staging_folders_are_removed(tmp_path: Path) -> None:
    host = socket.gethostname().replace("_", "-")
    dead, alive = _dead_pid(), os.getpid()
    old = staging.DEAD_OWNER_AGE + 60
    very_old = staging.MAX_AGE + 60
    cache = tmp_path / "cache"
    # (name, age in s, removed?)
    folders = [
        (f".tmp-aa_{host}_{dead}_0000dead", old, True),  # dead owner on this host
        (f".tmp-bb_elsewhere_{alive}_0000beef", very_old, True),  # other host, over a day
        (".tmp-cc-1234-abcdef12", very_old, True),  # older confine: no owner in the name
        (f".tmp-dd_{host}_{alive}_0000a11e", old, False),  # live owner
        (f".tmp-ee_{host}_{dead}_00000new", 0, False),  # dead owner, only just made
        (f".tmp-ff_elsewhere_{alive}_00000b0b", old, False),  # other host, recent
        (".tmp-gg-1234-abcdef12", old, False),  # no owner, recent
    ]
    for name, age, _ in folders:
        (cache / name).mkdir(parents=True)
        (cache / name / "mesh.h5").write_text("partial")
        _age(cache / name, age)
    ensure_cached(_case(), MPI.COMM_SELF, cache)  # building any mesh here sweeps the cache
    for name, _, removed in folders:
        assert (cache / name).exists() != removed, name
    # output folders: the partial siblings of killed runs go the same way
    results = tmp_path / "results"
    siblings = [
        (f".p0001.partial_{host}_{dead}_0000dead", old, True),  # killed run
        (".p0002.partial-x1y2z3w4", very_old, True),  # tempfile.mkdtemp's name, older confine
        (f".p0003.partial_{host}_{alive}_0000a11e", old, False),  # a run still writing
        (".notes.partial-drafts", very_old, False),  # not confine's
    ]
    for name, age, _ in siblings:
        (results / name).mkdir(parents=True)
        _age(results / name, age)
    with io.output_dir(results / "p0004", MPI.COMM_SELF) as tmp:
        io.write_json(tmp / "metrics.json", {})
    left = sorted(p.name for p in results.iterdir())
    assert left == sorted([n for n, _, removed in siblings if not removed] + ["p0004"])


# ------------------------------------------------------------------------ umask
def _modes(top: Path) -> dict[str, int]:
    out = {".": stat.S_IMODE(top.stat().st_mode)}
    for p in top.rglob("*"):
        out[str(p.relative_to(top))] = stat.S_IMODE(p.stat().st_mode)
    return out


def test_files_and_folders_respect_the_umask(tmp_path: Path, umask_022: None) -> None:
    case = _case()
    data = load_mesh(case, MPI.COMM_SELF, tmp_path / "cache")
    mesh_modes = _modes(Path(data.info["directory"]))
    assert set(mesh_modes) >= {".", MESH_FILE, "mesh.h5", INFO_FILE}
    for name, mode in mesh_modes.items():
        assert mode == (0o755 if name == "." else 0o644), (name, oct(mode))
    out = tmp_path / "results" / "run"
    confine.run(case, out=out)
    modes = _modes(out)
    assert "metrics.json" in modes and "case.toml" in modes
    for name, mode in modes.items():
        want = 0o755 if (out / name).is_dir() else 0o644
        assert mode == want, (name, oct(mode))
    # a stricter umask is honoured as well, not replaced by a fixed mode
    os.umask(0o077)
    io.write_json(tmp_path / "private.json", {})
    assert stat.S_IMODE((tmp_path / "private.json").stat().st_mode) == 0o600
