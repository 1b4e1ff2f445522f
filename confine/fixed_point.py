"""Anderson acceleration of a fixed-point iteration x = G(x).

The film's effectiveness factors are such an iteration (the particle in the
film's electrolyte gives new factors, the film solved with them gives a new
electrolyte). It contracts linearly, by 0.2–0.7 a pass depending on the
Nernst layer and the kinetics; plain passes then need tens of particle and
film solves. Anderson's type-II update (Walker & Ni, SIAM J. Numer. Anal. 49,
1715, 2011) takes the combination of the last few passes whose residual
G(x) − x is least, which for a linear contraction settles in a few passes.
"""

from __future__ import annotations

import numpy as np

#: Passes kept: the update is exact for a linear map of this many directions.
DEPTH = 3


class Anderson:
    """The next iterate of x = G(x) from the passes so far (type II, depth :data:`DEPTH`).

    Args:
        depth: passes kept.
        positive: the iterate must stay positive (factors, concentrations): an
            accelerated step that leaves that set is replaced by the plain one.
    """

    def __init__(self, depth: int = DEPTH, positive: bool = True):
        self.depth = depth
        self.positive = positive
        self._x: list[np.ndarray] = []
        self._g: list[np.ndarray] = []

    def step(self, x: np.ndarray, g: np.ndarray) -> np.ndarray:
        """The next iterate after the pass x → G(x) = ``g``.

        The plain step ``g`` on the first pass, after a change of length, and
        where the least-squares combination is not finite or not positive.
        """
        x, g = np.asarray(x, dtype=float), np.asarray(g, dtype=float)
        if self._x and self._x[-1].shape != x.shape:
            self._x, self._g = [], []
        self._x = [*self._x, x][-(self.depth + 1) :]
        self._g = [*self._g, g][-(self.depth + 1) :]
        if len(self._x) < 2:
            return g
        f = np.array([gi - xi for xi, gi in zip(self._x, self._g, strict=True)])
        d_f = np.diff(f, axis=0).T  # columns f_{i+1} − f_i
        d_g = np.diff(np.array(self._g), axis=0).T
        gamma, *_ = np.linalg.lstsq(d_f, f[-1], rcond=None)
        nxt = g - d_g @ gamma
        if not np.all(np.isfinite(nxt)) or (self.positive and np.any(nxt <= 0.0)):
            self._x, self._g = [], []  # start again from the plain step
            return g
        return nxt
