"""Progress of long work: a live line on a terminal, quiet logs otherwise.

:func:`step` times one stage of a run (and shows it); :func:`recording` is the
public hook that collects the wall and CPU time of every step ending inside
it (``confine bench``); :class:`Tally` is the live counter of finished items
(a sweep's points, a fit's evaluations): drawn live on a terminal, its
:meth:`Tally.text` logged once per item otherwise.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("confine")

#: Open :func:`recording` blocks (innermost last): each gets every step's times.
_recorders: list[dict[str, dict[str, float]]] = []


def interactive() -> bool:
    """Whether stderr is a terminal (progress shown) rather than a log file or pipe."""
    return sys.stderr.isatty()


def hms(seconds: float) -> str:
    """``H:MM:SS`` of a duration (whole seconds)."""
    s = int(seconds)
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


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
    c0, t0 = time.process_time(), time.perf_counter()
    try:
        yield timing
    finally:
        timing["seconds"] = time.perf_counter() - t0
        for phases in _recorders:
            phases[name] = {"wall_s": timing["seconds"], "cpu_s": time.process_time() - c0}
        if show:
            sys.stderr.write(f"\r  {name}: {timing['seconds']:.2f} s\n")
            sys.stderr.flush()
        elif rank == 0:
            log.debug("%s: %.2f s", name, timing["seconds"])


@contextmanager
def recording() -> Iterator[dict[str, dict[str, float]]]:
    """Collect the times of every :func:`step` that ends inside the block.

    CPU time is this process's (all its threads).

    Yields:
        ``{step name: {"wall_s": ..., "cpu_s": ...}}``, filled as steps end (a step
        run twice keeps its last times).
    """
    phases: dict[str, dict[str, float]] = {}
    _recorders.append(phases)
    try:
        yield phases
    finally:
        _recorders.remove(phases)


class Tally:
    """A live ``label: done/total done, failed failed, elapsed, ~left`` line on a terminal.

    Nothing is drawn when ``live`` is False (not a terminal, logging above INFO,
    or the caller says so): the caller logs one line per item instead.
    """

    def __init__(self, label: str, total: int, already: int = 0, live: bool = True):
        """Start counting.

        Args:
            label: what is counted, e.g. ``"sweep pore-size"``.
            total: number of items.
            already: items finished before this run (left out of the time estimate).
            live: draw the line (also needs a terminal and INFO logging).
        """
        self.label, self.total, self.already = label, total, already
        self.live = live and interactive() and log.isEnabledFor(logging.INFO)
        self.t0 = time.perf_counter()

    def clear(self) -> None:
        """Erase the live line (before a log message, so that it stands alone)."""
        if self.live:
            sys.stderr.write("\r\033[K")

    def text(self, done: int, failed: int) -> str:
        """``label: done/total done, failed failed, elapsed, ~left`` for these counts."""
        elapsed = time.perf_counter() - self.t0
        new = done + failed - self.already
        left = self.total - done - failed
        eta = f", ~{hms(elapsed / new * left)} left" if new > 0 and left > 0 else ""
        return f"{self.label}: {done}/{self.total} done, {failed} failed, {hms(elapsed)}{eta}"

    def draw(self, done: int, failed: int, final: bool = False) -> None:
        """Redraw the line with these counts (``final``: end it with a newline)."""
        if not self.live:
            return
        sys.stderr.write(f"\r  {self.text(done, failed)}   " + ("\n" if final else ""))
        sys.stderr.flush()
