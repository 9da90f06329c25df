"""Sender benchmark: ``strokealert send`` (pynetdicom) against DCMTK ``storescu``, same files.

    .venv/bin/python bench/send.py [--images 320] [--matrix 512] [--repeats 5]

Both send the same synthetic CT series (``--images`` slices of ``--matrix``²) to a fresh DCMTK
``storescp`` each run, interleaved, one association each: ``send_files`` as ``strokealert send``
and the result push to the PACS use it, and ``TCP_NODELAY=1 storescu +sd +r`` as the peer. The
receiver runs with TCP_NODELAY too (without it, its own two-write responses waited on the
sender's delayed ACKs in some runs, 44 ms an image for both senders), so that the figures are
the senders'. Prints images/s per run, the medians and the ratio of strokealert's median time
to storescu's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

# bench/perfusion.py would shadow the perfusion package when this runs as a script; the
# repository root gives tests.dcmtk.
HERE = Path(__file__).resolve().parent
sys.path[:] = [str(HERE.parent), *(p for p in sys.path if Path(p or ".").resolve() != HERE)]

from strokealert.demo import free_port, wait_for_port  # noqa: E402
from strokealert.dicom.sender import send_files  # noqa: E402
from strokealert.phantoms import series as syn  # noqa: E402
from tests import dcmtk  # noqa: E402


def write_series(out_dir: Path, images: int, matrix: int) -> None:
    """``images`` slices of a noisy disc of ``matrix``² pixels (int16)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:matrix, :matrix]
    disc = np.where((yy - matrix / 2) ** 2 + (xx - matrix / 2) ** 2 < (0.4 * matrix) ** 2,
                    35.0, -1000.0)
    syn.write_volume(disc[None] + rng.normal(0, 8, (images, matrix, matrix)), out_dir,
                     study=syn.StudyInfo(), series=syn.SeriesInfo(description="Head"),
                     spacing_mm=(0.625, 0.45, 0.45))


def with_storescp(out: Path, send: Callable[[int], None]) -> float:
    """Seconds ``send(port)`` takes into a fresh ``storescp`` writing to ``out``."""
    port = free_port()
    out.mkdir()
    receiver = subprocess.Popen(["storescp", "-od", str(out), "-aet", "STORESCP", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={**os.environ, "TCP_NODELAY": "1"})
    try:
        wait_for_port(port, 30)
        started = time.perf_counter()
        send(port)
        return time.perf_counter() - started
    finally:
        receiver.terminate()
        receiver.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=320)
    parser.add_argument("--matrix", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    storescu = dcmtk.storescu()

    def strokealert(port: int) -> None:
        result = send_files([series], "127.0.0.1", port, called_aet="STORESCP")
        assert result.sent == args.images and not result.failed, result

    def peer(port: int) -> None:
        subprocess.run([storescu, "-aec", "STORESCP", "+sd", "+r", "127.0.0.1", str(port),
                        str(series)], check=True, capture_output=True,
                       env={**os.environ, "TCP_NODELAY": "1"})

    senders = {"strokealert send": strokealert, "storescu (peer)": peer}
    with tempfile.TemporaryDirectory(prefix="bench-send-") as tmp:
        series = Path(tmp) / "series"
        write_series(series, args.images, args.matrix)
        seconds: dict[str, list[float]] = {name: [] for name in senders}
        for run in range(args.repeats):
            for name, send in senders.items():
                took = with_storescp(Path(tmp) / f"{name.split()[0]}-{run}", send)
                seconds[name].append(took)
                print(f"run {run + 1}  {name:18s} {args.images / took:7.0f} images/s "
                      f"({took:.2f} s)", flush=True)
    print(f"\n{args.images} images of {args.matrix}x{args.matrix}, {args.repeats} runs each, "
          "into DCMTK storescp (TCP_NODELAY=1)")
    medians = {name: statistics.median(s) for name, s in seconds.items()}
    for name, median in medians.items():
        print(f"{name:18s} median {median:6.2f} s  {args.images / median:7.0f} images/s  "
              f"{1000 * median / args.images:6.1f} ms an image")
    ratio = medians["strokealert send"] / medians["storescu (peer)"]
    print(f"strokealert send / storescu: {ratio:.2f}")


if __name__ == "__main__":
    main()
