"""Where the chunks of a simulation are computed, and how their results come back in order.

A simulation (and the probability solve) cuts its draws into chunks and maps one
module-level function ``fn(shared, start, count)`` over them, where ``shared`` is what every
chunk needs (the :class:`~cipmodel.montecarlo.context.SimulationContext`: the compiled plan,
the priors' input model, the sampler, the rule packs). :meth:`Runner.map` hands the chunks'
results back **in chunk order**, whatever order they were computed in, so whatever is merged
from them never depends on where, when or in what grouping a chunk ran.

The runners (:func:`open_runner` picks one):

* **inline**: in the calling thread (``workers=1``, the default).
* **threads**: a thread pool of ``workers`` threads in this process (NumPy releases the GIL),
  with a chunk queued behind each one being computed.
* **executor**: any :class:`concurrent.futures.Executor` — a
  :class:`~concurrent.futures.ProcessPoolExecutor`, Dask's ``client.get_executor()``, ... —
  whose workers may be other processes. ``shared`` is pickled once here and sent with the
  first wave of tasks only; each worker process keeps it in a module-level cache keyed by a
  token, so later tasks carry just ``(token, start, count)``. A worker that has not seen it
  answers "missing" and the task is sent again with it.
* **dask**: a Dask distributed ``Client`` (or a scheduler address): ``shared`` is scattered
  to every worker once (``broadcast=True``) and tasks are submitted with
  :data:`DASK_RETRIES` retries; a lost worker costs only the tasks it held, which the
  scheduler runs again elsewhere (with the same draws, so the result does not change).

Remote tasks (executor and dask) group consecutive chunks so that a task holds about
:data:`TASK_SECONDS` of work: the first tasks hold one chunk each and report how long their
worker took; later tasks hold as many chunks as that time says (at most
:data:`MAX_GROUP`). Grouping changes only how chunks travel, never a result.

Everything a worker runs is a module-level function and picklable data. A worker checks it
runs the same versions of cipmodel, NumPy and SciPy as the caller (results are bit-identical
only then) and refuses otherwise. Dask is imported only when a client or address is used.
"""

from __future__ import annotations

import contextlib
import math
import os
import pickle
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError, Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cipmodel.montecarlo.distributions import SimulationError
from cipmodel.montecarlo.samplers import Sampler

__all__ = [
    "CONNECT_TIMEOUT",
    "DASK_RETRIES",
    "DISTRIBUTED_EXTRA",
    "MAX_GROUP",
    "TASK_SECONDS",
    "ChunkFn",
    "Missing",
    "Runner",
    "Shared",
    "check_workers",
    "max_workers",
    "connect",
    "open_runner",
    "run_cached",
    "run_shared",
    "sample_points",
]

#: Seconds of work a remote task aims at: well above the ~1-5 ms a task costs to schedule,
#: ship and fold (docs/scale-out.md), small enough to spread a run over many workers.
TASK_SECONDS = 0.2
#: At most this many chunks in one remote task.
MAX_GROUP = 64
#: Times Dask runs a task again after it raised (a worker lost mid-task is rescheduled by
#: the scheduler itself, up to ``distributed.scheduler.allowed-failures`` times).
DASK_RETRIES = 2
#: Seconds to wait for a Dask scheduler before giving up.
CONNECT_TIMEOUT = 10.0
#: How to install what a Dask cluster needs.
DISTRIBUTED_EXTRA = "pip install 'cipmodel[distributed]'"
#: Worker-side cache entries (one per simulation in flight on that worker).
CACHE_SIZE = 2

#: A chunk function: ``fn(shared, start, count)`` -> the chunk's result (module-level).
ChunkFn = Callable[[Any, int, int], Any]

_SAMPLING = threading.Lock()  # a sampler keeps its position: one chunk samples at a time
_CACHE: OrderedDict[str, Any] = OrderedDict()  # worker side: token -> shared
_CACHE_LOCK = threading.Lock()


def sample_points(sampler: Sampler, start: int, count: int) -> NDArray[np.float64]:
    """Points ``start .. start + count - 1`` of ``sampler``, one caller at a time per process.

    Point ``i`` depends only on the seed and ``i`` (counter-based), so which thread or
    process samples a chunk, and in what order, changes nothing.
    """
    with _SAMPLING:
        return np.asarray(sampler.sample(start, count), dtype=np.float64)


def _versions() -> dict[str, str]:
    """The versions a bit-identical result depends on."""
    import scipy

    from cipmodel.version import __version__

    return {"cipmodel": __version__, "numpy": np.__version__, "scipy": scipy.__version__}


@dataclass(frozen=True)
class Shared:
    """What every chunk needs, with the caller's versions (checked on the worker)."""

    value: Any
    versions: dict[str, str]

    def unwrap(self) -> Any:
        """The value, after checking this process runs the caller's versions."""
        here = _versions()
        if here != self.versions:
            diff = ", ".join(
                f"{k} {here.get(k)} (caller {v})"
                for k, v in self.versions.items()
                if here.get(k) != v
            )
            raise SimulationError(
                f"a worker runs other versions than the caller: {diff}; install the same "
                "versions everywhere (results are bit-identical only then)"
            )
        return self.value


class Missing:
    """A worker's answer when it does not hold the shared data of a task's token."""


def _run_group(fn: ChunkFn, value: Any, chunks: list[tuple[int, int]]) -> tuple[list[Any], float]:
    t0 = time.perf_counter()
    out = [fn(value, start, count) for start, count in chunks]
    return out, time.perf_counter() - t0


def run_cached(
    fn: ChunkFn, token: str, chunks: list[tuple[int, int]], payload: bytes | None
) -> tuple[list[Any], float] | Missing:
    """Worker side of an executor task: the chunks' results and the seconds they took.

    ``payload`` (the pickled :class:`Shared`) comes with the first tasks only; it is kept in
    this process under ``token``. Without it and not seen before: :class:`Missing`.
    """
    with _CACHE_LOCK:
        value = _CACHE.get(token)
        if value is not None:
            _CACHE.move_to_end(token)
    if value is None:
        if payload is None:
            return Missing()
        shared = pickle.loads(payload)
        value = shared.unwrap()
        with _CACHE_LOCK:
            _CACHE[token] = value
            while len(_CACHE) > CACHE_SIZE:
                _CACHE.popitem(last=False)
    return _run_group(fn, value, chunks)


def run_shared(
    fn: ChunkFn, shared: Shared, chunks: list[tuple[int, int]]
) -> tuple[list[Any], float]:
    """Worker side of a Dask task (``shared`` was scattered to every worker)."""
    return _run_group(fn, shared.unwrap(), chunks)


@dataclass
class _Task:
    chunks: list[tuple[int, int]]
    future: Any  # concurrent.futures.Future or distributed.Future


class Runner:
    """Maps a chunk function over chunks of draws; results come back in chunk order.

    Use as a context manager (:func:`open_runner`): leaving it cancels what is still queued
    and releases what was sent to workers.
    """

    kind = "inline"
    remote = False

    def __init__(self, fn: ChunkFn, value: Any) -> None:
        self.fn, self.value = fn, value
        self._pending: deque[_Task] = deque()
        self._group = 1
        self.tasks = 0  # tasks submitted (remote tasks may hold several chunks)

    # -- what each kind of runner provides ------------------------------------------------
    def capacity(self) -> int:
        """Tasks kept in flight."""
        return 1

    def submit(self, chunks: list[tuple[int, int]]) -> Any:
        """Start one task computing ``chunks``; a future of ``(results, seconds)``."""
        fut: Future[tuple[list[Any], float]] = Future()
        try:
            fut.set_result(_run_group(self.fn, self.value, chunks))
        except BaseException as exc:  # re-raised by result(), as from a pool
            fut.set_exception(exc)
        return fut

    def result(self, task: _Task) -> tuple[list[Any], float]:
        """The results of a task (waiting for it)."""
        out: tuple[list[Any], float] = task.future.result()
        return out

    def cancel(self, tasks: list[_Task]) -> None:
        for t in tasks:
            t.future.cancel()

    def close(self) -> None:
        """Release the runner's resources (pending tasks are already cancelled)."""

    # -- the ordered map --------------------------------------------------------------------
    def map(self, chunks: Iterable[tuple[int, int]]) -> Iterator[tuple[int, int, Any]]:
        """``(start, count, result)`` of every chunk, in the order given.

        Up to :meth:`capacity` tasks are in flight, ahead of the one being consumed; a
        consumer that stops early (convergence) leaves the rest to :meth:`__exit__`, which
        cancels them. What is consumed never depends on what was computed ahead.
        """
        todo = iter(chunks)
        exhausted = False
        while True:
            while not exhausted and len(self._pending) < self.capacity():
                group = [c for _, c in zip(range(self._group), todo, strict=False)]
                if not group:
                    exhausted = True
                    break
                self._pending.append(_Task(group, self.submit(group)))
                self.tasks += 1
                exhausted = len(group) < self._group
            if not self._pending:
                return
            task = self._pending[0]
            results, seconds = self.result(task)
            self._pending.popleft()
            if self.remote:
                self._regroup(seconds, task.chunks)
            for (start, count), out in zip(task.chunks, results, strict=True):
                yield start, count, out

    def _regroup(self, seconds: float, chunks: list[tuple[int, int]]) -> None:
        """Chunks per task from the last task's time: about :data:`TASK_SECONDS` a task."""
        per_chunk = seconds / max(1, len(chunks))
        if per_chunk > 0:
            want = math.ceil(TASK_SECONDS / per_chunk)
            self._group = int(min(MAX_GROUP, max(1, want)))

    def __enter__(self) -> Runner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pending, self._pending = list(self._pending), deque()
        try:
            self.cancel(pending)
        finally:
            self.close()


class _ThreadRunner(Runner):
    kind = "threads"

    def __init__(self, fn: ChunkFn, value: Any, workers: int) -> None:
        super().__init__(fn, value)
        self.workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cipmodel")

    def capacity(self) -> int:
        # a chunk queued behind each running one: a thread that finishes starts the next at
        # once, while the caller merges (a queued chunk takes no memory until it starts)
        return 2 * self.workers

    def submit(self, chunks: list[tuple[int, int]]) -> Any:
        return self._pool.submit(_run_group, self.fn, self.value, chunks)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _executor_slots(executor: Executor) -> int:
    """Workers of an executor: its ``max_workers`` where it tells, else this machine's CPUs."""
    slots = getattr(executor, "_max_workers", None)
    return int(slots) if isinstance(slots, int) and slots > 0 else os.cpu_count() or 1


class _ExecutorRunner(Runner):
    kind = "executor"
    remote = True

    def __init__(self, fn: ChunkFn, value: Any, executor: Executor) -> None:
        super().__init__(fn, value)
        self.executor = executor
        self.slots = _executor_slots(executor)
        self.token = uuid.uuid4().hex
        self.payload = pickle.dumps(Shared(value, _versions()), protocol=pickle.HIGHEST_PROTOCOL)
        self._sent = 0  # tasks sent with the payload (one per worker, at the start)

    def capacity(self) -> int:
        return 2 * self.slots

    def submit(self, chunks: list[tuple[int, int]], payload: bool = False) -> Any:
        with_payload = payload or self._sent < self.slots
        if with_payload:
            self._sent += 1
        return self.executor.submit(
            run_cached, self.fn, self.token, chunks, self.payload if with_payload else None
        )

    def result(self, task: _Task) -> tuple[list[Any], float]:
        out = task.future.result()
        if isinstance(out, Missing):  # that worker joined late: send the data with the task
            task.future = self.submit(task.chunks, payload=True)
            out = task.future.result()
        if isinstance(out, Missing):
            raise SimulationError("an executor worker lost the simulation's shared data")
        result: tuple[list[Any], float] = out
        return result

    def close(self) -> None:
        with _CACHE_LOCK:  # an executor in this process (threads) cached it here
            _CACHE.pop(self.token, None)


class _DaskRunner(Runner):
    kind = "dask"
    remote = True

    def __init__(self, fn: ChunkFn, value: Any, client: Any, owned: bool) -> None:
        super().__init__(fn, value)
        self.client, self.owned = client, owned
        self.token = uuid.uuid4().hex[:12]
        self._shared = client.scatter(Shared(value, _versions()), broadcast=True, hash=False)
        self._slots = self._threads()
        self._since = 0

    def _threads(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def capacity(self) -> int:
        self._since += 1
        if self._since >= 16:  # workers may come and go (adaptive clusters)
            self._since, self._slots = 0, self._threads()
        return 2 * self._slots

    def submit(self, chunks: list[tuple[int, int]]) -> Any:
        return self.client.submit(
            run_shared,
            self.fn,
            self._shared,
            chunks,
            key=f"cipmodel-chunk-{self.token}-{chunks[0][0]}",
            pure=False,
            retries=DASK_RETRIES,
        )

    def result(self, task: _Task) -> tuple[list[Any], float]:
        from distributed.scheduler import KilledWorker

        start, count = task.chunks[0][0], sum(c for _, c in task.chunks)
        try:
            out: tuple[list[Any], float] = task.future.result()
        except (KilledWorker, CancelledError, TimeoutError, OSError) as exc:
            raise SimulationError(
                f"the Dask cluster lost draws {start:,}..{start + count - 1:,}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return out

    def cancel(self, tasks: list[_Task]) -> None:
        if tasks:
            # clean-up only: a cluster that is gone has nothing left to cancel, and the
            # run's own error (if any) is the one to report
            with contextlib.suppress(Exception):
                self.client.cancel([t.future for t in tasks])

    def close(self) -> None:
        try:
            with contextlib.suppress(Exception):  # as in cancel()
                self.client.cancel([self._shared])
        finally:
            if self.owned:
                self.client.close()


def connect(address: str, timeout: float = CONNECT_TIMEOUT) -> Any:
    """A Dask distributed ``Client`` connected to the scheduler at ``address``.

    Raises
    ------
    SimulationError
        Dask distributed is not installed (the message names the extra), ``address`` is not
        a scheduler address, or no scheduler answered there within ``timeout`` seconds.
    """
    try:
        from distributed import Client
        from distributed.comm.addressing import parse_address, parse_host_port
        from distributed.comm.registry import backends
    except ImportError:
        raise SimulationError(
            f"running on a Dask cluster (scheduler {address}) needs Dask distributed, which is "
            f"not installed: {DISTRIBUTED_EXTRA}"
        ) from None
    deadline = time.monotonic() + timeout
    try:
        scheme, location = parse_address(address)
        if scheme not in backends:
            raise ValueError(f"unknown scheme {scheme!r} (known: {', '.join(sorted(backends))})")
        if scheme == "tcp":
            host, port = parse_host_port(location)
    except ValueError as exc:
        raise SimulationError(
            f"{address!r} is not a Dask scheduler address (tcp://HOST:PORT): {exc}"
        ) from None
    if scheme == "tcp":  # fail within the timeout, without a half-made Client
        _wait_for_port(address, str(host), int(port), deadline, timeout)
    try:
        return Client(address, timeout=max(1.0, deadline - time.monotonic()), set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise SimulationError(
            f"could not reach the Dask scheduler at {address} within {timeout:g} s: {exc}"
        ) from None


def _wait_for_port(address: str, host: str, port: int, deadline: float, timeout: float) -> None:
    """Return once something listens at ``host:port``; retry (a scheduler may be starting)
    until ``deadline``, then raise :class:`SimulationError`."""
    import socket

    while True:
        left = deadline - time.monotonic()
        try:
            with socket.create_connection((host, port), timeout=max(0.05, left)):
                return
        except OSError as exc:
            if deadline - time.monotonic() <= 0:
                why = exc.strerror or str(exc) or type(exc).__name__
                raise SimulationError(
                    f"could not reach the Dask scheduler at {address} within {timeout:g} s "
                    f"({why}): is the scheduler running, and the address and port right?"
                ) from None
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))


def check_workers(workers: int | None, remote: bool = False) -> int:
    """Threads computing chunks (1 with an executor or client, whose workers compute them),
    at most :func:`max_workers`: the machine's cores."""
    if workers is None:
        return 1
    if isinstance(workers, bool) or int(workers) < 1:
        raise SimulationError(f"workers must be >= 1, got {workers!r}")
    if remote and int(workers) > 1:
        raise SimulationError(
            f"workers={workers} sets local threads; with an executor or a Dask client, "
            "its own workers compute the chunks (leave workers unset)"
        )
    return min(int(workers), max_workers())


def max_workers() -> int:
    """The most local threads a simulation uses: the machine's processor cores (more only
    share them, and each holds a chunk in memory)."""
    return max(1, os.cpu_count() or 1)


def open_runner(
    fn: ChunkFn,
    value: Any,
    *,
    workers: int = 1,
    executor: Executor | None = None,
    client: Any = None,
) -> Runner:
    """The runner for these settings (see the module docstring); a context manager.

    ``client`` is a Dask distributed ``Client`` or a scheduler address (connected here and
    closed when the runner closes); ``executor`` any ``concurrent.futures`` executor;
    otherwise ``workers`` threads (1: the calling thread).
    """
    if client is not None and executor is not None:
        raise SimulationError("give an executor or a Dask client, not both")
    if client is not None:
        owned = isinstance(client, str)
        c = connect(client) if isinstance(client, str) else client
        try:
            return _DaskRunner(fn, value, c, owned)
        except BaseException:
            if owned:
                c.close()
            raise
    if executor is not None:
        if not isinstance(executor, Executor) and not callable(getattr(executor, "submit", None)):
            raise SimulationError(
                f"executor must be a concurrent.futures executor, got {executor!r}"
            )
        return _ExecutorRunner(fn, value, executor)
    if workers > 1:
        return _ThreadRunner(fn, value, workers)
    return Runner(fn, value)
