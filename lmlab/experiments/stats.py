"""Seed noise: mean ± standard deviation over seeds, and when a difference between two arms is clear.

A training run is one draw: another seed gives another initialisation and other batches, and a
slightly different final loss. So an arm is trained with several seeds and reported as
mean ± std (the sample standard deviation, n - 1 in the denominator). The rule used by every
experiment to call a difference:

    clear  when  |mean_a - mean_b| > std_a + std_b     (the two mean ± std intervals do not overlap)

otherwise the answer says "no clear difference". With one seed there is no spread to compare
against, and the answer says the difference was measured on one seed only.
"""

from __future__ import annotations

import statistics


def mean_std(values: list[float]) -> tuple[float, float]:
    """(mean, sample standard deviation); the deviation of a single value is 0."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def spread(values: list[float], digits: int = 3) -> str:
    """'2.341 ± 0.012' (or '2.341' for a single seed)."""
    mean, std = mean_std(values)
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if len(values) > 1 else f"{mean:.{digits}f}"


def clear_difference(a: list[float], b: list[float]) -> bool:
    """Whether mean(a) and mean(b) differ by more than the sum of their standard deviations."""
    (mean_a, std_a), (mean_b, std_b) = mean_std(a), mean_std(b)
    return abs(mean_a - mean_b) > std_a + std_b


def verdict(name_a: str, a: list[float], name_b: str, b: list[float], what: str, digits: int = 3) -> str:
    """One sentence comparing two arms on a lower-is-better measure (a loss), by the rule above."""
    numbers = f"{name_a} {spread(a, digits)} vs {name_b} {spread(b, digits)}"
    seeds = f" over {min(len(a), len(b))} seeds" if min(len(a), len(b)) > 1 else " on one seed, no noise estimate"
    if min(len(a), len(b)) > 1 and not clear_difference(a, b):
        return f"{what}: no clear difference ({numbers}){seeds}: the seed spread covers the gap."
    if round(statistics.fmean(a), digits) == round(statistics.fmean(b), digits):
        return f"{what}: the same to {digits} decimals ({numbers}){seeds}."
    better = name_a if statistics.fmean(a) < statistics.fmean(b) else name_b
    return f"{what}: {better} is lower ({numbers}){seeds}."
