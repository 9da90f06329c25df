"""DCMTK's ``storescu``, the scanner of the tests and benchmarks, found by what it is.

pynetdicom installs a ``storescu`` of its own (other options) into the virtual environment's
``bin``; with the environment activated it comes first on PATH, and a test that ran the bare
name got pynetdicom's ("argument port: invalid int value: '+r'"). Every sender here is DCMTK's.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path


@functools.cache
def storescu_path() -> str | None:
    """Absolute path of the first ``storescu`` on PATH whose ``--version`` names DCMTK; None
    when there is none (``apt-get install dcmtk``)."""
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(folder or ".").resolve() / "storescu"
        if not (candidate.is_file() and os.access(candidate, os.X_OK)):
            continue
        try:
            done = subprocess.run([str(candidate), "--version"], capture_output=True,
                                  text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if "dcmtk" in (done.stdout + done.stderr).lower():
            return str(candidate)
    return None


def storescu() -> str:
    """DCMTK's ``storescu`` (absolute path); raises FileNotFoundError naming the package when
    it is not installed."""
    path = storescu_path()
    if path is None:
        raise FileNotFoundError("DCMTK storescu not found on PATH (apt-get install dcmtk); "
                                "pynetdicom's storescu takes other options")
    return path
