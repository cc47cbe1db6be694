"""Epoch times of real training runs, per chunk: what each machine, executor and
precision actually cost, read from the runs' own log.csv and chunks.json.

    python benchmarks/epoch_times.py runs/reproduce/*/            # a markdown table
    python benchmarks/epoch_times.py runs/reproduce/*/ --out benchmarks/results

speed.py times steps on synthetic data on a quiet machine; this reads whole epochs
(steps, data loading and the per-epoch test-set evaluation) of the real runs, in
whatever conditions they trained in (the chunk's `host`, threads, and other work on the
machine, which chunks.json does not record: say so where the numbers are quoted). The
first epoch of each chunk is left out of the median: it includes torch.compile's warm-up.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path

from cifarnets.training.records import ChunkRecord


def chunk_rows(run_dir: Path) -> list[dict]:
    """One row per chunk of ``run_dir``: its epochs and their median time."""
    chunks = [ChunkRecord.from_dict(c) for c in json.loads((run_dir / "chunks.json").read_text())]
    log = run_dir / "log.csv"
    epochs = list(csv.DictReader(log.read_text().splitlines())) if log.is_file() else []
    rows = []
    for chunk in chunks:
        times = [float(e["epoch_time_s"]) for e in epochs if int(e["chunk"]) == chunk.index]
        steady = times[1:]  # the first includes torch.compile's warm-up
        executor = chunk.executor or "?"
        if chunk.fallbacks:  # it changed during the chunk: the times mix executors
            executor += f" (after {', '.join(f.executor for f in chunk.fallbacks)} failed)"
        rows.append(
            {
                "run": run_dir.name,
                "chunk": chunk.index,
                "epochs": f"{chunk.start_epoch + 1}-{chunk.end_epoch}",
                "hardware": chunk.hardware or "?",
                "executor": executor,
                "precision": chunk.precision or "?",
                "median_s": statistics.median(steady) if steady else None,
                "range_s": (min(steady), max(steady)) if steady else None,
                "n": len(steady),
            }
        )
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        "| run | chunk | epochs | hardware | executor | precision | s/epoch (median, "
        "min-max) | epochs timed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        time = (
            f"{r['median_s']:.1f} ({r['range_s'][0]:.1f}-{r['range_s'][1]:.1f})"
            if r["median_s"] is not None
            else "-"
        )
        lines.append(
            f"| {r['run']} | {r['chunk']} | {r['epochs']} | {r['hardware']} | "
            f"{r['executor']} | {r['precision']} | {time} | {r['n']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR")
    parser.add_argument(
        "--out", type=Path, default=None, help="also write epoch-times.md here, with the command"
    )
    args = parser.parse_args(argv)
    missing = [d for d in args.runs if not (d / "chunks.json").is_file()]
    if missing:
        parser.error(f"not a run folder (no chunks.json): {', '.join(map(str, missing))}")
    table = markdown([row for d in args.runs for row in chunk_rows(d)])
    print(table, end="")
    if args.out:
        command = "python benchmarks/epoch_times.py " + " ".join(str(d) for d in args.runs)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "epoch-times.md").write_text(
            "Epoch times of the real runs, per chunk (first epoch of each chunk left out: "
            "torch.compile warm-up)\n\n" + table + f"\ncommand: {command}\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
