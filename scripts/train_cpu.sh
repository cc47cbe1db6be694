#!/usr/bin/env bash
# Train runs on a CPU-only machine in the background, one process per run, by default
# single-threaded and pinned to its own core (robust when other work shares the cores:
# benchmarks/results/speed-cpu.md; $TRAIN_CORES below gives a lone run more), at low
# priority so that the machine stays usable. Each process is one chunk of
# `cifarnets train`: it continues its run from the checkpoint in runs/reproduce and
# stops cleanly at an epoch boundary on SIGTERM or after --max-minutes.
#
#   scripts/train_cpu.sh resnet20 plain20            # start (logs: runs/cpu-logs/)
#   pkill -TERM -f 'cifarnets train'                 # stop all at their epoch's end
#
# Precision: the engine's "auto", bf16 autocast where the CPU has bf16 instructions
# (AVX512_BF16 or AMX: ~1.5x per epoch on the project's Zen 4 machines,
# benchmarks/results/epoch-times.md), else fp32; $TRAIN_PRECISION (bf16, fp32) overrides.
# Each chunk records its precision in chunks.json; publish re-measures in fp32.
# Extra arguments for every process go in $TRAIN_ARGS (e.g. "--max-minutes 300").
# $TRAIN_CORES pins all processes to the listed cores (e.g. "1" keeps core 0 free for
# interactive work while the runs share core 1); by default each gets its own core.
# A list of several cores ("0,1", "0-3") gives each process that many threads: for one
# run left alone on a 2-core machine, TRAIN_CORES=0,1 scripts/train_cpu.sh plain56 (414 s
# an epoch, median, with 2 threads on an AVX2 EPYC, fp32, against 792 s with 1 thread while
# another run had the other core: benchmarks/results/epoch-times.md).
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-.venv/bin/python}"
data="${DATA:-$HOME/.cache/cifarnets/data}"
mkdir -p runs/cpu-logs
# tcmalloc: -12 % step time here (jemalloc was slower); used only where installed.
tcmalloc=$(ls /usr/lib/x86_64-linux-gnu/libtcmalloc.so.4 2>/dev/null || true)
cores=$(nproc)
precision="${TRAIN_PRECISION:-auto}"
threads=1
if [[ -n "${TRAIN_CORES:-}" ]]; then
  # taskset's own parser counts the list: pin a shell there and ask it how many.
  threads=$(taskset -c "$TRAIN_CORES" nproc)
fi
i=0
for model in "$@"; do
  core=${TRAIN_CORES:-$(( (cores - 1 - i) % cores ))}
  LD_PRELOAD="$tcmalloc" PYTHONUNBUFFERED=1 nohup nice -n 10 taskset -c "$core" \
    "$python" -m cifarnets train --models "$model" --data "$data" \
    --threads "$threads" --executor auto --precision "$precision" ${TRAIN_ARGS:-} \
    >> "runs/cpu-logs/$model.log" 2>&1 &
  echo "$model: pid $! on core(s) $core, $threads thread(s), precision $precision, log runs/cpu-logs/$model.log"
  i=$((i + 1))
done
