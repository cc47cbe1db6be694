"""Publishing: training runs -> packaged weights -> Hugging Face Hub repos.

    cifarnets publish add RUN_DIR [RUN_DIR ...] --tag cifar10_v1
        Package a trained net: re-measure its test error in fp32 on the full test set,
        copy its file into the weights folder and add its entry to the manifest. Several
        run folders (seeds of one net) give the mean +- std; the first one's file is
        the one published.
    cifarnets publish hub [NAME ...] --out DIR [--dry-run]
        Write each weight's Hub repo (model.safetensors, config.json, README.md model
        card) under DIR and upload it; the commit it creates is pinned in the manifest.
        --dry-run writes the folders and shows what would be uploaded, offline.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
from pathlib import Path
from typing import Any

from ._registry import get_model, model_info
from .data import get_dataset_spec, load_split
from .evaluate import evaluate
from .weights import (
    HUB_FILENAME,
    Weights,
    _manifest,
    get_weights,
    list_weights,
    load_weights_file,
    pretrained_dir,
    sha256_of,
    write_manifest,
)

DEFAULT_ORG = "cifarnets"


# -- runs -> package ------------------------------------------------------------------

def _read_run(run_dir: Path) -> dict[str, Any]:
    summary_path = run_dir / "summary.json"
    if not summary_path.is_file():
        raise ValueError(f"{run_dir} is not a finished training run (no summary.json)")
    summary = json.loads(summary_path.read_text())
    if summary.get("status") != "finished":
        raise ValueError(f"{run_dir}: the run's status is {summary.get('status')!r}, not "
                         f"finished: only finished runs are published")
    if not (run_dir / "weights.safetensors").is_file():
        raise ValueError(f"{run_dir} has no weights.safetensors: train it again")
    return summary


def add_runs(run_dirs: list[Path], tag: str, *, data_root: Path, org: str = DEFAULT_ORG,
             make_default: bool = True, device: str = "cpu") -> Weights:
    """Package the weights of ``run_dirs[0]`` as ``<arch>.<tag>``, with all runs' metrics."""
    summaries = [_read_run(d) for d in run_dirs]
    arch, dataset = summaries[0]["model"], summaries[0]["dataset"]
    if any((s["model"], s["dataset"]) != (arch, dataset) for s in summaries):
        raise ValueError("all runs of one published weight must be the same net and data set")
    seeds = [s["seed"] for s in summaries]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"two runs have the same seed: {seeds}")
    spec = get_dataset_spec(dataset)
    source = run_dirs[0] / "weights.safetensors"

    # The published number is what anyone gets from this file in fp32.
    model = load_weights_file(get_model(arch, num_classes=spec.num_classes), source)
    images, labels = load_split(dataset, data_root, train=False)
    result = evaluate(model.to(device), images, labels, mean=spec.mean, std=spec.std,
                      device=device, progress=True)
    per_seed = [s["final_test_error"] for s in summaries]
    metrics: dict[str, Any] = {
        "test_error": round(result.error, 2),
        "test_error_eval": f"fp32 on {device}, full test set ({result.total} images)",
        "selection": "final epoch (no early stopping, test set never used for selection)",
        "seed": seeds[0],
        "seeds": seeds,
        "test_error_per_seed": per_seed,
        "test_error_per_seed_note": "final-epoch errors measured during training (bf16 on GPU)",
    }
    if len(per_seed) > 1:
        metrics["test_error_mean"] = round(statistics.mean(per_seed), 2)
        metrics["test_error_std"] = round(statistics.stdev(per_seed), 2)
    first = summaries[0]
    weights = Weights(
        arch=arch, tag=tag, dataset=dataset, num_classes=spec.num_classes,
        mean=spec.mean, std=spec.std, sha256=sha256_of(source),
        file_size=source.stat().st_size,
        num_params=sum(p.numel() for p in model.parameters()),
        hub_repo=f"{org}/{arch}.{tag}", hub_revision=None, metrics=metrics,
        recipe={"command": first["command"], "config": first["config"]},
        training={k: first.get(k) for k in
                  ("time_s", "hardware", "torch", "cuda", "commit", "precision", "cuda_graph",
                   "warmup_end_step")},
    )
    table, defaults = _manifest()
    table = {**table, weights.name: weights}
    defaults = dict(defaults)
    if make_default or arch not in defaults:
        defaults[arch] = tag
    shutil.copyfile(source, pretrained_dir() / weights.filename)
    write_manifest(table, defaults)
    return weights


# -- package -> Hub -------------------------------------------------------------------

def hub_config(weights: Weights) -> dict[str, Any]:
    """``config.json`` of a Hub repo: enough to rebuild the net and its preprocessing."""
    info = model_info(weights.arch)
    return {
        "library": "cifarnets",
        "architecture": weights.arch,
        "timm_architecture": f"cifar_{weights.arch}",
        "tag": weights.tag,
        "family": info.family,
        "report_label": info.report_label,
        "block": info.block,
        "depth": info.depth,
        "shortcut": info.shortcut,
        "num_classes": weights.num_classes,
        "num_params": weights.num_params,
        "macs": weights.macs,
        "input_size": [3, 32, 32],
        "dataset": weights.dataset,
        "mean": list(weights.mean),
        "std": list(weights.std),
        "sha256": weights.sha256,
        "metrics": dict(weights.metrics),
        "recipe": dict(weights.recipe),
        "training": dict(weights.training),
    }


def model_card(weights: Weights) -> str:
    """``README.md`` of a Hub repo: metadata header, usage, metrics, how to reproduce."""
    info = model_info(weights.arch)
    m = weights.metrics
    spread = (f" (mean {m['test_error_mean']} +- {m['test_error_std']} over seeds "
              f"{m['seeds']})" if "test_error_std" in m else f" (seed {m.get('seed')})")
    report = (f"\nIt reproduces the row \"{info.report_label}\" of the seed report's Table 1.\n"
              if info.report_label else "")
    return f"""---
library_name: cifarnets
license: mit
tags: [image-classification, cifar, resnet, safetensors]
datasets: [{weights.dataset}]
metrics: [error]
---
# {weights.name}

{info.summary} Trained on {weights.dataset} with cifarnets; {info.num_params:,} parameters,
{info.macs / 1e6:.2f} M multiply-accumulates per 32x32 image.
{report}
| metric | value |
|---|---|
| test error, final epoch | {weights.test_error} %{spread} |
| sha256 of model.safetensors | `{weights.sha256}` |

```python
import cifarnets
model = cifarnets.{weights.arch}(weights="{weights.tag}")   # eval mode, sha256-checked
# or: timm.create_model("cifar_{weights.arch}.{weights.tag}", pretrained=True)
```
Inputs: RGB in [0, 1], normalised with mean {list(weights.mean)} and std {list(weights.std)}.

Reproduce (then `cifarnets publish add`):

```
{weights.recipe.get("command", "")}
```
Training: {weights.training.get("time_s")} s on {weights.training.get("hardware")}, torch
{weights.training.get("torch")}, cifarnets commit {weights.training.get("commit")}.
"""


def write_hub_repo(weights: Weights, out_dir: Path) -> Path:
    """Write the repo folder of ``weights`` under ``out_dir``; return it."""
    folder = out_dir / weights.name
    folder.mkdir(parents=True, exist_ok=True)
    source = pretrained_dir() / weights.filename
    if not source.is_file() or sha256_of(source) != weights.sha256:
        raise ValueError(f"{source} is missing or does not match the manifest's sha256; "
                         f"publish it again with `cifarnets publish add`")
    shutil.copyfile(source, folder / HUB_FILENAME)
    (folder / "config.json").write_text(json.dumps(hub_config(weights), indent=2) + "\n")
    (folder / "README.md").write_text(model_card(weights))
    return folder


def upload_hub_repo(weights: Weights, folder: Path) -> str:
    """Create the Hub repo if needed, upload ``folder``, return the new commit sha."""
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(weights.hub_repo, exist_ok=True)
    commit = api.upload_folder(repo_id=weights.hub_repo, folder_path=str(folder),
                               commit_message=f"cifarnets {weights.name}")
    return commit.oid


def pin_revision(weights: Weights, revision: str) -> Weights:
    table, defaults = _manifest()
    pinned = Weights.from_dict({**weights.to_dict(), "hub_revision": revision})
    write_manifest({**table, weights.name: pinned}, defaults)
    return pinned


# -- command line ----------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="publish_command", required=True, metavar="STEP")
    p = sub.add_parser("add", help="package trained runs as published weights")
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR",
                   help="run folders written by benchmarks/reproduce.py (seeds of one net)")
    p.add_argument("--tag", required=True, help="data set + recipe + version, e.g. cifar10_v1")
    p.add_argument("--data", type=Path, required=True, metavar="ROOT",
                   help="data root, to re-measure the test error of the file")
    p.add_argument("--org", default=DEFAULT_ORG, help="Hub namespace of the repo")
    p.add_argument("--no-default", action="store_true",
                   help="do not make these the net's DEFAULT weights")
    p.add_argument("--device", default="cpu")

    p = sub.add_parser("hub", help="write each weight's Hub repo and upload it")
    p.add_argument("names", nargs="*", help="arch.tag names (default: every published weight)")
    p.add_argument("--out", type=Path, required=True, help="where to write the repo folders")
    p.add_argument("--dry-run", action="store_true",
                   help="write the folders and show what would be uploaded; no network")


def main(args: argparse.Namespace) -> int:
    if args.publish_command == "add":
        weights = add_runs(args.runs, args.tag, data_root=args.data, org=args.org,
                           make_default=not args.no_default, device=args.device)
        print(f"added {weights.name}: test error {weights.test_error} %, "
              f"sha256 {weights.sha256[:12]}, {weights.file_size:,} bytes -> "
              f"{pretrained_dir() / weights.filename}")
        return 0

    names = args.names or list_weights()
    if not names:
        print("no published weights to write (add some with `cifarnets publish add`)")
        return 1
    for name in names:
        weights = get_weights(name)
        folder = write_hub_repo(weights, args.out)
        files = sorted(folder.iterdir())
        listing = ", ".join(f"{f.name} ({f.stat().st_size:,} B)" for f in files)
        if args.dry_run:
            print(f"[dry run] would upload to {weights.hub_repo}: {listing}")
            continue
        revision = upload_hub_repo(weights, folder)
        pin_revision(weights, revision)
        print(f"uploaded {weights.name} to {weights.hub_repo}@{revision}; pinned in the manifest")
    return 0
