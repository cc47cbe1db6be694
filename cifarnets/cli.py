"""The ``cifarnets`` command line (also ``python -m cifarnets``).

cifarnets list [PATTERN]             every net with its exact size and published error
cifarnets info NAME                  one net: architecture, weights, how they were made
cifarnets eval NAME [--data ROOT]    test error on CIFAR (default: the shipped sample)
cifarnets train [--models NAME ...]  retrain nets with the report's recipe (resumable)
cifarnets convert akamaster SRC OUT  another project's checkpoint as cifarnets weights
cifarnets publish ...                write (and upload) the Hub repos of the weights
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import _exit
from ._argtypes import positive_int
from ._registry import list_models, model_info
from ._version import __version__
from .datasets import DATASETS, default_data_root
from .errors import CifarnetsError, UnknownWeightsError
from .reference import REFERENCES
from .weights import default_weights, get_weights, list_weights

# `--version`, `--help`, `list` and `info` read only the registry and the weights
# manifest, and answer without importing torch; the commands that need it (eval,
# convert, train, publish) import their modules when they run, on purpose.


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    right = {i for i, h in enumerate(header) if h in {"layers", "params", "MMACs", "test err %"}}

    def fmt(row: list[str]) -> str:
        cells = [
            str(c).rjust(w) if i in right else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *map(fmt, rows)])


def markdown_table(rows: list[list[str]], header: list[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _weights_origin(weights) -> str:
    """Where a weight comes from, in a table cell: the project's own or a port."""
    if not weights.ported:  # final-epoch weights of one seed's run (publish add)
        seeds = weights.metrics.get("seeds") or []  # the published error is the first's
        notes = ["partial"] if weights.partial else []
        notes += ["final epoch"] + ([f"seed {seeds[0]}"] if seeds else [])
        return f"cifarnets ({', '.join(notes)})"
    best = ", best on test" if weights.selected_on_test else ""
    return f"{weights.source.get('project', 'ported')} (ported{best})"


def cmd_list(args: argparse.Namespace) -> int:
    names = list_models(args.pattern)
    if not names:
        print(f"no model matches {args.pattern!r}; models: {', '.join(list_models())}")
        return 1
    rows = []
    for name in names:
        info = model_info(name)
        weights = default_weights(name)
        error = f"{weights.test_error:.2f}" if weights and weights.test_error is not None else "-"
        ref = REFERENCES.get(name)
        rows.append(
            [
                name,
                info.family,
                info.depth,
                info.block,
                info.shortcut or "none",
                f"{info.num_params:,}",
                f"{info.macs / 1e6:.2f}",
                info.report_label or "",
                " / ".join(_reference_cells(ref)) if ref else "",
                weights.tag if weights else "-",
                _weights_origin(weights) if weights else "-",
                error,
            ]
        )
    header = [
        "name",
        "family",
        "layers",
        "block",
        "shortcut",
        "params",
        "MMACs",
        "report row",
        "paper / report err %",
        "weights (DEFAULT)",
        "from",
        "test err %",
    ]
    if args.markdown:
        print(markdown_table(rows, header))
        return 0
    print(_table(rows, header))
    print(
        "\nfamily: paper = He et al. 2015 (option A shortcuts); report = the lab report's "
        "bottleneck nets.\nparams and MACs for a 10-class head and one 32x32 image. "
        "test err %: the DEFAULT weights' error,\nmeasured by cifarnets in fp32 on the full "
        "test set (`cifarnets info NAME` for all weights and their sources)."
    )
    return 0


def _reference_cells(ref) -> list[str]:
    return [f"{v:.2f}" if v is not None else "-" for v in (ref.paper, ref.report)]


def cmd_info(args: argparse.Namespace) -> int:
    info = model_info(args.name)
    weights = [get_weights(n) for n in list_weights(f"{args.name}.*")]
    out = {"model": info.__dict__, "weights": [w.to_dict() for w in weights]}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"{info.name}: {info.summary}")
    for key in ("family", "block", "depth", "shortcut", "num_params", "macs", "report_label"):
        value = getattr(info, key)
        shown = "-" if value is None else f"{value:,}" if isinstance(value, int) else value
        print(f"  {key:13s} {shown}")
    ref = REFERENCES.get(info.name)
    if ref and (ref.paper is not None or ref.report is not None):
        published = []
        if ref.paper is not None:
            published.append(f"paper {ref.paper} % ({ref.paper_source})")
        if ref.report is not None:
            published.append(f"lab report {ref.report} %")
        print(f"  published     {'; '.join(published)}")
    if not weights:
        print(f"  weights       none published yet (train: cifarnets train --models {info.name})")
    default = default_weights(info.name)
    for w in weights:
        mark = " (DEFAULT)" if default and w.name == default.name else ""
        print(f"  weights       {w.name}{mark}")
        for key, value in _weights_details(w):
            print(f"    {key:14s}{value}")
    return 0


def _weights_details(w) -> list[tuple[str, str]]:
    m = w.metrics
    chosen = (
        "checkpoint chosen on the test set: optimistic" if w.selected_on_test else "final epoch"
    )
    rows = [
        ("test error", f"{w.test_error} % ({m.get('test_error_eval', 'full test set')}; {chosen})"),
        (
            "normalisation",
            f"mean {tuple(w.mean)}, std {tuple(w.std)} "
            f"(model.pretrained_weights.transforms() applies it)",
        ),
    ]
    if w.ported:
        s = w.source
        rows.append(
            (
                "source",
                f"{s.get('repository')} @ {str(s.get('commit'))[:12]}, "
                f"{s.get('file')} (sha256 {str(s.get('file_sha256'))[:12]})",
            )
        )
        rows.append(("license", f"{w.license}, {s.get('copyright', '')}".rstrip(", ")))
        if w.recipe.get("description"):
            rows.append(("trained", w.recipe["description"]))
    else:
        rows.append(("license", w.license))
        if w.recipe.get("command"):
            rows.append(("trained with", w.recipe["command"]))
    hub = f"{w.hub_repo}@{w.hub_revision}" if w.hub_revision else f"{w.hub_repo} (not uploaded)"
    rows.append(("file", f"sha256 {w.sha256[:12]}, {w.file_size:,} bytes, hub {hub}"))
    if w.partial:
        rows.append(("PARTIAL", "not its recipe's full experiment"))
    return rows


def cmd_eval(args: argparse.Namespace) -> int:
    from .data import load_split, load_test_sample  # torch: deferred on purpose (see top)
    from .evaluate import evaluate
    from .loading import load_weights_file
    from .models import get_model
    from .training.spec import resolve_device

    spec = DATASETS[args.dataset]
    model_info(args.model)  # fail on an unknown name before anything slow
    device = resolve_device(args.device)

    # Which weights: a local file, published weights, or (labelled) random init.
    weights_arg = args.weights
    if weights_arg is None:
        weights_arg = "DEFAULT" if default_weights(args.model) else "random"
    if weights_arg == "random":
        model = get_model(args.model, num_classes=spec.num_classes)
        mean, std = spec.mean, spec.std
        label = "RANDOM init weights"
        if args.weights is None:
            label += " (no published weights yet: expect ~90 % error on CIFAR-10)"
    elif weights_arg.endswith(".safetensors"):
        trained_on = _dataset_of_file(weights_arg)
        if trained_on and trained_on != args.dataset:
            raise ValueError(
                f"{weights_arg} was trained on {trained_on} (its metadata says "
                f"so); pass --dataset {trained_on}"
            )
        model = load_weights_file(get_model(args.model, num_classes=spec.num_classes), weights_arg)
        # The normalisation the file records (converted checkpoints carry their own).
        mean, std = model.pretrained_weights.mean, model.pretrained_weights.std
        label = f"weights from {weights_arg}"
    else:
        model = get_model(args.model, weights=_published_weights(args.model, weights_arg))
        w = model.pretrained_weights
        if w.dataset != args.dataset:
            raise ValueError(f"{w.name} was trained on {w.dataset}; pass --dataset {w.dataset}")
        mean, std = w.mean, w.std
        label = f"weights {w.name} (published test error {w.test_error} %)"

    if args.data is None and args.download:
        args.data = default_data_root()  # --download asks for the full test set: fetch it there
    if args.data is None:
        if args.dataset != "cifar10":
            raise ValueError(
                f"only a CIFAR-10 sample ships with cifarnets; pass --data ROOT for {args.dataset}"
            )
        images, labels, _ = load_test_sample()
        where = (
            f"the CIFAR-10 test SAMPLE shipped with cifarnets ({len(images):,} of 10,000 "
            f"images; pass --data ROOT for the full test set)"
        )
    else:
        images, labels = load_split(args.dataset, args.data, train=False, download=args.download)
        where = f"the {args.dataset} test set at {args.data}"
    if args.limit is not None:
        images, labels = images[: args.limit], labels[: args.limit]
        where += f", first {len(images):,} images only (--limit)"

    if not args.json:
        print(f"{args.model}: {label}")
        print(f"evaluating on {where}, device {device}")
    result = evaluate(
        model.to(device),
        images,
        labels,
        mean=mean,
        std=std,
        batch_size=args.batch_size,
        device=device,
        progress=not args.json,
    )
    summary = {
        "model": args.model,
        "weights": label,
        "data": where,
        "errors": result.errors,
        "images": result.total,
        "test_error": round(result.error, 4),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"test error: {result.error:.2f} % ({result.errors:,} / {result.total:,})")
    return 0


def _dataset_of_file(path: str) -> str | None:
    """The data set a local weights file's metadata names, if it can be read."""
    from safetensors import safe_open

    try:
        with safe_open(path, "pt") as f:
            return (f.metadata() or {}).get("dataset")
    except Exception:  # missing or damaged: load_weights_file says what is wrong
        return None


def _published_weights(arch: str, name: str):
    """--weights NAME as published weights; an unknown NAME lists what --weights takes."""
    try:
        return get_weights(name, arch)
    except UnknownWeightsError:
        if name == "DEFAULT" or name in list_weights():
            raise  # none published, and what to do; or another net's weights, and which
        published = list_weights(f"{arch}.*")
        example = (published or list_weights() or ["resnet56.cifar10_v1"])[0]
        raise UnknownWeightsError(
            f"unknown --weights {name!r} for {arch}. Accepted: DEFAULT, a tag such as "
            f"{example.split('.', 1)[1]}, a full name such as {example}, a path to a "
            f".safetensors file, or random. Published for {arch}: "
            f"{', '.join(published) or 'none'}"
        ) from None


def cmd_convert(args: argparse.Namespace) -> int:
    from ._safetensors import atomic_write, canonical_bytes  # torch: deferred (see top)
    from .convert import convert_akamaster_file
    from .loading import load_checked
    from .models import get_model

    if args.arch is not None:
        model_info(args.arch)  # an unknown name fails before reading anything
    if args.out.suffix != ".safetensors":
        raise ValueError(f"OUT must end in .safetensors, got {args.out}")
    if args.out.exists() and not args.force:
        raise ValueError(f"{args.out} exists; pass --force to overwrite it")
    # The net comes from the file (blocks per stage, head); --arch only checks it.
    state, meta = convert_akamaster_file(args.src, args.arch)
    arch = meta["arch"]
    # Prove the file loads into the net before writing it (a shape the net lacks fails).
    load_checked(get_model(arch, num_classes=int(meta["num_classes"])), state, str(args.src))
    atomic_write(args.out, canonical_bytes(state, meta))
    checked = ", as --arch said" if args.arch else ""
    print(
        f"wrote {args.out}: {arch} (inferred from the file{checked}: "
        f"{model_info(arch).blocks_per_stage} blocks per stage, {meta['num_classes']}-class "
        f"head), trained with "
        f"mean {meta['mean']} std {meta['std']} (recorded in the file; `cifarnets eval "
        f"{arch} --weights {args.out} --data ROOT` uses them)"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cifarnets",
        description="The CIFAR ResNets and plain nets of He et al. (2015).",
        epilog=_exit.HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"cifarnets {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="list the nets with exact sizes and published errors")
    p.add_argument("pattern", nargs="?", help="glob over names, e.g. 'resnet*'")
    p.add_argument("--markdown", action="store_true", help="a Markdown table (the README's)")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("info", help="one net's architecture and published weights")
    p.add_argument("name")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("eval", help="test error of a net on CIFAR-10/100")
    p.add_argument("model", help="a name from `cifarnets list`")
    p.add_argument(
        "--data",
        type=Path,
        default=None,
        metavar="ROOT",
        help="data root in torchvision's layout (ROOT/cifar-10-batches-py); "
        "default: the 1,000-image CIFAR-10 test sample shipped with cifarnets",
    )
    p.add_argument("--dataset", choices=sorted(DATASETS), default="cifar10")
    p.add_argument(
        "--weights",
        default=None,
        help="DEFAULT, a tag (cifar10_akamaster), a full name "
        "(resnet56.cifar10_akamaster), a local .safetensors file, or random; "
        "default: DEFAULT if published, else random init (labelled so)",
    )
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: auto)")
    p.add_argument("--batch-size", type=positive_int, default=500)
    p.add_argument("--limit", type=positive_int, default=None, help="only the first N test images")
    p.add_argument(
        "--download",
        action="store_true",
        help="download the data set into --data (default with --download: "
        f"{default_data_root()}) if it is missing or corrupt",
    )
    p.add_argument("--json", action="store_true", help="print one JSON line, no progress bar")
    p.set_defaults(func=cmd_eval)

    # Parsed by the training program itself (see main); listed here for `cifarnets --help`.
    sub.add_parser(
        "train",
        add_help=False,
        help="retrain nets with the report's recipe, resumable in chunks (cifarnets train --help)",
    )

    p = sub.add_parser("convert", help="another project's checkpoint as a cifarnets weights file")
    p.add_argument(
        "kind",
        choices=["akamaster"],
        help="whose checkpoint: akamaster = akamaster/pytorch_resnet_cifar10",
    )
    p.add_argument("src", type=Path, help="the checkpoint (.th / .pt)")
    p.add_argument("out", type=Path, help="the weights file to write (.safetensors)")
    p.add_argument(
        "--arch",
        default=None,
        help="the net you expect, e.g. resnet56: checked against the net the file "
        "is (default: inferred from its blocks per stage and head)",
    )
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.set_defaults(func=cmd_convert)

    # Parsed by cifarnets.publish itself (see main); listed here for `cifarnets --help`.
    sub.add_parser(
        "publish",
        add_help=False,
        help="write the Hub repos of published weights and upload them (cifarnets publish --help)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:  # the training program parses its own options
        from .reproduce import main as train_main  # torch: deferred (see top)

        return train_main(argv[1:], prog="cifarnets train")
    if argv[:1] == ["publish"]:  # so does publishing
        from .publish import main as publish_main  # torch: deferred (see top)

        return publish_main(argv[1:], prog="cifarnets publish")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (CifarnetsError, ValueError, FileNotFoundError) as err:
        return _exit.report(err)
    except BrokenPipeError:  # `cifarnets list | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
