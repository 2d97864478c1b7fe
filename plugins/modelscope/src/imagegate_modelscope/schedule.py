"""When to poll a ModelScope task: soon enough to learn of the image quickly, rarely enough
not to hammer the service. The reference client polls every 3 s and the official sample
every 5 s, so they learn of a finished image 1.5-2.5 s late on average;
bench/modelscope_polling.py measures what this does instead.

Floor: after the first `FLOOR_AFTER` seconds no two polls are less than `FLOOR` (1 s)
apart, whatever the rest of the schedule says: fast polls are for the short tasks only.

Cold (no task of this model has finished in this process yet): 0.25 s, growing x1.5 to 1 s,
so a task that ends after t seconds is seen at most ~max(0.5 t, 1 s) late.
Warm (tasks of this model took about E seconds): back off faster (x2, up to 4 s) but never
sleep past E, then poll every max(0.1 s, 0.05 E) growing x1.5 to 1 s. E is learned from the
tasks seen: the midpoint between the last poll that found a task unfinished and the first
that found it done, smoothed over tasks so a changing queue moves it.
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["DURATIONS", "Durations", "Schedule"]

FIRST = 0.25
GROWTH = 1.5
CAP = 1.0
WARM_GROWTH = 2.0
WARM_CAP = 4.0
LATE_FRACTION = 0.05
LATE_FLOOR = 0.1
SMOOTHING = 0.5
FLOOR = 1.0
FLOOR_AFTER = 2.0


class Schedule:
    """The delay before each next poll, given the seconds since the task was submitted."""

    def __init__(self, expected: float | None = None) -> None:
        self.expected = expected
        self._cold = FIRST
        self._warm = FIRST
        self._late: float | None = None

    def next_delay(self, elapsed: float) -> float:
        delay = self._next(elapsed)
        return max(delay, FLOOR) if elapsed >= FLOOR_AFTER else delay

    def _next(self, elapsed: float) -> float:
        expected = self.expected
        if expected is None:
            delay, self._cold = self._cold, min(CAP, self._cold * GROWTH)
            return delay
        if expected - elapsed > LATE_FLOOR / 2:
            delay = min(self._warm, expected - elapsed)
            self._warm = min(WARM_CAP, self._warm * WARM_GROWTH)
            return delay
        if self._late is None:
            self._late = max(LATE_FLOOR, LATE_FRACTION * expected)
        delay, self._late = self._late, min(CAP, self._late * GROWTH)
        return delay


class Durations:
    """How long finished tasks took, per (service, model): the `expected` of new schedules."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._expected: OrderedDict[tuple[str, str], float] = OrderedDict()

    def expected(self, key: tuple[str, str]) -> float | None:
        return self._expected.get(key)

    def observe(self, key: tuple[str, str], unfinished_at: float, done_at: float) -> None:
        """A task was unfinished at `unfinished_at` s and done at `done_at` s after submit."""
        estimate = (unfinished_at + done_at) / 2
        previous = self._expected.pop(key, None)
        if previous is not None:
            estimate = SMOOTHING * previous + (1 - SMOOTHING) * estimate
        self._expected[key] = estimate
        while len(self._expected) > self._size:
            self._expected.popitem(last=False)

    def clear(self) -> None:
        self._expected.clear()


DURATIONS = Durations()
"""Process-wide, so every Gate (and every concurrent request) learns from every task."""
