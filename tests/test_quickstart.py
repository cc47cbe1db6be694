"""quickstart.sh, with stand-ins for python3 and pip: each step says what it does, pip
shows its progress, and TORCH_INDEX_URL gets the CPU-only torch first."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from helpers import REPO

# A python3 whose `-m venv DIR` makes DIR/bin/python and DIR/bin/cifarnets, both of
# which only log their arguments.
FAKE_PYTHON3 = """#!/usr/bin/env bash
[[ "$1 $2" == "-m venv" ]] || exit 9
mkdir -p "$3/bin"
for tool in python cifarnets; do
  printf '#!/usr/bin/env bash\\necho "%s $*" >> "%s"\\n' "$tool" "$CALLS" > "$3/bin/$tool"
  chmod +x "$3/bin/$tool"
done
"""


def run_quickstart(tmp_path: Path, **env: str) -> tuple[str, list[str]]:
    shutil.copy(REPO / "quickstart.sh", tmp_path)
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    (bin_dir / "python3").write_text(FAKE_PYTHON3)
    (bin_dir / "python3").chmod(0o755)
    calls = tmp_path / "calls.log"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CALLS": str(calls), **env}
    result = subprocess.run(
        ["bash", str(tmp_path / "quickstart.sh"), "--limit", "10"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout, calls.read_text().splitlines()


def test_quickstart_shows_each_step_and_pip_progress(tmp_path):
    out, calls = run_quickstart(tmp_path)
    assert [line[:10] for line in out.splitlines() if line.startswith("==>")] == [
        "==> [1/3] ",
        "==> [2/3] ",
        "==> [3/3] ",
    ]
    assert "~5.7 GB" in out and "TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu" in out
    install, evaluate = calls
    assert install.endswith("-m pip install --disable-pip-version-check -e .[test]")
    assert "--quiet" not in install and "-q" not in install.split()
    assert evaluate == "cifarnets eval resnet56 --limit 10"


def test_quickstart_installs_the_cpu_torch_first(tmp_path):
    _, calls = run_quickstart(
        tmp_path, TORCH_INDEX_URL="https://download.pytorch.org/whl/cpu", MODEL="resnet20"
    )
    torch_install, install, evaluate = calls
    assert torch_install.endswith(
        "install --disable-pip-version-check torch torchvision "
        "--index-url https://download.pytorch.org/whl/cpu"
    )
    assert install.endswith("-e .[test]") and evaluate == "cifarnets eval resnet20 --limit 10"
