#!/usr/bin/env bash
# The GPU machine's job in one call, from the repository root. Stage CIFAR-10 there
# first: scripts/stage_gpu_parts.sh (the WebP parts and rebuild.py into $STAGE).
#
#   bash benchmarks/gpu_job.sh check speed paper      # the steps to run, in order
#
#   check   the tests marked cuda (captured step == eager step; streams; resume)
#   speed   benchmarks/speed.py: the fast path against the eager fp32 loop
#   paper   cifarnets.reproduce: resnet20/56/110 and plain20/56/110, side by side
#   report  cifarnets.reproduce: the report's bottleneck nets (resnet/plain 83, 164)
#
# Training goes on from the run folders committed in runs/reproduce (they travel with the
# working tree), in a chunk of $MAX_MINUTES (default 7: a job may run 10 minutes, and the
# packing must fit after it), and stops cleanly at an epoch boundary. Results come back
# through $OUT, which returns at most 8 files of 16 MB: logs go there as they are written
# (a killed job still returns them), and the run folders, checkpoints included, are packed
# into tar files of <= 15 MB: unpack them over runs/ here and commit, and the next job
# (GPU or CPU) continues from them.
set -euo pipefail
out="${OUT:?OUT must name the folder that comes back}"
data="${DATA:-$HOME/data}"
runs="${RUNS:-$PWD/runs/reproduce}"
minutes="${MAX_MINUTES:-7}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

if [ ! -d "$data/cifar-10-batches-py" ]; then
  python3 "${STAGE:-$HOME/stage}/rebuild.py" "$data" --quiet
fi
python3 -c "import torch; print(torch.__version__, torch.cuda.is_available()
             and torch.cuda.get_device_name())" | tee "$out/environment.txt"

pack() {  # run folders -> $OUT/runs-N.tar, each under 15 MB
  python3 - "$runs" "$out" <<'EOF'
import sys, tarfile
from pathlib import Path
runs, out = Path(sys.argv[1]), Path(sys.argv[2])
files = sorted(p for p in runs.rglob("*") if p.is_file())
parts, size = [[]], 0
for f in files:
    if size + f.stat().st_size > 15e6 and parts[-1]:
        parts.append([]); size = 0
    parts[-1].append(f); size += f.stat().st_size
for i, part in enumerate(parts):
    with tarfile.open(out / f"runs-{i}.tar", "w") as tar:
        for f in part:
            tar.add(f, arcname=f.relative_to(runs.parent))
EOF
}
trap pack EXIT

for step in "$@"; do
  case "$step" in
    check)  # the GPU machine has no pytest: carry wheels (pip download pytest -d .devwheels)
      python3 -c "import pytest" 2>/dev/null \
        || python3 -m pip install -q --no-index --find-links .devwheels pytest
      python3 -m pytest -m cuda -p no:cacheprovider tests/test_training.py 2>&1 \
        | tee "$out/check.log" ;;
    speed) python3 benchmarks/speed.py --out "$out" 2>&1 | tee "$out/speed.log" ;;
    paper) python3 -m cifarnets.reproduce --data "$data" --out "$runs" \
             --max-minutes "$minutes" 2>&1 | tee "$out/paper.log" ;;
    report) python3 -m cifarnets.reproduce --models resnet83 resnet164 plain83 plain164 \
              --data "$data" --out "$runs" --max-minutes "$minutes" 2>&1 \
              | tee "$out/report.log" ;;
    *) echo "unknown step '$step': use check, speed, paper or report" >&2; exit 2 ;;
  esac
done
