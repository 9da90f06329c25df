"""What the durable store write costs: ``write_atomic`` (fsync of the file and its folder)
against the same temporary-file-and-rename without fsync, per 512×512 CT image.

    .venv/bin/python bench/store_fsync.py [--images 320] [--repeats 3] [--dir DATA_DIR]

Writes ``--images`` files of 523 KiB (a 512×512 16-bit image and its header) into one series
folder, as the receiver does, alternating the two ways ``--repeats`` times on an idle disk
(the previous run's files deleted, ``sync``); prints milliseconds per image, median of the runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from strokealert.dicom.store import write_atomic

IMAGE_BYTES = 512 * 512 * 2 + 12_000


def write_unsynced(path: Path, *chunks: bytes) -> None:
    """The store's write before fsync: temporary file, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
    with open(tmp, "wb") as handle:
        for chunk in chunks:
            handle.write(chunk)
    os.replace(tmp, path)


def run(root: Path, images: int, write: object) -> float:
    """Milliseconds per image for ``images`` writes into a fresh series folder."""
    folder = root / "1.2.3" / f"1.2.3.{uuid.uuid4().int % 10**8}"
    header, pixels = os.urandom(12_000), os.urandom(IMAGE_BYTES - 12_000)
    started = time.perf_counter()
    for n in range(images):
        write(folder / f"1.2.3.4.{n}.dcm", header, pixels)  # type: ignore[operator]
    elapsed = time.perf_counter() - started
    shutil.rmtree(root / "1.2.3")
    os.sync()
    return 1000 * elapsed / images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=320)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None,
                        help="folder on the disk to measure (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-fsync-", dir=args.dir) as tmp:
        os.sync()
        times: dict[str, list[float]] = {"rename only": [], "fsync file+folder": []}
        for repeat in range(args.repeats):
            for name, write in (("rename only", write_unsynced),
                                ("fsync file+folder", write_atomic)):
                times[name].append(run(Path(tmp), args.images, write))
                print(f"  run {repeat + 1}: {name:<18} {times[name][-1]:6.2f} ms/image",
                      flush=True)
    plain, synced = (statistics.median(v) for v in times.values())
    print(f"median: rename only {plain:.2f} ms/image, fsync file+folder {synced:.2f} ms/image; "
          f"fsync adds {synced - plain:.2f} ms/image ({args.images} images of "
          f"{IMAGE_BYTES // 1024} KiB)")


if __name__ == "__main__":
    main()
