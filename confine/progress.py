"""Progress of long steps: a live line on a terminal, quiet logs otherwise."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("confine")


def interactive() -> bool:
    """Whether stderr is a terminal (progress shown) rather than a log file or pipe."""
    return sys.stderr.isatty()


@contextmanager
def step(name: str, rank: int = 0) -> Iterator[dict[str, float]]:
    """Time a step; show it while it runs on a terminal, log its duration otherwise.

    Yields:
        A dict whose ``seconds`` entry holds the wall time once the step ends.
    """
    timing = {"seconds": 0.0}
    show = rank == 0 and interactive() and log.isEnabledFor(logging.INFO)
    if show:
        sys.stderr.write(f"  {name} ...")
        sys.stderr.flush()
    t0 = time.perf_counter()
    try:
        yield timing
    finally:
        timing["seconds"] = time.perf_counter() - t0
        if show:
            sys.stderr.write(f"\r  {name}: {timing['seconds']:.2f} s\n")
            sys.stderr.flush()
        elif rank == 0:
            log.debug("%s: %.2f s", name, timing["seconds"])
