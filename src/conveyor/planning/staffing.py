"""How many people a queue needs: Erlang C (callers wait as long as it takes) and Erlang A (they
give up after a while), from arrivals, handling time and a service-level target.

Erlang C (M/M/n): offered load ``A = arrivals x handle time`` (Erlangs); the probability of
waiting is ``C = B / (1 - (A/n)(1 - B))`` with Erlang B computed by its recursion
``B(k) = A B(k-1) / (k + A B(k-1))`` (exact, no factorials: 10,000 calls an hour are as easy as
ten); the share answered within ``T`` is ``1 - C exp(-(n - A) T / handle)``.

Erlang A (M/M/n+M, patience exponential with mean ``patience``): the queue's stationary
distribution as a birth-death chain (truncated where its tail is below 1e-15), waiting and
abandonment from it, and the share answered within ``T`` from the tagged caller's passage through
the queue (uniformization of its phase-type time to service, racing its own patience).

The staffing answer is the smallest ``n`` meeting the service level, then raised to respect a
maximum occupancy (``A / n``), then grossed up for shrinkage (breaks, training, absence):
``ceil(n / (1 - shrinkage))``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from conveyor.errors import ConveyorError

__all__ = ["PlanningError", "erlang_a", "erlang_c", "staff"]


class PlanningError(ConveyorError, ValueError):
    """Planning inputs that cannot be used (names the input and the fix)."""

    def __init__(self, message: str, *, hint: str | None = None, field: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.field = field


def _erlang_b(n: int, load: float) -> float:
    b = 1.0
    for k in range(1, n + 1):
        b = load * b / (k + load * b)
    return b


def erlang_c(n: int, load: float, *, handle_seconds: float, answer_seconds: float) -> dict[str, float]:
    """Erlang C figures for ``n`` agents at ``load`` Erlangs: probability of waiting, service
    level (answered within ``answer_seconds``), average speed of answer (s), occupancy."""
    if n <= load:
        return {"probability_of_waiting": 1.0, "service_level": 0.0, "average_wait_seconds": math.inf, "occupancy": 1.0}
    b = _erlang_b(n, load)
    c = b / (1 - (load / n) * (1 - b))
    return {
        "probability_of_waiting": c,
        "service_level": 1 - c * math.exp(-(n - load) * answer_seconds / handle_seconds),
        "average_wait_seconds": c * handle_seconds / (n - load),
        "occupancy": load / n,
    }


def _queue_distribution(n: int, lam: float, mu: float, theta: float) -> np.ndarray:
    """Stationary probabilities of 0, 1, 2... callers in an M/M/n+M system (truncated)."""
    logs = [0.0]
    for k in range(1, n + 1):  # log(A^k / k!) without overflow
        logs.append(logs[-1] + math.log(lam / (k * mu)))
    peak, j = max(logs), 0
    while True:
        j += 1
        step = math.log(lam / (n * mu + j * theta))
        logs.append(logs[-1] + step)
        peak = max(peak, logs[-1])
        if (step < 0 and logs[-1] < peak - 36) or j > 200_000:  # the tail is below ~1e-16 of the peak
            break
    arr = np.array(logs)
    p = np.exp(arr - arr.max())
    return np.asarray(p / p.sum())


def _served_within(weights: np.ndarray, n: int, mu: float, theta: float, t: float) -> float:
    """Of callers who wait, arriving with ``j`` ahead with probability ``weights[j]`` (unnormalized),
    the mass that reaches an agent within ``t`` before giving up (uniformization)."""
    if t <= 0 or weights.sum() == 0:
        return 0.0
    size = len(weights)
    ahead = np.arange(size)
    advance = n * mu + ahead * theta  # the queue moves: a service ends, or someone ahead gives up
    rate = float(advance.max() + theta)
    v = weights.astype(float).copy()
    served = 0.0
    lt = rate * t
    steps = int(lt + 10 * math.sqrt(lt) + 20)
    log_w = -lt  # log of the Poisson weight of m steps
    total = 0.0
    p_adv = advance / rate
    p_stay = 1 - (advance + theta) / rate
    for m in range(steps + 1):
        if m:
            log_w += math.log(lt / m)
            moved = v * p_adv
            served += moved[0]
            v = v * p_stay
            v[:-1] += moved[1:]
        total += math.exp(log_w) * served
    return float(total)


def erlang_a(
    n: int, arrivals_per_second: float, *, handle_seconds: float, patience_seconds: float, answer_seconds: float
) -> dict[str, float]:
    """Erlang A figures for ``n`` agents: probability of waiting, share abandoning, service level
    (share of all callers answered within ``answer_seconds``), average wait (s), occupancy."""
    mu, theta, lam = 1 / handle_seconds, 1 / patience_seconds, arrivals_per_second
    p = _queue_distribution(n, lam, mu, theta)
    waiting = p[n:]
    queue = np.arange(len(waiting))
    p_wait = float(waiting.sum())
    mean_queue = float((queue * waiting).sum())
    abandon = theta * mean_queue / lam
    busy = float((np.minimum(np.arange(len(p)), n) * p).sum())
    within = _served_within(waiting, n, mu, theta, answer_seconds)
    return {
        "probability_of_waiting": p_wait,
        "abandonment": abandon,
        "service_level": (1 - p_wait) + within,
        "average_wait_seconds": mean_queue / lam,  # Little's law over everyone who arrives
        "occupancy": busy / n,
    }


def _check(name: str, value: float | None, low: float, high: float | None = None, *, strict: bool = False) -> None:
    if value is None:
        return
    bad = value <= low if strict else value < low
    if bad or (high is not None and value > high):
        bound = f"above {low:g}" if strict else f"at least {low:g}"
        raise PlanningError(
            f"--{name.replace('_', '-')}: {value:g} must be {bound}"
            + (f" and at most {high:g}" if high is not None else ""),
            field=name,
        )


def staff(
    *,
    arrivals_per_hour: float,
    handle_seconds: float,
    service_level: float,
    answer_seconds: float,
    max_occupancy: float | None = None,
    shrinkage: float = 0.0,
    patience_seconds: float | None = None,
) -> dict[str, Any]:
    """Agents needed: ``{"agents", "agents_with_shrinkage", "service_level",
    "probability_of_waiting", "occupancy", ...}`` (Erlang A when ``patience_seconds`` is given)."""
    _check("arrivals_per_hour", arrivals_per_hour, 0)
    _check("handle_seconds", handle_seconds, 0, strict=True)
    _check("service_level", service_level, 0, 1, strict=True)
    _check("answer_seconds", answer_seconds, 0)
    _check("max_occupancy", max_occupancy, 0, 1, strict=True)
    _check("shrinkage", shrinkage, 0, 0.95)
    _check("patience_seconds", patience_seconds, 0, strict=True)
    load = arrivals_per_hour * handle_seconds / 3600
    if arrivals_per_hour == 0:
        return {
            "agents": 0,
            "agents_with_shrinkage": 0,
            "load_erlangs": 0.0,
            "service_level": 1.0,
            "probability_of_waiting": 0.0,
            "occupancy": 0.0,
            "model": "none",
        }

    def figures(k: int) -> dict[str, float]:
        if patience_seconds is None:
            return erlang_c(k, load, handle_seconds=handle_seconds, answer_seconds=answer_seconds)
        return erlang_a(
            k,
            arrivals_per_hour / 3600,
            handle_seconds=handle_seconds,
            patience_seconds=patience_seconds,
            answer_seconds=answer_seconds,
        )

    n = max(1, math.floor(load) + 1)
    while (
        erlang_c(n, load, handle_seconds=handle_seconds, answer_seconds=answer_seconds)["service_level"] < service_level
    ):
        n += 1
    if patience_seconds is not None:  # from Erlang C's answer: callers who give up usually need fewer
        while n > 1 and figures(n - 1)["service_level"] >= service_level:
            n -= 1
        while figures(n)["service_level"] < service_level:
            n += 1
    by_service = n
    if max_occupancy is not None:
        n = max(n, math.ceil(load / max_occupancy - 1e-9))
    out = figures(n)
    return {
        "agents": n,
        "agents_with_shrinkage": math.ceil(n / (1 - shrinkage) - 1e-9),
        "agents_for_service_level": by_service,
        "load_erlangs": round(load, 4),
        "model": "erlang_c" if patience_seconds is None else "erlang_a",
        **{k: (round(v, 6) if math.isfinite(v) else None) for k, v in out.items()},
    }
