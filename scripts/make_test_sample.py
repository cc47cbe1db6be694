"""Write cifarnets/assets/cifar10_test_sample.safetensors from the real CIFAR-10 test set.

    python scripts/make_test_sample.py ~/.cache/cifarnets/data

The sample is the first 100 test images of each class, in test-set order: balanced,
deterministic, and traceable (the file stores each image's index in the official test
set; tests/test_data.py checks it against the real test set).
"""

import argparse
from pathlib import Path

import torch
from safetensors.torch import save_file

from cifarnets.data import load_split

PER_CLASS = 100
OUT = Path(__file__).resolve().parents[1] / "cifarnets/assets/cifar10_test_sample.safetensors"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", help="data root holding cifar-10-batches-py/")
    args = parser.parse_args()
    images, labels = load_split("cifar10", args.root, train=False)
    indices = torch.cat([torch.nonzero(labels == c).flatten()[:PER_CLASS] for c in range(10)])
    indices = indices.sort().values
    save_file(
        {"images": images[indices].contiguous(), "labels": labels[indices], "indices": indices},
        str(OUT),
        metadata={"source": "CIFAR-10 test_batch", "selection": f"first {PER_CLASS} per class"},
    )
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes, {len(indices)} images)")


if __name__ == "__main__":
    main()
