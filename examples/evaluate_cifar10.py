"""Evaluate a cifarnets net on the CIFAR-10 test set, from Python.

    python examples/evaluate_cifar10.py resnet56                 # the shipped 1,000-image sample
    python examples/evaluate_cifar10.py resnet56 --data ROOT     # the full test set

Uses the published DEFAULT weights when the net has some; otherwise random init, and says so.
"""

import argparse

import torch

import cifarnets
from cifarnets.data import DATASETS, load_split, load_test_sample
from cifarnets.evaluate import evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default="resnet56")
    parser.add_argument("--data", help="root holding cifar-10-batches-py/")
    parser.add_argument("--limit", type=int, help="only the first N images")
    args = parser.parse_args()

    if cifarnets.list_weights(f"{args.model}.*"):
        model = cifarnets.get_model(args.model, pretrained=True)  # returned in eval mode
        mean, std = model.pretrained_weights.mean, model.pretrained_weights.std
        what = f"weights {model.pretrained_weights.name}"
    else:
        model = cifarnets.get_model(args.model)
        mean, std = DATASETS["cifar10"].mean, DATASETS["cifar10"].std
        what = "RANDOM init (no published weights for this net yet)"

    if args.data:
        images, labels = load_split("cifar10", args.data, train=False)
    else:
        images, labels, _ = load_test_sample()
    images, labels = images[: args.limit], labels[: args.limit]

    device = "cuda" if torch.cuda.is_available() else "cpu"
    result = evaluate(model.to(device), images, labels, mean=mean, std=std, device=device)
    print(
        f"{args.model}, {what}: test error {result.error:.2f} % on {result.total:,} images"
        f"{'' if args.data else ' of the shipped sample'}"
    )


if __name__ == "__main__":
    main()
