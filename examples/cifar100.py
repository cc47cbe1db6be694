"""Build a net for CIFAR-100, and train it with the report's recipe if the data is there.

    python examples/cifar100.py                                  # build, inspect, one forward pass
    python examples/cifar100.py --data ROOT --epochs 164         # train (a GPU makes it minutes)

ROOT holds cifar-100-python/ (torchvision's layout); add --download to fetch it when online.
"""

import argparse

import torch

import cifarnets
from cifarnets.data import DATASETS, DataError, load_split
from cifarnets.training import RunSpec, get_recipe, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet56")
    parser.add_argument("--data", help="root holding cifar-100-python/")
    parser.add_argument("--download", action="store_true")
    parser.add_argument("--epochs", type=int, default=164)
    parser.add_argument("--out", default="runs/cifar100")
    args = parser.parse_args()

    spec = DATASETS["cifar100"]
    model = cifarnets.get_model(args.model, num_classes=spec.num_classes)
    params = sum(p.numel() for p in model.parameters())
    print(f"{args.model} for CIFAR-100: {params:,} parameters, head {model.fc}")
    print(f"normalise inputs with mean {spec.mean} and std {spec.std}")
    with torch.no_grad():
        print("output shape:", tuple(model.eval()(torch.randn(2, 3, 32, 32)).shape))

    if args.data:
        try:
            load_split("cifar100", args.data, train=True, download=args.download)
        except DataError as err:
            raise SystemExit(f"error: {err}") from None
        recipe = get_recipe("report")
        if args.epochs != recipe.epochs:  # a changed recipe gets a name of its own
            milestones = tuple(m for m in recipe.milestones if m < args.epochs)
            recipe = recipe.with_changes(epochs=args.epochs, milestones=milestones)
        spec = RunSpec(args.model, dataset="cifar100", recipe=recipe)
        (result,) = train(spec, data_root=args.data, out_dir=args.out)
        print(
            f"{result.status}: final test error {result.final_test_error:.2f} %, "
            f"in {args.out}/{spec.name}/"
        )


if __name__ == "__main__":
    main()
