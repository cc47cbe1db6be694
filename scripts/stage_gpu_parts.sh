#!/usr/bin/env bash
# Split the compact CIFAR-10 copy into three ignored folders that can each travel beside
# the working tree to the GPU machine (at most 64 MiB per call, tree included; the copy
# is ~98 MB). Then, in ONE message, three `run` calls back to back on one warm machine:
#
#   run(carry=[".devdata/a"], command="mkdir -p ~/stage && cp .devdata/a/* ~/stage/")
#   run(carry=[".devdata/b"], command="cp .devdata/b/* ~/stage/")
#   run(carry=[".devdata/c"], timeout_s=590,
#       command="cp .devdata/c/* ~/stage/ && bash benchmarks/gpu_job.sh check speed paper")
#
# gpu_job.sh rebuilds the official cifar-10-batches-py from ~/stage (md5-checked), then
# continues the committed runs for $MAX_MINUTES; unpack its runs-*.tar over runs/ here.
set -euo pipefail
cd "$(dirname "$0")/.."
src="${CIFARNETS_CIFAR10_COMPACT:-../shared/data/cifar-10}"
rm -rf .devdata && mkdir -p .devdata/a .devdata/b .devdata/c
cp "$src"/data_batch_1.webp "$src"/data_batch_2.webp .devdata/a/
cp "$src"/data_batch_3.webp "$src"/data_batch_4.webp .devdata/b/
cp "$src"/data_batch_5.webp "$src"/test_batch.webp "$src"/*.json.xz "$src"/rebuild.py \
   .devdata/c/
du -sh .devdata/*
