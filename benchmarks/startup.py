"""How long the command line and ``import cifarnets`` take to answer, in fresh processes.

Each command runs ``--repeat`` times in a new interpreter; the best (least disturbed)
time is printed beside ``import torch`` alone, the floor of anything that needs torch.

    python benchmarks/startup.py                 # this checkout
    python benchmarks/startup.py --repeat 9 --markdown
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

COMMANDS = {
    "import torch": ["-c", "import torch"],
    "import cifarnets": ["-c", "import cifarnets"],
    "import cifarnets; cifarnets.resnet20()": ["-c", "import cifarnets; cifarnets.resnet20()"],
    "cifarnets --version": ["-m", "cifarnets", "--version"],
    "cifarnets --help": ["-m", "cifarnets", "--help"],
    "cifarnets list": ["-m", "cifarnets", "list"],
    "cifarnets info resnet56": ["-m", "cifarnets", "info", "resnet56"],
}


def best_time(argv: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, *argv], check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per command (best kept)")
    parser.add_argument("--markdown", action="store_true", help="a Markdown table")
    args = parser.parse_args(argv)
    rows = [(name, best_time(cmd, args.repeat)) for name, cmd in COMMANDS.items()]
    if args.markdown:
        print(f"| command (best of {args.repeat}) | seconds |\n|---|---|")
        print("\n".join(f"| `{name}` | {s:.2f} |" for name, s in rows))
    else:
        for name, s in rows:
            print(f"{name:42s} {s:6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
