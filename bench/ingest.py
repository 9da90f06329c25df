"""Ingest benchmark: DCMTK storescu → strokealert, DCMTK storescp and Orthanc, in one run.

    .venv/bin/python bench/ingest.py [--images 320] [--repeats 3] [--quiet-images 60]
                                     [--receivers strokealert,storescp,orthanc]
                                     [--compare-tree PATH] [--idle-associations 8]

Sends the same synthetic 512×512 CT series (``--images`` slices) with
``TCP_NODELAY=1 storescu -pdu 131072 +sd +r`` to each receiver, ``--repeats`` times, each
receiver started fresh (empty store) for every run: a real ``strokealert serve`` subprocess,
``storescp +B`` (TCP_NODELAY=1) and Orthanc (generated JSON config, temp storage, free ports).
Every run starts on an idle disk: the previous run's store is deleted and the page cache
flushed (``sync``) first, so that no receiver pays for another's writeback.
Prints images/s per run, medians and ratios, and strokealert's completion latency (last image
received → completion event) for a series whose headers give the count and for one that
completes by quiet time (``series_quiet_s``, default 5 s).

``--compare-tree PATH`` adds ``strokealert`` run from another source tree (a checkout of
another commit, or a copy with a change undone), interleaved with the others in every repeat,
so that a change is judged by its ratio to ``storescp`` in the same runs, not across runs on a
shared machine. ``--idle-associations N`` then measures, for each strokealert, the service's
CPU (all its processes, from /proc) over ``IDLE_S`` seconds with no association and with N
idle associations open: what an open association costs when nothing is sent.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path

import numpy as np
import pydicom
from pynetdicom import AE
from pynetdicom.sop_class import Verification
from sqlalchemy import create_engine, func, select

from strokealert.db.models.ingest import CompletionEvent, Instance, Series
from strokealert.phantoms import series as syn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.dcmtk
from tests import dcmtk  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
QUIET_S = 5.0
IDLE_S = 5.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"port {port} never opened")


def write_series(out_dir: Path, n: int, with_count: bool, seed: int) -> str:
    """``n`` 512×512 slices of a noisy head-like disc; returns the series UID."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:512, :512]
    disc = np.where((yy - 256) ** 2 + (xx - 256) ** 2 < 200 ** 2, 35.0, -1000.0)
    volume = disc[None] + rng.normal(0, 8, (n, 512, 512))
    series = syn.SeriesInfo(description="Head 0.625")
    syn.write_volume(volume, out_dir, study=syn.StudyInfo(), series=series,
                     spacing_mm=(0.625, 0.45, 0.45))
    if not with_count:
        for path in out_dir.iterdir():
            ds = pydicom.dcmread(path)
            del ds.ImagesInAcquisition
            ds.save_as(path)
    return series.series_instance_uid


def storescu(port: int, called: str, folder: Path) -> float:
    """Send ``folder``; returns the seconds it took (raises if storescu fails)."""
    started = time.perf_counter()
    subprocess.run([dcmtk.storescu(), "-aec", called, "-pdu", "131072", "+sd", "+r", "127.0.0.1",
                    str(port), str(folder)], check=True, capture_output=True,
                   env={**os.environ, "TCP_NODELAY": "1"})
    return time.perf_counter() - started


@contextmanager
def process(cmd: list[str], env: dict[str, str] | None = None,
            cwd: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def completion_latency(url: str, series_uid: str, timeout_s: float) -> float:
    """Seconds from the series' last received image to its completion event."""
    engine = create_engine(url)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                created = conn.scalar(select(CompletionEvent.created_at).where(
                    CompletionEvent.series_instance_uid == series_uid))
                if created is not None:
                    last = conn.scalar(select(func.max(Instance.received_at)).join(Series).where(
                        Series.series_instance_uid == series_uid))
                    return (created.replace(tzinfo=UTC) - last.replace(tzinfo=UTC)) \
                        .total_seconds()
            time.sleep(0.02)
    finally:
        engine.dispose()
    raise RuntimeError(f"no completion event for {series_uid}")


def run_strokealert(data_dir: Path, counted: Path, counted_uid: str, quiet: Path,
                    quiet_uid: str, latencies: dict[str, list[float]],
                    tree: Path = ROOT) -> float:
    port = free_port()
    env = {**os.environ, "STROKEALERT_DATA_DIR": str(data_dir),
           "STROKEALERT_DICOM_PORT": str(port), "STROKEALERT_DICOM_HOST": "127.0.0.1",
           "STROKEALERT_HTTP_PORT": str(free_port()), "STROKEALERT_HTTP_HOST": "127.0.0.1",
           "STROKEALERT_SERIES_QUIET_S": str(QUIET_S)}
    env.pop("STROKEALERT_DATABASE_URL", None)
    url = f"sqlite:///{data_dir / 'strokealert.sqlite3'}"
    with process([sys.executable, "-m", "strokealert", "serve"], env=env, cwd=tree) as proc:
        wait_port(port, proc)
        seconds = storescu(port, "STROKEALERT", counted)
        latencies["count"].append(completion_latency(url, counted_uid, 30))
        storescu(port, "STROKEALERT", quiet)
        latencies["quiet"].append(completion_latency(url, quiet_uid, QUIET_S + 30))
    return seconds


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its children (the ingest process, workers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    total = 0
    for process_id in [pid, *map(int, children)]:
        fields = Path(f"/proc/{process_id}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def idle_cost(data_dir: Path, associations: int, tree: Path = ROOT) -> tuple[float, float]:
    """Service CPU (% of a core) with no association, then with ``associations`` idle ones."""
    port = free_port()
    env = {**os.environ, "STROKEALERT_DATA_DIR": str(data_dir),
           "STROKEALERT_DICOM_PORT": str(port), "STROKEALERT_DICOM_HOST": "127.0.0.1",
           "STROKEALERT_HTTP_PORT": str(free_port()), "STROKEALERT_HTTP_HOST": "127.0.0.1"}
    env.pop("STROKEALERT_DATABASE_URL", None)
    ae = AE(ae_title="BENCH")
    ae.add_requested_context(Verification)
    with process([sys.executable, "-m", "strokealert", "serve"], env=env, cwd=tree) as proc:
        wait_port(port, proc)
        time.sleep(IDLE_S)  # past the start-up work
        started = cpu_seconds(proc.pid)
        time.sleep(IDLE_S)
        quiet = (cpu_seconds(proc.pid) - started) / IDLE_S * 100
        opened = [ae.associate("127.0.0.1", port, ae_title="STROKEALERT")
                  for _ in range(associations)]
        if not all(assoc.is_established for assoc in opened):
            raise RuntimeError("an idle association was refused")
        time.sleep(1.0)
        started = cpu_seconds(proc.pid)
        time.sleep(IDLE_S)
        busy = (cpu_seconds(proc.pid) - started) / IDLE_S * 100
        for assoc in opened:
            assoc.release()
    return quiet, busy


def run_storescp(out: Path, counted: Path) -> float:
    port = free_port()
    cmd = ["storescp", "+B", "-od", str(out), "-aet", "STORESCP", str(port)]
    with process(cmd, env={**os.environ, "TCP_NODELAY": "1"}) as proc:
        wait_port(port, proc)
        return storescu(port, "STORESCP", counted)


def run_orthanc(root: Path, counted: Path) -> float:
    port, http_port = free_port(), free_port()
    config = {
        "Name": "bench", "StorageDirectory": str(root / "db"), "IndexDirectory": str(root / "db"),
        "DicomAet": "ORTHANC", "DicomPort": port, "HttpPort": http_port,
        "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
        "DicomCheckCalledAet": False, "Plugins": [], "StableAge": 60,
    }
    (root / "orthanc.json").write_text(json.dumps(config))
    with process(["/usr/sbin/Orthanc", str(root / "orthanc.json")]) as proc:
        wait_port(port, proc)
        seconds = storescu(port, "ORTHANC", counted)
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/statistics") as response:
            stored = json.load(response)["CountInstances"]
        if stored != len(list(counted.iterdir())):
            raise RuntimeError(f"Orthanc stored {stored} instances")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=320)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quiet-images", type=int, default=60)
    parser.add_argument("--receivers", default="strokealert,storescp,orthanc",
                        help="comma-separated subset of strokealert, storescp, orthanc")
    parser.add_argument("--compare-tree", type=Path,
                        help="also run strokealert from this source tree")
    parser.add_argument("--idle-associations", type=int, default=0,
                        help="measure the CPU cost of this many idle associations")
    args = parser.parse_args()
    chosen = args.receivers.split(",")

    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        work = Path(tmp)
        counted, quiet = work / "counted", work / "quiet"
        print(f"writing {args.images} + {args.quiet_images} synthetic 512x512 CT images ...",
              flush=True)
        counted_uid = write_series(counted, args.images, with_count=True, seed=1)
        quiet_uid = write_series(quiet, args.quiet_images, with_count=False, seed=2)

        latencies: dict[str, list[float]] = {"count": [], "quiet": [], "compared count": [],
                                             "compared quiet": []}
        compared = {"count": latencies["compared count"], "quiet": latencies["compared quiet"]}
        every: dict[str, Callable[[Path], float]] = {
            "strokealert": lambda store: run_strokealert(store, counted, counted_uid, quiet,
                                                         quiet_uid, latencies),
            "storescp": lambda store: run_storescp(store, counted),
            "orthanc": lambda store: run_orthanc(store, counted),
        }
        runners = {name: every[name] for name in chosen}
        if args.compare_tree is not None:
            tree = args.compare_tree.resolve()
            runners["compared"] = lambda store: run_strokealert(
                store, counted, counted_uid, quiet, quiet_uid, compared, tree)
        rates: dict[str, list[float]] = {name: [] for name in runners}
        idle: dict[str, tuple[float, float]] = {}
        names = list(runners)
        for repeat in range(args.repeats):
            shift = repeat % len(names)  # interleaved, order rotated: load changes hit all alike
            for name in names[shift:] + names[:shift]:
                runner = runners[name]
                store = work / f"{name}-{repeat}"
                store.mkdir()
                os.sync()
                try:
                    rate = args.images / runner(store)
                finally:
                    shutil.rmtree(store)
                rates[name].append(rate)
                print(f"  run {repeat + 1}: {name:<11} {rate:7.1f} images/s", flush=True)
        trees = {"strokealert": ROOT} if "strokealert" in runners else {}
        if args.compare_tree is not None:
            trees["compared"] = args.compare_tree.resolve()
        for name, tree in trees.items() if args.idle_associations else ():
            store = work / f"{name}-idle"
            store.mkdir()
            idle[name] = idle_cost(store, args.idle_associations, tree)
            shutil.rmtree(store)

    median = {name: statistics.median(values) for name, values in rates.items() if values}
    print()
    print(f"{'receiver':<12} {'median img/s':>12}   runs")
    for name in median:
        runs = " ".join(f"{v:.0f}" for v in rates[name])
        print(f"{name:<12} {median[name]:>12.1f}   {runs}")
    if args.compare_tree is not None:
        print(f"compared = strokealert from {args.compare_tree}")
    for name in ("strokealert", "compared"):
        for reference in ("storescp", "orthanc"):
            if name in median and reference in median:
                print(f"ratio {name}/{reference}: {median[name] / median[reference]:.2f}")
    if "compared" in median and "strokealert" in median:
        paired = [a / b for a, b in zip(rates["strokealert"], rates["compared"], strict=True)]
        print(f"strokealert/compared per repeat: median {statistics.median(paired):.3f} "
              f"({' '.join(f'{r:.2f}' for r in paired)})")
        print(f"compared completion latency, count known: median "
              f"{statistics.median(latencies['compared count']):.3f} s")
    for name, (quiet_cpu, busy_cpu) in idle.items():
        print(f"{name} CPU: {quiet_cpu:.1f} % of a core with no association, {busy_cpu:.1f} % "
              f"with {args.idle_associations} idle ones open "
              f"({(busy_cpu - quiet_cpu) / args.idle_associations:.1f} % each)")
    if "strokealert" not in median or not latencies["count"]:
        return
    count_latency = statistics.median(latencies["count"])
    quiet_latency = statistics.median(latencies["quiet"])
    print(f"completion latency, count known: median {count_latency:.3f} s "
          f"(max {max(latencies['count']):.3f} s; target <= 1 s)")
    print(f"completion latency, quiet time {QUIET_S:g} s: median {quiet_latency:.3f} s "
          f"(max {max(latencies['quiet']):.3f} s; target <= {QUIET_S + 1:g} s)")
    if "storescp" in median:
        verdict = (median["strokealert"] >= 150,
                   median["strokealert"] >= 0.5 * median["storescp"],
                   max(latencies["count"]) <= 1.0, max(latencies["quiet"]) <= QUIET_S + 1.0)
        print("targets: >=150 img/s {}, >=0.5x storescp {}, count latency {}, quiet latency {}"
              .format(*("met" if ok else "MISSED" for ok in verdict)))


if __name__ == "__main__":
    main()
