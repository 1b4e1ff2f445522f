"""Start worker processes that do not re-run the caller's script.

The ``spawn`` start method (the safe one beside MPI, PETSc and threads) re-runs
the parent's main script in every worker, as ``__mp_main__``, so that objects
defined there can be unpickled. A script that calls ``confine.sweep(..., jobs=2)``
without an ``if __name__ == "__main__":`` guard would then run again in each
worker, and fail there. Sweep workers run only confine's own functions, so
:func:`spawn_context` hides the caller's ``__main__`` from the spawn hand-off:
the workers start from a clean interpreter and import only what they unpickle.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import signal
import sys
import types
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing.context import BaseContext, SpawnContext, SpawnProcess
from typing import Any


@contextmanager
def _main_hidden() -> Iterator[None]:
    """Replace ``sys.modules["__main__"]`` by an empty module while a worker starts.

    With no ``__file__`` and no ``__spec__`` on ``__main__``, spawn's preparation
    data names no main module and the worker imports none.
    """
    main = sys.modules["__main__"]
    stub = types.ModuleType("__main__")
    stub.__spec__ = None
    sys.modules["__main__"] = stub
    try:
        yield
    finally:
        sys.modules["__main__"] = main


class _Process(SpawnProcess):
    """A spawned process whose start-up does not carry the caller's main script."""

    @staticmethod
    def _Popen(process_obj: Any) -> Any:  # multiprocessing's name
        with _main_hidden():
            return SpawnProcess._Popen(process_obj)


class _Context(SpawnContext):
    Process = _Process


def spawn_context(keep_main: bool = False) -> BaseContext:
    """The ``spawn`` context for a process pool, its workers kept from ``__main__``.

    Args:
        keep_main: Give the workers the caller's main module after all (spawn's own
            behaviour), when they must unpickle something defined there, e.g. a
            runner function written in the calling script.

    Returns:
        A multiprocessing context for ``ProcessPoolExecutor(mp_context=...)``.
    """
    if keep_main:
        return mp.get_context("spawn")
    return _Context()


def init_worker() -> None:
    """Pool workers leave Ctrl-C to the parent, die on SIGTERM, and die with the parent.

    On Linux a worker gets SIGTERM when its parent dies (even by SIGKILL), so that no
    orphan goes on running points beside a restarted sweep or fit.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            pr_set_pdeathsig = 1
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
            if os.getppid() == 1:  # the parent died before prctl
                os._exit(1)


def worker_pool(workers: int, runner: Any = None) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes started by :func:`init_worker`, kept from
    the caller's ``__main__`` unless ``runner`` (what they will run) is defined there."""
    keep_main = getattr(runner, "__module__", None) == "__main__"
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=spawn_context(keep_main), initializer=init_worker
    )
