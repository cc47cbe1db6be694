#!/usr/bin/env bash
# A GPU box you hold for a limited time (a preemptible instance, a time-limited job):
# check the CUDA path, measure it, and train as far as the deadline allows, then pack the
# run folders so that the next box, or a CPU, continues from them. From the repository
# root:
#
#   DATA=~/data OUT=~/out bash benchmarks/gpu_job.sh check speed paper   # steps, in order
#
#   check   the tests marked cuda (captured step == eager step; streams; resume; the
#           captured step's own check against the eager step, and its fallback). The
#           check-and-fallback machinery is tested on the CPU; only these lines run on
#           a GPU alone: CudaGraphExecutor (needs_proof, step, _capture, _warm_up) in
#           cifarnets/training/executors.py, the torch.cuda.synchronize after the
#           executor's steps in check.py's check_executor, and speed.py's guard of the
#           side-by-side row.
#   speed   benchmarks/speed.py: the fast path against the eager fp32 loop
#   paper   cifarnets train: resnet20/56/110 and plain20/56/110, side by side
#   report  cifarnets train: the report's bottleneck nets (resnet/plain 83, 164)
#
# $DATA holds cifar-10-batches-py/ (torchvision's layout; copy it there, or set
# DOWNLOAD=1 on a box that can reach the official URL). Training goes on from the run
# folders in runs/reproduce (commit them and they travel with the checkout), in a chunk
# that ends at an epoch boundary before the job's deadline: $JOB_SECONDS (default 540)
# from the start, less a minute for packing, and at most $MAX_MINUTES per training step
# when that is set. Logs are written into $OUT as they go (a killed job still leaves
# them), and the run folders, checkpoints included, are packed into $OUT/runs-N.tar of
# at most $PACK_MB (default 15) MB each, for transfers that limit file sizes: unpack them
# over runs/ in your checkout and commit, and the next job continues from them.
set -euo pipefail
out="${OUT:?OUT must name the folder that comes back}"
data="${DATA:-$HOME/data}"
runs="${RUNS:-$PWD/runs/reproduce}"
deadline=$(( SECONDS + ${JOB_SECONDS:-540} ))
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

if [ ! -d "$data/cifar-10-batches-py" ]; then
  if [ -n "${DOWNLOAD:-}" ]; then
    python3 -c "import sys; from cifarnets.data import load_split
load_split('cifar10', sys.argv[1], train=True, download=True)" "$data"
  else
    echo "no CIFAR-10 at $data/cifar-10-batches-py: copy it there (or set DATA), or set" \
         "DOWNLOAD=1 to fetch it" >&2
    exit 2
  fi
fi
python3 -c "import torch; print(torch.__version__, torch.cuda.is_available()
             and torch.cuda.get_device_name())" | tee "$out/environment.txt"

pack() {  # run folders -> $OUT/runs-N.tar, each under $PACK_MB
  python3 - "$runs" "$out" "${PACK_MB:-15}" <<'EOF'
import sys, tarfile
from pathlib import Path
runs, out, limit = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]) * 1e6
files = sorted(p for p in runs.rglob("*") if p.is_file())
parts, size = [[]], 0
for f in files:
    if size + f.stat().st_size > limit and parts[-1]:
        parts.append([]); size = 0
    parts[-1].append(f); size += f.stat().st_size
for i, part in enumerate(parts):
    with tarfile.open(out / f"runs-{i}.tar", "w") as tar:
        for f in part:
            tar.add(f, arcname=f.relative_to(runs.parent))
EOF
}
trap pack EXIT

train() {  # NAME [reproduce options]: one chunk in the time left before the deadline
  local name=$1 minutes=$(( (deadline - SECONDS - 60) / 60 ))
  shift
  if [ -n "${MAX_MINUTES:-}" ] && [ "$MAX_MINUTES" -lt "$minutes" ]; then minutes=$MAX_MINUTES; fi
  if [ "$minutes" -lt 1 ]; then
    echo "no time left for $name" | tee -a "$out/$name.log"; return 0
  fi
  # Exit status 4 (runs unfinished) is how a chunk normally ends: go on to the next step.
  python3 -m cifarnets train "$@" --data "$data" --out "$runs" --max-minutes "$minutes" \
    2>&1 | tee "$out/$name.log" || [ "${PIPESTATUS[0]}" -eq 4 ]
}

for step in "$@"; do
  case "$step" in
    check)  # a box without pytest or an index: bring wheels (pip download pytest -d .devwheels)
      python3 -c "import pytest" 2>/dev/null \
        || python3 -m pip install -q --no-index --find-links .devwheels pytest
      python3 -m pytest -m cuda -p no:cacheprovider tests/test_training.py \
        tests/test_executor_fallback.py 2>&1 \
        | tee "$out/check.log" ;;
    speed) python3 benchmarks/speed.py --out "$out" 2>&1 | tee "$out/speed.log" ;;
    paper) train paper ;;
    report) train report --models resnet83 resnet164 plain83 plain164 ;;
    *) echo "unknown step '$step': use check, speed, paper or report" >&2; exit 2 ;;
  esac
done
