"""The real MLLP client of the tests: the ``hl7`` package's ``mllp_send`` command."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

MESSAGES = Path(__file__).parent / "messages"
MLLP_SEND = str(Path(sys.executable).parent / "mllp_send")
ACK = re.compile(rb"MSA\|(A[AER])\|([^\r|]*)")


def mllp_send(port: int, path: Path, *, loose: bool = True) -> list[tuple[str, str]]:
    """Send the messages of ``path`` with ``mllp_send`` (``--loose``: newline-separated
    segments, messages starting at ``MSH``); (MSA-1, MSA-2) of each ACK received."""
    args = [MLLP_SEND, "-p", str(port), "-f", str(path), *(["--loose"] if loose else []),
            "127.0.0.1"]
    done = subprocess.run(args, capture_output=True, timeout=60, check=True)
    return [(code.decode(), ctrl.decode()) for code, ctrl in ACK.findall(done.stdout)]


def message(name: str, index: int = 0) -> str:
    """The ``index``-th message (newline-separated segments) of the sample file ``name``."""
    return (MESSAGES / name).read_text().split("\n\n")[index].strip("\n") + "\n"
