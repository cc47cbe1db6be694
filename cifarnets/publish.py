"""Publishing: training runs (or ported checkpoints) -> packaged weights -> Hub repos.

    cifarnets publish add RUN_DIR [RUN_DIR ...] --tag cifar10_v1 --data ROOT
        Package a trained net: re-measure its test error (and each seed's) in fp32 on the
        full test set, copy its file into the weights folder and add its entry to the
        manifest. Several run folders (seeds of one net) give the mean +- std; the first
        one's file is the one published. Only finished runs of a full recipe are
        published, unless --allow-partial (then the weight is labelled partial).
    cifarnets publish port akamaster SRC.th --arch resnet56 --tag cifar10_akamaster --data ROOT
        Package another project's published checkpoint, converted exactly (cifarnets.convert),
        with its source, license and how it was trained and selected.
    cifarnets publish hub [NAME ...] --out DIR [--dry-run]
        Write each weight's Hub repo (model.safetensors, config.json, README.md model
        card) under DIR and upload it; the commit it creates is pinned in the manifest.
        --dry-run writes the folders and shows what would be uploaded, offline.

A published tag's bytes are immutable: replacing them needs --replace, which says what
it replaces. The weights folder is the package's own (a checkout) or --folder /
$CIFARNETS_PRETRAINED_DIR (a private set); the manifest is written atomically.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import statistics
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _exit
from ._registry import TIMM_PREFIX, model_info
from ._safetensors import atomic_write, canonical_bytes
from .convert import AKAMASTER_MEAN, AKAMASTER_STD, convert_akamaster_file
from .data import CATEGORIES, get_dataset_spec, load_split
from .errors import (
    CifarnetsError,
    ConversionError,
    DataError,
    HubRefusedError,
    HubUnreachableError,
    PublishError,
    PublishUnreachableError,
    WeightsUnreachableError,
)
from .evaluate import evaluate
from .hub import fetch, hub_call, sha256_of
from .loading import load_weights_file
from .models import get_model
from .reference import REFERENCES, tolerance
from .training.results import RunResult, read_result
from .weights import (
    HUB_FILENAME,
    MANIFEST,
    RESERVED_TAGS,
    Weights,
    get_weights,
    is_private_dir,
    list_weights,
    pretrained_cfg_for,
    pretrained_dir,
    read_manifest,
    ships_in_package,
)

if TYPE_CHECKING:
    from huggingface_hub import ModelCardData

DEFAULT_ORG = "cifarnets"


# -- the weights folder -------------------------------------------------------------------


def read_folder(folder: Path) -> tuple[dict[str, Weights], dict[str, dict[str, str]]]:
    """The manifest of a weights folder; an empty one if the folder has none yet."""
    path = folder / MANIFEST
    if not path.is_file():
        return {}, {}
    read_manifest.cache_clear()
    return read_manifest(path)


def write_manifest(
    folder: Path, table: dict[str, Weights], defaults: dict[str, dict[str, str]]
) -> Path:
    """Replace ``folder``'s manifest (atomically) with ``table`` and ``defaults``."""
    data = {
        "default": {a: dict(sorted(d.items())) for a, d in sorted(defaults.items()) if d},
        "weights": [w.to_dict() for w in sorted(table.values(), key=lambda w: w.name)],
    }
    path = folder / MANIFEST
    atomic_write(path, (json.dumps(data, indent=2) + "\n").encode())
    read_manifest.cache_clear()
    return path


def _check_writable(folder: Path) -> None:
    """Before any slow work: the folder exists (or can) and takes files."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".publish-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise PublishError(
            f"cannot write to the weights folder {folder} ({err}). Fix: pass "
            f"--folder DIR (or set CIFARNETS_PRETRAINED_DIR) to a folder you "
            f"can write; nothing was changed"
        ) from err


_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def _check_names(arch: str, tag: str, org: str) -> str:
    """Before any slow work: the tag names one file and the Hub repo id is one the Hub
    accepts (else `publish hub` would fail after the weight is published). Returns the
    repo id."""
    if not _TAG.fullmatch(tag) or tag.lower() in RESERVED_TAGS:
        raise PublishError(
            f"invalid tag {tag!r}: use letters, digits, _ and - (data set + "
            f"recipe + version, e.g. cifar10_v1), not one of {sorted(RESERVED_TAGS)}; "
            f"nothing was changed"
        )
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    repo = f"{org}/{arch}.{tag}"
    try:
        validate_repo_id(repo)
    except HFValidationError as err:
        raise PublishError(
            f"the Hub would refuse the repo id {repo!r} ({err}). Fix: pass "
            f"--org with a valid Hub user or organisation name; nothing was "
            f"changed"
        ) from None
    return repo


def _check_replace(table: dict[str, Weights], name: str, replace: bool) -> str | None:
    """Refuse to change a published tag's bytes unless asked; say what is replaced."""
    old = table.get(name)
    if old is None:
        return None
    where = f"pinned to Hub commit {old.hub_revision}" if old.hub_revision else "not uploaded yet"
    what = f"{name} (sha256 {old.sha256[:12]}, test error {old.test_error} %, {where})"
    if not replace:
        raise PublishError(
            f"{what} is already published, and a published tag's bytes do not "
            f"change. Publish under a new tag (e.g. a higher version), or pass "
            f"--replace to replace it; nothing was changed"
        )
    return what


def _set_default(
    defaults: dict[str, dict[str, str]],
    table: dict[str, Weights],
    weights: Weights,
    make_default: bool,
) -> None:
    """The project's own weights are the DEFAULT of their net and data set; ported ones
    only until the project has its own; partial ones (a check run) only where there is
    nothing better, so that `pretrained=True` never swaps a real weight for a check run."""
    current = defaults.get(weights.arch, {}).get(weights.dataset)
    current_w = table.get(f"{weights.arch}.{current}") if current else None
    if current_w is None or (make_default and _rank(weights) >= _rank(current_w)):
        defaults.setdefault(weights.arch, {})[weights.dataset] = weights.tag


def _rank(weights: Weights) -> int:
    """Which weights make the better DEFAULT: partial < ported < the project's own."""
    return 0 if weights.partial else 1 if weights.ported else 2


def _measure(
    arch: str,
    file: Path,
    data_root: Path,
    device: str,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    dataset: str,
) -> tuple[float, int]:
    """(test error %, images) of a weights file in fp32 on the full test set."""
    spec = get_dataset_spec(dataset)
    model = load_weights_file(get_model(arch, num_classes=spec.num_classes), file)
    images, labels = load_split(dataset, data_root, train=False)
    result = evaluate(
        model.to(device),
        images,
        labels,
        mean=mean,
        std=std,
        device=device,
        progress=sys.stderr.isatty(),
    )
    return round(result.error, 2), result.total


# -- runs -> package ------------------------------------------------------------------


def _read_runs(run_dirs: list[Path], allow_partial: bool) -> list[RunResult]:
    results = [read_result(d) for d in run_dirs]
    for r, d in zip(results, run_dirs, strict=True):
        if r.status != "finished":
            raise PublishError(
                f"{d}: the run's status is {r.status!r}, not finished "
                f"({r.epochs}/{r.spec.recipe.epochs} epochs): only finished "
                f"runs are published"
            )
        if not (d / "weights.safetensors").is_file():
            raise PublishError(
                f"{d} has no weights.safetensors (the run finished, but its "
                f"file is gone): restore it, or move the folder away and "
                f"train the run again"
            )
        if not r.full_recipe and not allow_partial:
            raise PublishError(
                f"{d} is not its recipe's full experiment (recipe {r.recipe}, train images "
                f"{r.train_images:,}, test images {r.test_images:,}): publishing it would "
                f"pass a check run off as a result. Pass --allow-partial to publish it "
                f"anyway, labelled partial"
            )
    first = results[0]
    for r in results[1:]:
        # Seeds of one experiment: one note can then say what every number was measured on.
        if dataclasses.replace(r.spec, seed=first.seed) != first.spec:
            raise PublishError(
                f"all runs of one published weight must be seeds of the same "
                f"run (net, data set, recipe, subsets): {r.name} and "
                f"{first.name} differ"
            )
    seeds = [r.seed for r in results]
    if len(set(seeds)) != len(seeds):
        raise PublishError(f"two runs have the same seed: {seeds}")
    return results


def reproduces(arch: str, dataset: str, test_error: float | None, n_seeds: int) -> bool | None:
    """Whether an error meets the net's published target (None: no target to judge by)."""
    ref = REFERENCES.get(arch)
    if ref is None or ref.target is None or dataset != "cifar10" or test_error is None:
        return None
    return test_error <= ref.target + tolerance(n_seeds)


def add_runs(
    run_dirs: list[Path],
    tag: str,
    *,
    data_root: Path,
    folder: Path | None = None,
    org: str = DEFAULT_ORG,
    make_default: bool = True,
    device: str = "cpu",
    allow_partial: bool = False,
    replace: bool = False,
) -> Weights:
    """Package the weights of ``run_dirs[0]`` as ``<arch>.<tag>``, with all runs' metrics."""
    folder = Path(folder) if folder else pretrained_dir()
    results = _read_runs([Path(d) for d in run_dirs], allow_partial)
    first = results[0]
    arch, dataset = first.model, first.dataset
    name = f"{arch}.{tag}"
    hub_repo = _check_names(arch, tag, org)
    _check_writable(folder)
    table, defaults = read_folder(folder)
    replaced = _check_replace(table, name, replace)
    spec = get_dataset_spec(dataset)
    source = Path(run_dirs[0]) / "weights.safetensors"

    # Every published number is what anyone gets from these files in fp32, full test set.
    per_seed, images = [], 0
    for d in run_dirs:
        error, images = _measure(
            arch, Path(d) / "weights.safetensors", data_root, device, spec.mean, spec.std, dataset
        )
        per_seed.append(error)
    metrics: dict[str, Any] = {
        "test_error": per_seed[0],
        "test_images": images,
        "test_error_eval": f"fp32 on {device}, the full {dataset} test set ({images:,} images)",
        "selection": "final epoch (no early stopping; the test set chose nothing)",
        "selected_on_test": False,
        "seed": first.seed,
        "seeds": [r.seed for r in results],
        "test_error_per_seed": per_seed,
        "test_error_per_seed_eval": "each seed's final weights, measured as test_error",
        "test_error_during_training": [r.final_test_error for r in results],
        "test_error_during_training_eval": (
            f"the last epoch's evaluation during training, on {first.test_images:,} test "
            f"images, in the training's precision "
            f"({', '.join(dict.fromkeys(h for r in results for h in r.hardware))})"
        ),
    }
    if len(per_seed) > 1:
        metrics["test_error_mean"] = round(statistics.mean(per_seed), 2)
        metrics["test_error_std"] = round(statistics.stdev(per_seed), 2)
    verdict = reproduces(arch, dataset, metrics.get("test_error_mean", per_seed[0]), len(per_seed))
    if verdict is not None and first.full_recipe:
        metrics["meets_target"] = verdict
    seeds = " ".join(str(r.seed) for r in results)
    chunk_commands = sorted({c.command for r in results for c in r.chunks if c.command})
    weights = Weights(
        arch=arch,
        tag=tag,
        dataset=dataset,
        num_classes=spec.num_classes,
        mean=spec.mean,
        std=spec.std,
        sha256=sha256_of(source),
        file_size=source.stat().st_size,
        num_params=model_info(arch).num_params
        + (spec.num_classes - 10) * (model_info(arch).num_features + 1),
        hub_repo=hub_repo,
        hub_revision=None,
        metrics=metrics,
        recipe={
            "name": first.recipe,
            "command": f"cifarnets train --models {arch} --seeds {seeds} --dataset "
            f"{dataset}" + ("" if first.recipe == "report" else f" (recipe {first.recipe})"),
            "config": first.spec.recipe.to_dict(),
            "train_images": first.train_images,
            "chunk_commands": chunk_commands,
        },
        training={
            "time_s": round(first.time_s, 1),
            "hardware": first.hardware,
            "chunks": len(first.chunks),
            "epochs": first.epochs,
            "torch": sorted({c.torch for c in first.chunks}),
            "commit": first.chunks[-1].commit if first.chunks else None,
            "warmup_end_step": first.warmup_end_step,
            **(
                {"executor_fallbacks": first.executor_fallbacks} if first.executor_fallbacks else {}
            ),
        },
        license="MIT",
        categories=CATEGORIES.get(dataset, ()),
        partial=not first.full_recipe,
    )
    _install(folder, table, defaults, weights, source.read_bytes(), make_default)
    if replaced:
        print(f"replaced {replaced}")
    return weights


# -- ported checkpoints -> package ------------------------------------------------------

# What the peers' own documentation says of their checkpoints (their README and trainer.py
# at the commit named below).
PORTS: dict[str, dict[str, Any]] = {
    "akamaster": {
        "repository": "https://github.com/akamaster/pytorch_resnet_cifar10",
        "commit": "d5489e8995e81e91ce6b1d69dcc98ad579b0b153",
        "license": "BSD-2-Clause",
        "copyright": "Copyright (c) 2018, Yerlan Idelbayev",
        "mean": AKAMASTER_MEAN,  # ImageNet's: what the peer trained with
        "std": AKAMASTER_STD,
        "recipe": {
            "name": "akamaster",
            "description": "200 epochs, SGD momentum 0.9, batch 128, lr 0.1 divided by 10 at "
            "epochs 100 and 150, weight decay 1e-4, pad-4 crop + flip, "
            "ImageNet normalisation, all 50,000 training images (the "
            "peer's README and trainer.py)",
        },
        "selection": "the epoch with the best test error (the peer's best_prec1): the "
        "published error is optimistic, not a final-epoch number",
    },
}


def add_port(
    kind: str,
    src: Path,
    *,
    arch: str,
    tag: str,
    data_root: Path,
    folder: Path | None = None,
    org: str = DEFAULT_ORG,
    make_default: bool = True,
    device: str = "cpu",
    replace: bool = False,
) -> Weights:
    """Package a peer's checkpoint, converted exactly, with its source and license."""

    if kind not in PORTS:
        raise PublishError(f"unknown source {kind!r}; known: {', '.join(PORTS)}")
    port = PORTS[kind]
    folder = Path(folder) if folder else pretrained_dir()
    name = f"{arch}.{tag}"
    model_info(arch)  # an unknown net fails here, with the closest name
    hub_repo = _check_names(arch, tag, org)
    _check_writable(folder)
    table, defaults = read_folder(folder)
    replaced = _check_replace(table, name, replace)
    try:
        state, meta = convert_akamaster_file(src, arch)
    except ConversionError as e:
        raise PublishError(str(e)) from None
    num_classes, dataset = int(meta["num_classes"]), meta["dataset"]
    data = canonical_bytes(state, meta)
    staged = folder / f".{name}.staged{os.getpid()}.safetensors"
    atomic_write(staged, data)
    try:
        error, images = _measure(
            arch, staged, data_root, device, port["mean"], port["std"], dataset
        )
    finally:
        staged.unlink(missing_ok=True)
    weights = Weights(
        arch=arch,
        tag=tag,
        dataset=dataset,
        num_classes=num_classes,
        mean=port["mean"],
        std=port["std"],
        sha256=_sha256_bytes(data),
        file_size=len(data),
        num_params=sum(
            v.numel()
            for k, v in state.items()
            if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))
        ),
        hub_repo=hub_repo,
        hub_revision=None,
        metrics={
            "test_error": error,
            "test_images": images,
            "test_error_eval": f"fp32 on {device}, the full {dataset} test set "
            f"({images:,} images), with the checkpoint's own "
            f"(ImageNet) normalisation",
            "selection": port["selection"],
            "selected_on_test": True,
        },
        recipe=port["recipe"],
        training={},
        license=port["license"],
        categories=CATEGORIES.get(dataset, ()),
        source={
            "project": kind,
            "repository": port["repository"],
            "commit": port["commit"],
            "file": Path(src).name,
            "file_sha256": sha256_of(src),
            "license": port["license"],
            "copyright": port["copyright"],
        },
    )
    _install(folder, table, defaults, weights, data, make_default)
    if replaced:
        print(f"replaced {replaced}")
    return weights


def _sha256_bytes(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _install(
    folder: Path,
    table: dict[str, Weights],
    defaults: dict[str, dict[str, str]],
    weights: Weights,
    data: bytes,
    make_default: bool,
) -> None:
    """The file first, then the manifest that names it (a kill between leaves no entry
    pointing at a missing file)."""
    atomic_write(folder / weights.filename, data)
    table = {**table, weights.name: weights}
    defaults = {a: dict(d) for a, d in defaults.items()}
    _set_default(defaults, table, weights, make_default)
    write_manifest(folder, table, defaults)


def _publish_error(cause: CifarnetsError) -> type[PublishError]:
    """The PublishError that fits a failure: the network missing (exit 3) or not."""
    unreachable = isinstance(cause, (HubUnreachableError, WeightsUnreachableError))
    return PublishUnreachableError if unreachable else PublishError


def sync_package(folder: Path) -> tuple[list[str], list[str]]:
    """Make the folder's weight files what the package ships (``ships_in_package``): a
    pinned weight that no longer ships leaves once the Hub is seen to serve its bytes
    to anyone (an anonymous download, sha256-checked; else it stays, with a note), and
    one that ships but is missing is fetched from the Hub and verified. Returns
    ``(removed, added)`` names; each is printed."""
    table, defaults = read_folder(folder)
    removed, added = [], []
    for weights in table.values():
        path = folder / weights.filename
        is_default = defaults.get(weights.arch, {}).get(weights.dataset) == weights.tag
        ships = ships_in_package(weights, is_default=is_default)
        if not ships and path.is_file():
            problem = _hub_does_not_serve(weights)
            if problem:
                print(f"{weights.name} stays in the package: {problem}")
                continue
            path.unlink()
            removed.append(weights.name)
            print(
                f"{weights.name} leaves the package: the Hub serves it "
                f"({weights.hub_repo}@{weights.hub_revision[:12]}, checked)"
            )
        elif ships and not path.is_file():
            try:
                source = fetch(weights)
            except CifarnetsError as err:
                raise _publish_error(err)(
                    f"{weights.name} ships in the package but is not in "
                    f"{folder}, and fetching it failed: {err}"
                ) from err
            atomic_write(path, source.read_bytes())
            added.append(weights.name)
            print(f"{weights.name} joins the package (fetched from {weights.hub_repo})")
    return removed, added


def _hub_does_not_serve(weights: Weights) -> str | None:
    """Why the Hub cannot stand in for the packaged file (None: it can): it is
    downloaded without a token into a scratch cache, as a user would, and checked."""
    import tempfile

    from huggingface_hub import constants, hf_hub_download

    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set, so the Hub's copy could not be checked"
    with tempfile.TemporaryDirectory() as scratch:
        try:
            path = hub_call(
                "anonymous download",
                lambda: hf_hub_download(
                    weights.hub_repo,
                    HUB_FILENAME,
                    revision=weights.hub_revision,
                    cache_dir=scratch,
                    token=False,
                ),
            )
        except CifarnetsError as err:
            return f"the Hub does not serve it to anyone ({err})"
        if sha256_of(path) != weights.sha256:
            return "the Hub's file is not the published one (sha256 differs)"
    return None


# -- package -> Hub -------------------------------------------------------------------


def hub_config(weights: Weights) -> dict[str, Any]:
    """``config.json`` of a Hub repo: enough to rebuild the net and its preprocessing,
    in cifarnets' terms and in timm's (``timm.create_model("hf-hub:ORG/NAME")``)."""
    info = model_info(weights.arch)
    return {
        "architecture": f"{TIMM_PREFIX}{weights.arch}",  # timm's name of the net
        "num_classes": weights.num_classes,
        "num_features": info.num_features,
        "pretrained_cfg": {
            **pretrained_cfg_for(weights.arch, weights),
            "license": weights.license.lower(),
        },
        "library": "cifarnets",
        "cifarnets_architecture": weights.arch,
        "family": info.family,
        "report_label": info.report_label,
        "block": info.block,
        "depth": info.depth,
        "shortcut": info.shortcut,
        "num_params": weights.num_params,
        "macs": weights.macs,
        "dataset": weights.dataset,
        "label_names": list(weights.categories),
        "sha256": weights.sha256,
        "license": weights.license,
        "source": dict(weights.source),
        "partial": weights.partial,
        "metrics": dict(weights.metrics),
        "recipe": dict(weights.recipe),
        "training": dict(weights.training),
    }


# The Hub's ids of the data sets (the canonical CIFAR repos moved to the uoft-cs
# organisation; the bare "cifar10" id only redirects there) and their display names.
HUB_DATASETS = {
    "cifar10": ("uoft-cs/cifar10", "CIFAR-10"),
    "cifar100": ("uoft-cs/cifar100", "CIFAR-100"),
}

# What "the lab report" is: said once, before its first mention, in every card that has one.
LAB_REPORT = (
    'Here "the lab report" is the 2018 lab report "Lab1 - Deep Residual Learning" (course '
    "Deep Learning and Practice), which reproduced He et al.'s CIFAR-10 experiment (its "
    'Table 1). Its "ResNet-56" and "ResNet-110" are 83- and 164-layer bottleneck nets: '
    "cifarnets' resnet83 and resnet164."
)

CITATION = """@inproceedings{he2016deep,
  title     = {Deep Residual Learning for Image Recognition},
  author    = {He, Kaiming and Zhang, Xiangyu and Ren, Shaoqing and Sun, Jian},
  booktitle = {IEEE Conference on Computer Vision and Pattern Recognition (CVPR)},
  pages     = {770--778},
  year      = {2016},
  note      = {arXiv:1512.03385}
}"""


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 360 else f"{seconds / 60:.1f} min"


def card_data(weights: Weights) -> ModelCardData:
    """The card's metadata (``huggingface_hub.ModelCardData``) in the Hub's model-card spec:
    task, data set, license, and a ``model-index`` with the test accuracy, which the Hub
    shows as an evaluation result."""
    from huggingface_hub import EvalResult, ModelCardData

    info = model_info(weights.arch)
    dataset_id, dataset_name = HUB_DATASETS.get(weights.dataset, (weights.dataset, weights.dataset))
    results = []
    if weights.test_error is not None:
        source = {}
        if weights.ported:
            s = weights.source
            source = {
                "source_name": f"{s['project']}'s checkpoint, re-measured by cifarnets",
                "source_url": f"{s['repository']}/tree/{s['commit']}",
            }
        # Accuracy in percent, as CIFAR results are published (He et al., Papers with
        # Code's "Percentage correct"); metric_name says the unit. The error is in the text.
        results.append(
            EvalResult(
                task_type="image-classification",
                task_name="Image Classification",
                dataset_type=dataset_id,
                dataset_name=dataset_name,
                dataset_split="test",
                metric_type="accuracy",
                metric_name="Top-1 accuracy (%)",
                metric_value=round(100 - weights.test_error, 2),
                **source,
            )
        )
    return ModelCardData(
        # timm, not cifarnets: the Hub knows timm, so it shows the `timm.create_model(
        # "hf-hub:...")` snippet (which works: config.json's "architecture" is the timm name
        # `import cifarnets` registers) and counts downloads of model.safetensors, the only
        # file cifarnets downloads; for a library it does not know it would count config.json.
        library_name="timm",
        license=weights.license.lower(),  # the weights' own: mit, or the port's bsd-2-clause
        pipeline_tag="image-classification",
        tags=[
            "image-classification",
            weights.dataset,
            "resnet" if info.shortcut else "plain-cnn",
            "timm",
            "pytorch",
            "safetensors",
            "cifarnets",
        ],
        datasets=[dataset_id],
        metrics=["accuracy"],
        model_name=weights.name,
        eval_results=results or None,
    )


def model_card(weights: Weights) -> str:
    """``README.md`` of a Hub repo: the Hub's metadata header (:func:`card_data`), then the
    result, provenance, training and usage."""
    from huggingface_hub import ModelCard

    info = model_info(weights.arch)
    m = weights.metrics
    dataset_name = HUB_DATASETS.get(weights.dataset, (weights.dataset, weights.dataset))[1]
    ref = REFERENCES.get(weights.arch)
    summary = info.summary
    parts = []
    if weights.partial:
        parts.append(
            "**Partial**: published from a run that is not its recipe's full "
            "experiment; not a reproduction of anything."
        )
    parts.append(
        f"{summary} {weights.num_params:,} parameters, {weights.macs / 1e6:.2f} M "
        f"multiply-accumulates per 32x32 image; trained on {dataset_name}."
    )

    if weights.test_error is not None:
        spread = (
            f"; mean {m['test_error_mean']} +- {m['test_error_std']} % over seeds {m['seeds']}"
            if "test_error_std" in m
            else f"; seed {m['seed']}"
            if "seed" in m
            else ""
        )
        parts.append(
            f"## Result\n\nTest error **{weights.test_error} %** (accuracy "
            f"{round(100 - weights.test_error, 2)} %) on the {dataset_name} test "
            f"set{spread}.\n\n"
            f"| | |\n|---|---|\n"
            f"| measured | {m.get('test_error_eval', '')} |\n"
            f"| checkpoint selection | {m.get('selection', '')} |\n"
            f"| sha256 of model.safetensors | `{weights.sha256}` |"
        )
    if (
        m.get("meets_target") is not None
        and info.report_label
        and not weights.partial
        and not weights.ported
    ):
        verb = (
            "reproduces"
            if m["meets_target"]
            else "does not reproduce (the miss is reported, not hidden)"
        )
        target = ""
        if ref and ref.target is not None:
            where = (
                ref.paper_source if ref.target_source == "paper" else "the lab report's own result"
            )
            target = f"target {ref.target} % ({where}), "
        parts.append(
            f'{weights.name} {verb} the row "{info.report_label}" of the lab '
            f"report's Table 1: {target}measured {weights.test_error} %."
        )

    if weights.ported:
        s = weights.source
        parts.append(
            f"## Source and license\n\nPorted exactly from [{s['project']}]"
            f"({s['repository']}) (commit `{s['commit']}`, file `{s['file']}`, "
            f"sha256 `{s['file_sha256']}`), converted with `cifarnets convert "
            f"{s['project']}`. License {s['license']}, {s['copyright']}; the license "
            f"text ships with cifarnets (THIRD_PARTY_NOTICES.md).\n\n"
            f"Training (by {s['project']}): {weights.recipe.get('description', '')}."
        )
    else:
        t = weights.training
        done = [
            f"{_hours(t['time_s'])} of training (epochs and evaluation)"
            if t.get("time_s")
            else "Training time not recorded"
        ]
        if t.get("hardware"):
            done[0] += f" on {'; '.join(t['hardware'])}"
        if t.get("epochs"):
            done.append(f"{t['epochs']} epochs in {t.get('chunks')} chunk(s)")
        if t.get("torch"):
            done.append(f"torch {', '.join(t['torch'])}")
        if t.get("commit"):
            done.append(f"cifarnets commit {t['commit']}")
        parts.append(
            f"## Training\n\n{', '.join(done)}. Reproduce (then `cifarnets "
            f"publish add`):\n\n```\n{weights.recipe.get('command', '')}\n```"
        )

    parts.append(f"""## How to use

```python
import cifarnets
model = cifarnets.{weights.arch}(weights="{weights.tag}")  # eval mode, sha256-checked
preprocess = model.pretrained_weights.transforms()  # uint8 or [0, 1] images
```

With timm (after `pip install cifarnets`):

```python
import cifarnets  # registers the nets with timm
import timm
model = timm.create_model("hf-hub:{weights.hub_repo}", pretrained=True)
# or, from the copy shipped in the package:
model = timm.create_model("cifar_{weights.arch}.{weights.tag}", pretrained=True)
```

Inputs: RGB in [0, 1], normalised with this weight's own mean {list(weights.mean)} and \
std {list(weights.std)} (`timm.data.resolve_data_config(model=model)` gives them too).
Classes: {", ".join(weights.categories) or "see config.json"}.""")

    parts.append(
        f"## Citation\n\nHe, Zhang, Ren, Sun: Deep Residual Learning for Image "
        f"Recognition (CVPR 2016, arXiv:1512.03385).\n\n```bibtex\n{CITATION}\n```"
    )
    first = next((i for i, part in enumerate(parts) if "the lab report" in part), None)
    if first is not None:  # named once, before its first mention
        parts.insert(first, LAB_REPORT)
    text = f"# {weights.name}\n\n" + "\n\n".join(parts) + "\n"
    return str(ModelCard(f"---\n{card_data(weights).to_yaml()}\n---\n\n{text}"))


def write_hub_repo(weights: Weights, out_dir: Path) -> Path:
    """Write the repo folder of ``weights`` under ``out_dir``; return it."""
    folder = out_dir / weights.name
    folder.mkdir(parents=True, exist_ok=True)
    try:  # the packaged copy, or (a weight only the Hub serves) the Hub's, verified
        source = fetch(weights)
    except CifarnetsError as err:
        raise _publish_error(err)(
            f"cannot get the file of {weights.name} ({err}); publish it again "
            f"with `cifarnets publish add`"
        ) from err
    shutil.copyfile(source, folder / HUB_FILENAME)
    (folder / "config.json").write_text(json.dumps(hub_config(weights), indent=2) + "\n")
    (folder / "README.md").write_text(model_card(weights))
    return folder


def upload_hub_repo(weights: Weights, folder: Path) -> str:
    """Create the Hub repo if needed, upload ``folder``, return the new commit sha.

    A Hub answering 5xx is retried, as for downloads (both steps are idempotent)."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HFValidationError

    api = HfApi()
    try:
        hub_call("create repo", lambda: api.create_repo(weights.hub_repo, exist_ok=True))
        commit = hub_call(
            "upload",
            lambda: api.upload_folder(
                repo_id=weights.hub_repo,
                folder_path=str(folder),
                commit_message=f"cifarnets {weights.name}",
            ),
        )
    except HubRefusedError as err:
        if isinstance(err.__cause__, HFValidationError):
            raise PublishError(
                f"invalid Hub repo id {weights.hub_repo!r} ({err.__cause__}); fix "
                f"the manifest's hub_repo (publish add --org)"
            ) from err
        raise PublishError(
            f"the Hub refused the upload of {weights.name}: {err}. Fix: log "
            f"in with a token that may write to {weights.hub_repo} (hf auth "
            f"login)"
        ) from err
    except HubUnreachableError as err:
        raise PublishUnreachableError(
            f"cannot upload {weights.name}: {err}; nothing was pinned. Fix: "
            f"connect and run the same command again"
        ) from err
    return commit.oid


def pin_revision(weights: Weights, revision: str, folder: Path | None = None) -> Weights:
    folder = Path(folder) if folder else pretrained_dir()
    table, defaults = read_folder(folder)
    pinned = Weights.from_dict({**weights.to_dict(), "hub_revision": revision})
    write_manifest(folder, {**table, weights.name: pinned}, defaults)
    return pinned


# -- command line ----------------------------------------------------------------------


def build_parser(prog: str = "cifarnets publish") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Write (and upload) the Hub repos of published weights.",
        epilog=_exit.HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="publish_command", required=True, metavar="STEP")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--tag", required=True, help="data set + recipe + version, e.g. cifar10_v1")
        p.add_argument(
            "--data",
            type=Path,
            required=True,
            metavar="ROOT",
            help="data root, to re-measure the test error of the file",
        )
        p.add_argument(
            "--folder",
            type=Path,
            default=None,
            help="weights folder (default: $CIFARNETS_PRETRAINED_DIR, else the package's own)",
        )
        p.add_argument("--org", default=DEFAULT_ORG, help="Hub namespace of the repo")
        p.add_argument(
            "--no-default", action="store_true", help="do not make these the net's DEFAULT weights"
        )
        p.add_argument(
            "--replace",
            action="store_true",
            help="replace an already published tag (its bytes and Hub pin)",
        )
        p.add_argument("--device", default="cpu")

    p = sub.add_parser("add", help="package trained runs as published weights")
    p.add_argument(
        "runs",
        nargs="+",
        type=Path,
        metavar="RUN_DIR",
        help="run folders written by `cifarnets train` (seeds of one net)",
    )
    common(p)
    p.add_argument(
        "--allow-partial",
        action="store_true",
        help="publish runs that are not their recipe's full experiment, labelled so",
    )

    p = sub.add_parser("port", help="package another project's checkpoint, converted exactly")
    p.add_argument("kind", choices=sorted(PORTS))
    p.add_argument("src", type=Path, metavar="SRC")
    p.add_argument("--arch", required=True)
    common(p)

    p = sub.add_parser("hub", help="write each weight's Hub repo and upload it")
    p.add_argument(
        "names", nargs="*", help="arch.tag names (default: every published weight not yet pinned)"
    )
    p.add_argument("--out", type=Path, required=True, help="where to write the repo folders")
    p.add_argument(
        "--prune",
        action="store_true",
        help="also in a private weights folder (--folder, CIFARNETS_PRETRAINED_DIR): let "
        "the files the Hub now serves leave it, as the package's own do",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="write the folders and show what would be uploaded; no network",
    )
    return parser


def main(argv: list[str] | None = None, prog: str = "cifarnets publish") -> int:
    """``cifarnets publish ...``; returns the exit status (``cifarnets --help``)."""
    args = build_parser(prog).parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return _run(args)
    except (CifarnetsError, ValueError, FileNotFoundError) as err:
        return _exit.report(err)


def _run(args: argparse.Namespace) -> int:
    if getattr(args, "folder", None) is not None:  # every read below uses this folder too
        os.environ["CIFARNETS_PRETRAINED_DIR"] = str(args.folder)
    try:
        if args.publish_command in ("add", "port"):
            if args.publish_command == "add":
                weights = add_runs(
                    args.runs,
                    args.tag,
                    data_root=args.data,
                    folder=args.folder,
                    org=args.org,
                    make_default=not args.no_default,
                    device=args.device,
                    allow_partial=args.allow_partial,
                    replace=args.replace,
                )
            else:
                weights = add_port(
                    args.kind,
                    args.src,
                    arch=args.arch,
                    tag=args.tag,
                    data_root=args.data,
                    folder=args.folder,
                    org=args.org,
                    make_default=not args.no_default,
                    device=args.device,
                    replace=args.replace,
                )
            label = " (PARTIAL)" if weights.partial else ""
            print(
                f"added {weights.name}{label}: test error {weights.test_error} % "
                f"({weights.metrics.get('test_error_eval')}), sha256 {weights.sha256[:12]}, "
                f"{weights.file_size:,} bytes -> {pretrained_dir() / weights.filename}"
            )
            return 0
        return _hub(args)
    except DataError as err:  # its own type (and exit status), saying what was not done
        raise type(err)(f"{err} (nothing was published)") from err


def _hub(args: argparse.Namespace) -> int:
    names = args.names or list_weights()
    if not names:
        print("no published weights to write (add some with `cifarnets publish add`)")
        return 1
    for name in names:
        weights = get_weights(name)
        # Without names, only what is not yet on the Hub: a pinned weight's bytes are there
        # already, and uploading them again would only cost Hub calls (no new commit).
        if not args.names and weights.hub_revision:
            print(
                f"skipped {weights.name}: already pinned to {weights.hub_repo}@"
                f"{weights.hub_revision[:12]} (name it to upload it again)"
            )
            continue
        folder = write_hub_repo(weights, args.out)
        files = sorted(folder.iterdir())
        listing = ", ".join(f"{f.name} ({f.stat().st_size:,} B)" for f in files)
        if args.dry_run:
            print(f"[dry run] would upload to {weights.hub_repo}: {listing}")
            continue
        revision = upload_hub_repo(weights, folder)
        pin_revision(weights, revision)
        print(f"uploaded {weights.name} to {weights.hub_repo}@{revision}; pinned in the manifest")
    if not args.dry_run and (args.prune or not is_private_dir()):
        sync_package(pretrained_dir())  # what the Hub now serves may leave the package
    return 0
