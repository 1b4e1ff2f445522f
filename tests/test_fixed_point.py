"""Anderson acceleration (confine.fixed_point): a linear contraction settles in a few
passes where plain passes need tens, and a step out of the positive set is not taken."""

from __future__ import annotations

import numpy as np

from confine.fixed_point import Anderson


def _iterate(g, x0: np.ndarray, passes: int, accelerate: Anderson | None) -> list[float]:
    """The residual |G(x) − x| of every pass."""
    x, out = x0, []
    for _ in range(passes):
        gx = g(x)
        out.append(float(np.max(np.abs(gx - x))))
        x = gx if accelerate is None else accelerate.step(x, gx)
    return out


def test_a_linear_contraction_settles_in_depth_plus_two_passes() -> None:
    """G(x) = A x + b with spectral radius 0.9 in three directions: plain passes shrink
    the residual by 0.9 each; type-II Anderson of depth 3 is exact for it (the residuals
    of 4 passes span the 3 directions), so the fifth pass is at the fixed point to
    round-off."""
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    a = q @ np.diag([0.9, 0.7, -0.5]) @ q.T
    b = np.array([0.3, 0.2, 0.5])
    fixed = np.linalg.solve(np.eye(3) - a, b)
    g = lambda x: a @ x + b  # noqa: E731
    x0 = fixed + q @ np.full(3, 0.1)  # 0.1 along every direction
    plain = _iterate(g, x0, 6, None)
    fast = _iterate(g, x0, 6, Anderson(depth=3, positive=False))
    # plain: the 0.9 direction's residual is 0.1 · 0.1 · 0.9^5 = 5.9e-3 after 5 passes,
    # at least that over √3 in the max norm
    assert plain[5] > 5.9e-3 / np.sqrt(3) * 0.99
    assert fast[4] < 1e-12 * fast[0]


def test_a_step_out_of_the_positive_set_is_replaced_by_the_plain_one() -> None:
    """Factors must stay positive: where the extrapolation gives a value ≤ 0, the plain
    step G(x) is taken and the history starts again."""
    acc = Anderson(depth=2)
    x0, g0 = np.array([1.0]), np.array([0.5])
    assert acc.step(x0, g0) == np.array([0.5])  # the first pass is plain
    # residuals -0.5 then -0.45: the secant extrapolates far below zero
    nxt = acc.step(np.array([0.5]), np.array([0.05]))
    assert nxt == np.array([0.05])
    assert acc.step(np.array([0.05]), np.array([0.04])) == np.array([0.04])  # history reset
