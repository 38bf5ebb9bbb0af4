"""Simulations on other executors give the identical result: processes, a Dask cluster, a lost
worker, the command line's ``--scheduler`` (issue 13).

The Dask tests share one ``LocalCluster`` (2 worker processes, 1 thread each, on the loopback
address) for the module; they skip, saying why, where Dask distributed is not installed
(``make test`` installs it). Every comparison is exact: ``to_dict()`` (the ``simulate --json``
contract) and the collector's arrays, bit for bit.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import signal
import socket
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from cipmodel.cli import cli
from cipmodel.examples import example_portfolio
from cipmodel.examples.national import national_portfolio
from cipmodel.montecarlo import SimulationError, simulate, solve_probability
from cipmodel.montecarlo.executors import (
    DISTRIBUTED_EXTRA,
    Missing,
    Shared,
    connect,
    open_runner,
    run_cached,
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = str(ROOT / "templates" / "example-acute-11pc.xlsx")

needs_distributed = pytest.mark.skipif(
    find_spec("distributed") is None,
    reason=f"Dask distributed is not installed ({DISTRIBUTED_EXTRA}; make test installs it)",
)


# -- fixtures: one cluster, one process pool, the reference runs ----------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A LocalCluster of 2 worker processes (1 thread each) on 127.0.0.1, and its client."""
    import dask
    from distributed import Client, LocalCluster

    saved = dict(os.environ)  # nannies write their workers' settings into os.environ
    with (
        # the scheduler (in this process) gives up on a killed worker's address in seconds
        dask.config.set({"distributed.comm.timeouts.connect": "5s"}),
        LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # None still binds :8787, and warns if taken
        ) as lc,
        Client(lc, set_as_default=False) as client,
    ):
        client.wait_for_workers(2)
        _restore(saved)
        yield lc, client
    _restore(saved)


def _restore(saved: dict[str, str]) -> None:
    """Put this process's environment back (later subprocesses must not inherit Dask's
    worker settings, e.g. MALLOC_TRIM_THRESHOLD_ or OMP_NUM_THREADS)."""
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessPoolExecutor]:
    """Two worker processes started fresh (spawn: nothing inherited from this process)."""
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
        yield ex


ONE = dict(draws=4096, seed=20170401, keep=1024)  # beyond keep: histogram percentiles too
MANY = dict(draws=512, seed=7, sampler="lhs", keep=200)


@pytest.fixture(scope="module")
def one_trust() -> Any:
    return example_portfolio("acute-11pc")


@pytest.fixture(scope="module")
def twelve() -> Any:
    return national_portfolio(seed=11, n_trusts=12)


@pytest.fixture(scope="module")
def one_ref(one_trust: Any) -> Any:
    return simulate(one_trust, **ONE)


@pytest.fixture(scope="module")
def twelve_ref(twelve: Any) -> Any:
    return simulate(twelve, chunk_size=64, **MANY)


def _dump(r: Any, drop: tuple[str, ...] = ()) -> str:
    d = json.loads(json.dumps(r.to_dict()))  # a copy: to_dict shares the provenance dict
    for k in drop:
        d["provenance"].pop(k)
    return json.dumps(d, sort_keys=True)


def _first_difference(a: Any, b: Any, where: str = "") -> str | None:
    """The path of the first value that differs between two JSON documents."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            found = _first_difference(a.get(key), b.get(key), f"{where}/{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = _first_difference(x, y, f"{where}[{i}]")
            if found:
                return found
        return None
    return None if a == b else f"{where}: {a!r} != {b!r}"


def _same(a: Any, b: Any, drop: tuple[str, ...] = ()) -> None:
    """Identical JSON and identical collector arrays (kept draws, sums, histograms)."""
    da, db = _dump(a, drop), _dump(b, drop)
    assert da == db, _first_difference(json.loads(da), json.loads(db))
    ca, cb = a.collector, b.collector
    assert ca.n == cb.n
    for name in ("_kept_f", "_kept_b", "_kept_c"):  # the rows filled (the rest is unset)
        np.testing.assert_array_equal(
            getattr(ca, name)[: ca.n_kept], getattr(cb, name)[: cb.n_kept], err_msg=name
        )
    for name in ("_bool", "_cat", "_min", "_max", "_nan"):
        np.testing.assert_array_equal(getattr(ca, name), getattr(cb, name), err_msg=name)
    np.testing.assert_array_equal(ca._sum.result(), cb._sum.result())
    np.testing.assert_array_equal(ca._sq.result(), cb._sq.result())
    assert (ca._hist is None) == (cb._hist is None)
    if ca._hist is not None:
        np.testing.assert_array_equal(ca._hist, cb._hist)


# -- Dask cluster ---------------------------------------------------------------------------


@needs_distributed
def test_one_trust_on_a_cluster_is_identical(one_trust: Any, one_ref: Any, cluster: Any) -> None:
    """The acute example on 2 Dask workers: the same JSON, bit for bit, as in this thread;
    with another chunk size too (only the recorded chunk size differs)."""
    _, client = cluster
    _same(simulate(one_trust, client=client, **ONE), one_ref)
    _same(simulate(one_trust, client=client, chunk_size=300, **ONE), one_ref, ("chunk_size",))


@needs_distributed
def test_portfolio_on_a_cluster_is_identical(twelve: Any, twelve_ref: Any, cluster: Any) -> None:
    """Twelve trusts of the national portfolio (shared national shocks), Latin hypercube:
    identical on the cluster, with the same and with other chunk sizes."""
    _, client = cluster
    _same(simulate(twelve, client=client, chunk_size=64, **MANY), twelve_ref)
    _same(simulate(twelve, client=client, chunk_size=25, **MANY), twelve_ref, ("chunk_size",))


@needs_distributed
def test_client_executor_and_address_are_identical(
    one_trust: Any, one_ref: Any, cluster: Any
) -> None:
    """``client.get_executor()`` (the plain executor path) and a scheduler address (a client
    made and closed by the run) give the same result."""
    lc, client = cluster
    _same(simulate(one_trust, executor=client.get_executor(), **ONE), one_ref)
    _same(simulate(one_trust, client=lc.scheduler_address, **ONE), one_ref)


@needs_distributed
def test_tolerance_stops_at_the_same_draw(one_trust: Any, cluster: Any) -> None:
    """Early stop on a cluster (chunks computed ahead of the check are dropped): the same
    stopping point and result as in this thread."""
    _, client = cluster
    kw = dict(draws=1 << 16, seed=3, sampler="random", tolerance=0.01, chunk_size=500)
    ref = simulate(one_trust, **kw)
    got = simulate(one_trust, client=client, **kw)
    assert ref.provenance["converged_at"] is not None
    assert got.provenance["converged_at"] == ref.provenance["converged_at"] < kw["draws"]
    _same(got, ref)


@needs_distributed
def test_progress_is_reported_in_order_in_the_caller(one_trust: Any, cluster: Any) -> None:
    """The progress callback runs in the calling process, once per chunk, in draw order."""
    _, client = cluster
    seen: list[tuple[int, int, int]] = []
    simulate(
        one_trust,
        client=client,
        draws=2048,
        seed=1,
        chunk_size=256,
        progress=lambda done, total: seen.append((done, total, os.getpid())),
    )
    assert [d for d, _, _ in seen] == list(range(256, 2049, 256))
    assert {(t, pid) for _, t, pid in seen} == {(2048, os.getpid())}


@needs_distributed
def test_solve_probability_on_a_cluster_is_identical(twelve: Any, cluster: Any) -> None:
    """The probability solve's thresholds computed on the cluster: the same answer."""
    _, client = cluster
    kw = dict(draws=256, seed=5, chunk_size=40)
    ref = solve_probability(twelve, 0.7, **kw).to_dict()
    assert solve_probability(twelve, 0.7, client=client, **kw).to_dict() == ref


@needs_distributed
def test_cli_scheduler_gives_the_same_json(cluster: Any) -> None:
    """``--scheduler`` on ``simulate`` and ``solve --probability``: the same ``--json`` as a
    local run of one thread (the provenance records the local threads: 1 with a cluster)."""
    lc, _ = cluster
    runner = CliRunner()
    for args, local_only in (
        (["simulate", EXAMPLE, "--json", "-n", "2048", "--seed", "3"], ["--workers", "1"]),
        (["solve", EXAMPLE, "--json", "--probability", "0.8", "-n", "1024", "--seed", "11"], []),
    ):
        local = runner.invoke(cli, [*args, *local_only])
        remote = runner.invoke(cli, [*args, "--scheduler", lc.scheduler_address])
        assert local.exit_code == 0, local.output
        assert remote.exit_code == 0, remote.output
        assert json.loads(remote.stdout) == json.loads(local.stdout)


@needs_distributed
def test_cli_unreachable_scheduler_is_a_clear_error() -> None:
    """No scheduler at the address: exit 2 naming the address, after the timeout given, no
    traceback; an address that is not one: exit 2 at once."""
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    runner = CliRunner()
    r = runner.invoke(
        cli,
        ["simulate", EXAMPLE, "-n", "64", "--scheduler", address, "--scheduler-timeout", "0.5"],
    )
    assert r.exit_code == 2, r.output
    assert f"could not reach the Dask scheduler at {address} within 0.5 s" in r.output
    assert "Traceback" not in r.output
    r = runner.invoke(cli, ["simulate", EXAMPLE, "-n", "64", "--scheduler", "http://nowhere:1"])
    assert r.exit_code == 2
    assert "'http://nowhere:1' is not a Dask scheduler address" in r.output


@needs_distributed
def test_cli_workers_with_scheduler_is_refused(cluster: Any) -> None:
    """``--workers`` sets local threads: with ``--scheduler`` it is a usage error."""
    lc, _ = cluster
    r = CliRunner().invoke(
        cli, ["simulate", EXAMPLE, "--workers", "2", "--scheduler", lc.scheduler_address]
    )
    assert r.exit_code == 2
    assert "--workers" in r.output and "--scheduler" in r.output


@needs_distributed
def test_a_lost_worker_costs_only_its_chunks(one_trust: Any, cluster: Any) -> None:
    """A worker killed mid-run (SIGKILL, while it computes chunks): its chunks are computed
    again elsewhere and the result is identical. Runs last: the nanny restarts the worker."""
    _, client = cluster
    kw = dict(draws=1 << 15, seed=8, sampler="random", keep=2048, chunk_size=512)
    ref = simulate(one_trust, **kw)
    pids = client.run(os.getpid)
    killed: list[str] = []

    def kill_a_busy_worker(done: int, total: int) -> None:
        if killed:
            return
        for _ in range(200):  # find a worker holding chunks right now
            busy = [
                w
                for w, keys in client.processing().items()
                if any(str(k).startswith("cipmodel-chunk") for k in keys)
            ]
            if busy:
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append(busy[0])
                return
            time.sleep(0.005)

    got = simulate(one_trust, client=client, progress=kill_a_busy_worker, **kw)
    assert killed, "no worker was found computing chunks"
    _same(got, ref)
    client.wait_for_workers(2)  # the nanny restarted it
    assert killed[0] not in client.run(os.getpid)


# -- process pool and other executors -------------------------------------------------------


def test_process_pool_is_identical(
    one_trust: Any, one_ref: Any, twelve: Any, twelve_ref: Any, pool: ProcessPoolExecutor
) -> None:
    """A ProcessPoolExecutor: the context is sent once per process; the same results."""
    _same(simulate(one_trust, executor=pool, **ONE), one_ref)
    _same(simulate(twelve, executor=pool, chunk_size=64, **MANY), twelve_ref)
    kw = dict(draws=256, seed=5, chunk_size=40)
    ref = solve_probability(twelve, 0.7, **kw).to_dict()
    assert solve_probability(twelve, 0.7, executor=pool, **kw).to_dict() == ref


def test_thread_pool_executor_is_identical(one_trust: Any, one_ref: Any) -> None:
    """Any concurrent.futures executor works, a thread pool too."""
    with ThreadPoolExecutor(3) as ex:
        _same(simulate(one_trust, executor=ex, **ONE), one_ref)


def test_worker_side_cache_and_version_check() -> None:
    """A worker without the shared data answers Missing; given it once, it keeps it under the
    token; other versions on a worker are refused, naming them."""
    token = "test-token-cache"
    assert isinstance(run_cached(_first, token, [(0, 2)], None), Missing)
    payload = pickle.dumps(Shared({"a": 1}, _versions()))
    got = run_cached(_first, token, [(0, 2), (2, 3)], payload)
    assert not isinstance(got, Missing)
    assert got[0] == [({"a": 1}, 0, 2), ({"a": 1}, 2, 3)] and got[1] >= 0
    again = run_cached(_first, token, [(5, 1)], None)
    assert not isinstance(again, Missing) and again[0] == [({"a": 1}, 5, 1)]
    bad = {**_versions(), "numpy": "0.0.1"}
    with pytest.raises(SimulationError, match=r"caller 0\.0\.1"):
        Shared(1, bad).unwrap()


def _first(value: Any, start: int, count: int) -> tuple[Any, int, int]:
    return value, start, count


def _versions() -> dict[str, str]:
    import scipy

    from cipmodel.version import __version__

    return {"cipmodel": __version__, "numpy": np.__version__, "scipy": scipy.__version__}


def test_bad_settings_are_refused(one_trust: Any) -> None:
    """Threads and an executor at once, or an executor and a client: a clear error."""
    with ThreadPoolExecutor(1) as ex:
        with pytest.raises(SimulationError, match="workers=2 sets local threads"):
            simulate(one_trust, draws=64, seed=1, workers=2, executor=ex)
        with pytest.raises(SimulationError, match="not both"):
            open_runner(_first, 1, executor=ex, client="tcp://127.0.0.1:1")


# -- without the extra ----------------------------------------------------------------------


def test_without_the_extra_the_message_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dask distributed not importable: ``--scheduler`` exits 2 with the pip command."""
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    r = CliRunner().invoke(
        cli, ["simulate", EXAMPLE, "-n", "64", "--scheduler", "tcp://127.0.0.1:8786"]
    )
    assert r.exit_code == 2, r.output
    assert DISTRIBUTED_EXTRA in r.output
    assert "tcp://127.0.0.1:8786" in r.output
    assert "Traceback" not in r.output
    with pytest.raises(SimulationError, match=r"pip install 'cipmodel\[distributed\]'"):
        connect("tcp://127.0.0.1:8786")
