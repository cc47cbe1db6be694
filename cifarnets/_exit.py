"""One exit-status convention for every ``cifarnets`` command (``cifarnets --help``)."""

from __future__ import annotations

import sys

OK = 0
FAILED = 1  # a check failed or nothing matched
USAGE = 2  # a usage or input error (argparse's own status for a bad argument)
ENVIRONMENT = 3  # the machine lacks something: the network, a device, a working executor
UNFINISHED = 4  # `train` stopped before every run finished: the same command continues

HELP = """\
exit status (every command):
  0  done
  1  a check failed or nothing matched (train --verify, list PATTERN)
  2  a usage or input error: a bad argument, an unknown name, missing or corrupt data
     or weights
  3  the machine lacks something: the network (a download, the Hub), a device, or a
     step executor asked for by name that fails its check here
  4  train stopped before every run finished (--max-minutes, a signal): run the same
     command again to continue"""


def status_of(err: BaseException) -> int:
    """The exit status for an error that a command reports in one line: the error type's
    own (``cifarnets.errors``), else a usage error (a bad argument, a missing file)."""
    return getattr(err, "exit_status", USAGE)


def report(err: BaseException) -> int:
    """Print the error that ends a command, on one line of stderr; return its status."""
    print(f"error: {err}", file=sys.stderr)
    return status_of(err)
