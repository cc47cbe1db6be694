#!/usr/bin/env bash
# Set up cifarnets in ./.venv (with its test tools) and run the main job: evaluate a net
# on CIFAR-10. Works on a fresh machine, CPU only; arguments go to `cifarnets eval`.
#
#   ./quickstart.sh                          # the 1,000-image test sample shipped with cifarnets
#   ./quickstart.sh --data ~/.cache/cifarnets/data          # the full 10,000-image test set
#   MODEL=resnet20 ./quickstart.sh --download               # fetch CIFAR-10 first (online)
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu ./quickstart.sh
#                                            # CPU-only torch: ~0.7 GB instead of ~5.7 GB
set -euo pipefail
cd "$(dirname "$0")"
pip=(.venv/bin/python -m pip install --disable-pip-version-check)

echo "==> [1/3] creating .venv"
python3 -m venv .venv
if [[ -n "${TORCH_INDEX_URL:-}" ]]; then
  echo "==> [2/3] installing torch and torchvision from $TORCH_INDEX_URL, then cifarnets"
  "${pip[@]}" torch torchvision --index-url "$TORCH_INDEX_URL"
else
  echo "==> [2/3] installing cifarnets and its test tools; on Linux the default torch comes"
  echo "    with its CUDA libraries (~5.7 GB, minutes to download). CPU only is enough:"
  echo "    TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu $0 (~0.7 GB)"
fi
"${pip[@]}" -e ".[test]"
echo "==> [3/3] cifarnets eval ${MODEL:-resnet56} $*"
exec .venv/bin/cifarnets eval "${MODEL:-resnet56}" "$@"
