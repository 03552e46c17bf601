"""A vectorised case simulator: every case advances one step at a time, all at once, in numpy.

A :class:`Flow` is a Markov chain over activities whose transition probabilities and waiting
times may depend on a per-case class (a queue, a customer segment...). That is enough to plant
the problems real operations have: a slow step, a rework loop, a slow queue.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Flow", "simulate"]

_US_PER_HOUR = 3_600_000_000


@dataclass
class Flow:
    """Activities, where cases start, how they move on and how long they wait.

    ``moves[k][a]`` maps next activity (or ``None`` for the end) to its probability for a case of
    class ``k`` that just did activity ``a``; ``wait_hours[k][a]`` is the median wait before
    activity ``a`` (lognormal, spread ``sigma``); ``resources[a]`` the pool doing ``a``, or
    ``class_resources[a][k]`` for a case of class ``k`` (a queue's own agents).
    """

    activities: list[str]
    start: str
    moves: list[dict[str, dict[str | None, float]]]
    wait_hours: list[dict[str, float]]
    resources: dict[str, list[str]]
    class_resources: dict[str, list[list[str]]] = field(default_factory=dict)
    sigma: float = 0.8
    max_steps: int = 60

    def matrices(self) -> tuple[np.ndarray, np.ndarray]:
        """Cumulative transition table (class, from, to|end) and median waits (class, activity)."""
        n = len(self.activities)
        index = {a: i for i, a in enumerate(self.activities)}
        classes = len(self.moves)
        cum = np.zeros((classes, n, n + 1))
        waits = np.ones((classes, n))
        for k in range(classes):
            for a, nxt in self.moves[k].items():
                row = np.zeros(n + 1)
                for b, p in nxt.items():
                    row[n if b is None else index[b]] += p
                if row.sum() <= 0:
                    row[n] = 1.0
                cum[k, index[a]] = np.cumsum(row / row.sum())
            for a in self.activities:
                if a not in self.moves[k]:  # no way out: the case ends here
                    cum[k, index[a], n] = 1.0
            for a, h in self.wait_hours[k].items():
                waits[k, index[a]] = h
        return cum, waits


def simulate(
    flow: Flow,
    *,
    arrivals_us: np.ndarray,
    classes: np.ndarray,
    rng: np.random.Generator,
    case_offset: int = 0,
) -> dict[str, np.ndarray]:
    """Run every case through ``flow``; returns event columns (case, activity, ts_us, resource).

    ``arrivals_us`` are the cases' start times (microseconds since the epoch, int64) and
    ``classes`` their class numbers. Events come out grouped by step, not sorted.
    """
    cum, waits = flow.matrices()
    n_act = len(flow.activities)
    start = flow.activities.index(flow.start)
    n = len(arrivals_us)
    case = np.arange(n, dtype=np.int64)
    state = np.full(n, start, dtype=np.int64)
    t = arrivals_us.astype(np.int64).copy()
    cls = classes.astype(np.int64)
    out_case, out_act, out_ts, out_cls = [], [], [], []
    for _ in range(flow.max_steps):
        if case.size == 0:
            break
        out_case.append(case + case_offset)
        out_cls.append(cls.copy())
        out_act.append(state.copy())
        out_ts.append(t.copy())
        u = rng.random(case.size)
        table = cum[cls, state]  # (m, n_act + 1)
        nxt = (u[:, None] > table).sum(axis=1)
        alive = nxt < n_act
        case, state, t, cls = case[alive], nxt[alive], t[alive], cls[alive]
        median = waits[cls, state]
        wait = median * np.exp(flow.sigma * rng.standard_normal(case.size))
        t = t + (wait * _US_PER_HOUR).astype(np.int64) + 1_000_000  # at least a second apart
    acts = np.concatenate(out_act) if out_act else np.zeros(0, np.int64)
    pools = [flow.resources.get(a, ["system"]) for a in flow.activities]
    sizes = np.array([len(p) for p in pools])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    flat = [r for p in pools for r in p]
    u = rng.random(acts.size)
    resource = np.array(flat, dtype=object)[offsets[acts] + (u * sizes[acts]).astype(np.int64)]
    if flow.class_resources:
        event_cls = np.concatenate(out_cls) if out_cls else np.zeros(0, np.int64)
        for name, per_class in flow.class_resources.items():
            for k, people in enumerate(per_class):
                at = (acts == flow.activities.index(name)) & (event_cls == k)
                resource[at] = np.array(people, dtype=object)[(u[at] * len(people)).astype(np.int64)]
    return {
        "case": np.concatenate(out_case) if out_case else np.zeros(0, np.int64),
        "activity": acts,
        "ts_us": np.concatenate(out_ts) if out_ts else np.zeros(0, np.int64),
        "resource": resource,
    }
