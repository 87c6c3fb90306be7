"""The statistics a benchmark reports: a sample summarised honestly, with its uncertainty.

A timing is one draw from a noisy distribution (other processes, caches, frequency scaling), so
a benchmark keeps every measurement and reports the distribution: mean and median, spread
(standard deviation, min, max, 90th and 99th percentiles), a 95% confidence interval for the
mean, and the measurements Tukey's rule calls outliers.

The confidence interval is Student's t interval, ``mean +- t(0.975, n-1) * s / sqrt(n)``, with
the sample standard deviation ``s`` (``ddof=1``). It is exact for normally distributed samples
and a good approximation for means of ten or more timings. The t quantile is computed here (no
SciPy): the t distribution's CDF is a regularized incomplete beta function, evaluated by its
continued fraction, and inverted by bisection.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from tinytorch.core.errors import ConfigError, explain

__all__ = ["BenchmarkResult", "t_quantile"]


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b), by its continued fraction."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    if x > (a + 1.0) / (a + b + 2.0):  # the fraction converges fast only below this point
        return 1.0 - _incomplete_beta(b, a, 1.0 - x)
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    fraction = d
    for m in range(1, 300):  # modified Lentz evaluation, two terms per step
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            fraction *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return math.exp(log_front) * fraction / a


def _t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom."""
    tail = 0.5 * _incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t distribution with ``df`` degrees of freedom.

    Example:
        >>> round(t_quantile(0.975, 9), 4)  # the 95% two-sided value for ten samples
        2.2622
    """
    if not 0.0 < p < 1.0 or df <= 0:
        raise ConfigError(explain(
            what=f"t_quantile got p={p}, df={df}",
            why="a quantile needs 0 < p < 1 and a positive number of degrees of freedom",
            fix="pass e.g. t_quantile(0.975, n - 1) for a 95% interval from n samples",
        ))
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    low, high = 0.0, 1.0
    while _t_cdf(high, df) < p:  # bracket the root, then halve the bracket
        high *= 2.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if _t_cdf(mid, df) < p else (low, mid)
        if high - low < 1e-12 * max(1.0, high):
            break
    return 0.5 * (low + high)


class BenchmarkResult:
    """Every measurement of one metric, and the statistics that describe them.

    Args:
        metric_name: what was measured, e.g. ``"mlp_latency"``.
        values: the measurements (seconds for latencies; any unit, stated in ``metadata``).
        metadata: anything that explains the numbers (input shape, environment, unit).

    Attributes:
        mean, std, median, min_val, max_val, p90, p99: statistics of ``values``; ``std`` is the
            sample standard deviation (ddof=1; 0 for a single value).
        count: the number of measurements.
        ci_lower, ci_upper: the 95% Student-t confidence interval of the mean (both equal to the
            mean when there is only one measurement: no spread can be estimated from one).
        outliers: the values outside Tukey's fences (1.5 interquartile ranges beyond the
            quartiles), kept in the statistics but reported so a reader can see them.

    Example:
        >>> r = BenchmarkResult("latency", [1.0, 2.0, 3.0, 4.0])
        >>> r.mean, r.median, r.count
        (2.5, 2.5, 4)
        >>> round(r.ci_lower, 3), round(r.ci_upper, 3)
        (0.446, 4.554)
    """

    def __init__(self, metric_name: str, values: Iterable[float],
                 metadata: Mapping[str, Any] | None = None) -> None:
        array = np.asarray(list(values), dtype=np.float64)
        if array.ndim != 1 or array.size == 0 or not np.all(np.isfinite(array)):
            raise ConfigError(explain(
                what=f"BenchmarkResult({metric_name!r}) got values {array.tolist()!r}",
                why="statistics need at least one finite measurement in a flat list",
                fix="pass the list of measured numbers (run the benchmark at least once)",
            ))
        self.metric_name = metric_name
        self.values = array.tolist()
        self.metadata = dict(metadata or {})
        self.count = int(array.size)
        self.mean = float(array.mean())
        self.std = float(array.std(ddof=1)) if self.count > 1 else 0.0
        self.median = float(np.median(array))
        self.min_val = float(array.min())
        self.max_val = float(array.max())
        self.p90, self.p99 = (float(v) for v in np.percentile(array, [90, 99]))
        half_width = (t_quantile(0.975, self.count - 1) * self.std / math.sqrt(self.count)
                      if self.count > 1 else 0.0)
        self.ci_lower, self.ci_upper = self.mean - half_width, self.mean + half_width
        q1, q3 = np.percentile(array, [25, 75])
        fence = 1.5 * (q3 - q1)
        self.outliers = [float(v) for v in array if v < q1 - fence or v > q3 + fence]

    @property
    def cv(self) -> float:
        """Coefficient of variation, std / mean: the noise relative to the signal."""
        return self.std / self.mean if self.mean else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain JSON-ready numbers, lists and strings."""
        return {
            "metric_name": self.metric_name, "count": self.count, "mean": self.mean,
            "std": self.std, "median": self.median, "min": self.min_val, "max": self.max_val,
            "p90": self.p90, "p99": self.p99, "ci_95": [self.ci_lower, self.ci_upper],
            "ci_method": "student-t", "cv": self.cv, "outliers": self.outliers,
            "values": self.values, "metadata": self.metadata,
        }

    def __str__(self) -> str:
        return (f"{self.metric_name}: {self.mean:.6g} +- {self.std:.6g} "
                f"(median {self.median:.6g}, 95% CI [{self.ci_lower:.6g}, {self.ci_upper:.6g}], "
                f"n={self.count}, {len(self.outliers)} outliers)")

    def __repr__(self) -> str:
        return f"BenchmarkResult({self.metric_name!r}, n={self.count}, mean={self.mean:.6g})"
