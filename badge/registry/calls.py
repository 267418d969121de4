"""How the registry answers: latency buckets and failures of its calls, for /metrics.

Each backend owns one `CallStats` and measures every transaction it opens (a read or a
write). Calls run in worker threads, so the counts change under a lock; a database round
trip costs far more than taking it.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final, Literal

Kind = Literal["read", "write"]
KINDS: Final[tuple[Kind, ...]] = ("read", "write")
# Upper bounds of the latency buckets, in seconds (Prometheus' `le`); +Inf follows.
BOUNDS: Final[tuple[float, ...]] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class KindSnapshot:
    buckets: tuple[int, ...]  # per bucket (not cumulative), the last one +Inf
    seconds: float
    errors: int


class CallStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets = {kind: [0] * (len(BOUNDS) + 1) for kind in KINDS}
        self._seconds = dict.fromkeys(KINDS, 0.0)
        self._errors = dict.fromkeys(KINDS, 0)

    @contextmanager
    def measure(self, kind: Kind, failures: tuple[type[BaseException], ...]) -> Iterator[None]:
        """Time the block; count it as failed when it raises one of `failures` (the
        database's own errors, not a refused edit, which is an answer)."""
        started = time.perf_counter()
        failed = False
        try:
            yield
        except failures:
            failed = True
            raise
        finally:
            elapsed = time.perf_counter() - started
            with self._lock:
                self._buckets[kind][bisect_left(BOUNDS, elapsed)] += 1
                self._seconds[kind] += elapsed
                if failed:
                    self._errors[kind] += 1

    def snapshot(self) -> dict[Kind, KindSnapshot]:
        with self._lock:
            return {
                kind: KindSnapshot(
                    tuple(self._buckets[kind]), self._seconds[kind], self._errors[kind]
                )
                for kind in KINDS
            }
