"""scripts/test-prerequisites.sh, which ``make test`` (and so ``.ci/run``) runs first.

On this machine everything is there, so it succeeds; on one where a tool is missing and it may
not install (not root), it names what is missing and how to get it, and fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "test-prerequisites.sh"


def test_make_test_and_ci_run_go_through_the_script() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    assert recipe[0].strip() == "scripts/test-prerequisites.sh"
    assert any("pytest" in line for line in recipe)
    ci_lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if line and not line.startswith("#")]
    assert ci_lines[-1] == "exec make test"
    assert os.access(SCRIPT, os.X_OK) and os.access(ROOT / ".ci" / "run", os.X_OK)


def test_ready_machine_passes() -> None:
    done = subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ready" in done.stdout


def test_missing_tool_without_apt_rights_fails_and_says_what_to_install() -> None:
    """A PATH holding every command of /usr/bin and /bin but ``storescu``, run as a user who
    may not install: exit 1 with the package to install."""
    with tempfile.TemporaryDirectory(prefix="prereq-") as folder:
        os.chmod(folder, 0o755)  # readable by the unprivileged user below
        _run_without_storescu(Path(folder))


def _run_without_storescu(bin_dir: Path) -> None:
    for folder in ("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"):
        for tool in Path(folder).iterdir() if Path(folder).is_dir() else []:
            target = bin_dir / tool.name
            if tool.name != "storescu" and not target.exists():
                target.symlink_to(tool)
    command = [str(SCRIPT)]
    if os.geteuid() == 0:  # drop root, so that apt-get may not be used
        runuser = shutil.which("runuser")
        assert runuser is not None
        command = [runuser, "-u", "nobody", "--", *command]
    env = {"PATH": str(bin_dir), "HOME": str(bin_dir)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "not installed: dcmtk (as root: apt-get install dcmtk)" in done.stderr
    assert "DCMTK storescu not found" in done.stderr
