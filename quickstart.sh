#!/usr/bin/env bash
# Set up cifarnets in ./.venv (with its test tools) and run the main job: evaluate a net
# on CIFAR-10. Works on a fresh machine, CPU only; arguments go to `cifarnets eval`.
#
#   ./quickstart.sh                          # the 1,000-image test sample shipped with cifarnets
#   ./quickstart.sh --data ~/.cache/cifarnets/data          # the full 10,000-image test set
#   MODEL=resnet20 ./quickstart.sh --data ROOT --download   # fetch CIFAR-10 first (online)
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
exec .venv/bin/cifarnets eval "${MODEL:-resnet56}" "$@"
