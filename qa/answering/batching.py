"""One worker thread that answers requests in batches: those that arrive while a batch runs
wait together and form the next one.

Why one thread: two CPU cores are already busy with one forward pass, fast tokenizers must
not be shared between threads, and glibc gives every thread that allocates its own malloc
arenas (up to 8 per core) and keeps what is freed in them: the models' working memory, left
behind in the arenas of many callers' threads, made a server's RSS grow for rounds
(benchmarks/soak_app.py). Callers only wait.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future
from typing import Callable, Generic, Sequence, TypeVar

log = logging.getLogger(__name__)

Request = TypeVar("Request")
Result = TypeVar("Result")

# The worker thread ends after this long without a request (the next one starts a new one),
# so an idle system holds no thread and a dropped one can be garbage-collected.
IDLE_SECONDS = 30.0
# Sizes and seconds of the most recent batches, for benchmarks and logs.
RECENT_BATCHES = 1000


class BatchWorker(Generic[Request, Result]):
    """Runs ``answer(batch)`` on its own thread for batches of at most ``max_batch`` requests.

    ``answer`` gets the requests of a batch in arrival order and returns one outcome per
    request: its result, or the exception that only that request's caller gets. An
    exception raised by ``answer`` itself goes to every caller of the batch.
    """

    def __init__(self, answer: Callable[[list[Request]], Sequence[Result | BaseException]], *,
                 max_batch: int, name: str = "qa-ask", idle_seconds: float = IDLE_SECONDS) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self._answer = answer
        self.max_batch = max_batch
        self._name = name
        self._idle_seconds = idle_seconds
        self._pending: deque[tuple[Request, Future]] = deque()
        self._wakeup = threading.Condition()
        self._thread: threading.Thread | None = None
        self.recent: deque[tuple[int, float]] = deque(maxlen=RECENT_BATCHES)  # (size, seconds)

    def submit(self, request: Request) -> Result:
        """Queue ``request`` and wait for its outcome (raised if it is an exception)."""
        future: Future = Future()
        with self._wakeup:
            self._pending.append((request, future))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._wakeup.notify()
        return future.result()

    def _run(self) -> None:
        while True:
            with self._wakeup:
                if not self._pending:
                    self._wakeup.wait(self._idle_seconds)
                if not self._pending:
                    self._thread = None    # submit starts a new thread from here on
                    return
                batch = [self._pending.popleft() for _ in range(min(self.max_batch, len(self._pending)))]
            self._serve(batch)

    def _serve(self, batch: list[tuple[Request, Future]]) -> None:
        started = time.perf_counter()
        try:
            outcomes = list(self._answer([request for request, _ in batch]))
            if len(outcomes) != len(batch):
                raise RuntimeError(f"{len(outcomes)} outcomes for a batch of {len(batch)} requests")
        except BaseException as error:  # noqa: BLE001 - every caller must hear of it, and the worker go on
            outcomes = [error] * len(batch)
        seconds = time.perf_counter() - started
        self.recent.append((len(batch), seconds))
        log.debug("answered a batch of %d in %.2f s", len(batch), seconds)
        for (_, future), outcome in zip(batch, outcomes):
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
