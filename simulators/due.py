"""What the simulators share to call back later: a few threads running jobs in due-time order
(callbacks, delivery reports), without a thread per job."""

import heapq
import itertools
import logging
import threading
import time

log = logging.getLogger("simulators")


class DueQueue:
    """``schedule(due, fn, *args)`` runs ``fn(*args)`` once ``time.monotonic()`` reaches ``due``."""

    def __init__(self, threads: int):
        self.heap: list = []
        self.order = itertools.count()
        self.ready = threading.Condition()
        for _ in range(threads):
            threading.Thread(target=self._run, daemon=True).start()

    def schedule(self, due: float, fn, *args) -> None:
        with self.ready:
            heapq.heappush(self.heap, (due, next(self.order), fn, args))
            self.ready.notify()

    def clear(self) -> None:
        with self.ready:
            self.heap.clear()

    def _run(self) -> None:
        while True:
            with self.ready:
                while not self.heap or self.heap[0][0] > time.monotonic():
                    timeout = self.heap[0][0] - time.monotonic() if self.heap else None
                    self.ready.wait(timeout)
                _, _, fn, args = heapq.heappop(self.heap)
            try:
                fn(*args)
            except Exception:
                log.exception("simulator.job_crashed fn=%s", getattr(fn, "__name__", fn))
