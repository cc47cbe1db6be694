"""One exit-status convention for every ``cifarnets`` command (``cifarnets --help``)."""

from __future__ import annotations

OK = 0
FAILED = 1  # a check failed or nothing matched
USAGE = 2  # a usage or input error (argparse's own status for a bad argument)
ENVIRONMENT = 3  # the machine lacks something the command needs: the network, a device
UNFINISHED = 4  # `train` stopped before every run finished: the same command continues

HELP = """\
exit status (every command):
  0  done
  1  a check failed or nothing matched (train --verify, list PATTERN)
  2  a usage or input error: a bad argument, an unknown name, missing or corrupt data
     or weights
  3  the machine lacks something: the network (a download, the Hub), a device
  4  train stopped before every run finished (--max-minutes, a signal): run the same
     command again to continue"""


def status_of(err: BaseException) -> int:
    """The exit status for an error that a command reports in one line."""
    from .data import DataDownloadError
    from .training.spec import DeviceUnavailableError
    from .weights import WeightsUnavailableError, _HubUnreachable

    if isinstance(err, (DataDownloadError, DeviceUnavailableError)):
        return ENVIRONMENT
    if isinstance(err, WeightsUnavailableError):
        # The network is what is lacking only when the Hub could not be reached (offline
        # included); a Hub that answered "no such repo or file", or weights never
        # uploaded, is an input or installation problem that no network would fix.
        return ENVIRONMENT if isinstance(err.__cause__, _HubUnreachable) else USAGE
    return USAGE
