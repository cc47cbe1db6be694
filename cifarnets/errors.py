"""Every error cifarnets raises on purpose, in one hierarchy.

Catch :class:`CifarnetsError` for all of them, or one kind below it. Each class also
derives from the built-in exception that fits it (``ValueError`` for a bad name,
``RuntimeError`` for something broken or missing at run time, ``ConnectionError`` for a
network that is not there), so code written for the built-ins keeps working.

The command line's exit status comes from the type, never from how an error was
chained: ``exit_status`` is 2 (usage or input: a bad name, missing or corrupt data or
weights) unless the machine lacks something (3: the network, a device).

    CifarnetsError
    ├── UnknownModelError            a name that is not in the registry
    ├── WeightsError
    │   ├── UnknownWeightsError      no published weights match the request
    │   ├── WeightsUnavailableError  neither the Hub nor the package has the file
    │   │   └── WeightsUnreachableError  ... because the Hub could not be reached (3)
    │   ├── WeightsIntegrityError    wrong size or sha256, or the file does not fit the net
    │   └── PublishError             publishing cannot go ahead; nothing was changed
    │       └── PublishUnreachableError  ... because the Hub could not be reached (3)
    ├── HubError                     a Hugging Face Hub call failed
    │   ├── HubUnreachableError      no answer: offline, refused, timed out, 5xx (3)
    │   └── HubRefusedError          an answer: no such repo, revision or file
    ├── ConversionError              a checkpoint the converter cannot read as the net
    ├── DataError                    a data set is missing, corrupt, or not the one asked for
    │   └── DataDownloadError        ... and cannot be downloaded from here (3)
    ├── RunFolderError               a training run folder that cannot be used as asked
    ├── ExecutorError                a step executor that failed its check or could not run
    └── DeviceUnavailableError       a valid device this machine does not have (3)
"""

from __future__ import annotations

from ._exit import ENVIRONMENT, USAGE

__all__ = [
    "CifarnetsError",
    "ConversionError",
    "DataDownloadError",
    "DataError",
    "DeviceUnavailableError",
    "ExecutorError",
    "HubError",
    "HubRefusedError",
    "HubUnreachableError",
    "PublishError",
    "PublishUnreachableError",
    "RunFolderError",
    "UnknownModelError",
    "UnknownWeightsError",
    "WeightsError",
    "WeightsIntegrityError",
    "WeightsUnavailableError",
    "WeightsUnreachableError",
]


class CifarnetsError(Exception):
    """Base class of every error cifarnets raises on purpose."""

    exit_status = USAGE  # what `cifarnets ...` returns when this ends a command


class UnknownModelError(CifarnetsError, ValueError):
    """A model name that is not in the registry."""


class WeightsError(CifarnetsError):
    """Base class of the weights errors, so that callers can catch them together."""


class UnknownWeightsError(WeightsError, ValueError):
    """No published weights match the request."""


class WeightsUnavailableError(WeightsError, RuntimeError):
    """Neither the Hub nor the package could provide the weights file."""


class WeightsUnreachableError(WeightsUnavailableError, ConnectionError):
    """The weights file is not packaged and the Hub could not be reached (offline)."""

    exit_status = ENVIRONMENT


class WeightsIntegrityError(WeightsError, RuntimeError):
    """A weights file does not have the published size or sha256, or does not fit the net."""


class PublishError(WeightsError):
    """Publishing cannot go ahead; nothing was changed."""


class PublishUnreachableError(PublishError, ConnectionError):
    """Publishing cannot go ahead because the Hub could not be reached."""

    exit_status = ENVIRONMENT


class HubError(CifarnetsError, OSError):
    """A call to the Hugging Face Hub failed."""


class HubUnreachableError(HubError, ConnectionError):
    """The Hub could not be reached (offline, refused, timed out, or kept failing)."""

    exit_status = ENVIRONMENT


class HubRefusedError(HubError):
    """The Hub answered, but has no such repo, revision or file (or the id is invalid)."""


class ConversionError(CifarnetsError, ValueError):
    """A checkpoint that is not what the converter expects (kind, net or depth)."""


class DataError(CifarnetsError, RuntimeError):
    """A data set is missing, corrupt, or not the one asked for."""


class DataDownloadError(DataError):
    """A data set could not be downloaded: its URL is unreachable from this machine."""

    exit_status = ENVIRONMENT


class RunFolderError(CifarnetsError, ValueError):
    """A training run folder that cannot be used as asked: another run's, damaged, or
    missing what it should hold. Nothing was changed."""


class ExecutorError(CifarnetsError, RuntimeError):
    """A step executor that was asked for by name failed its check or could not run."""

    exit_status = ENVIRONMENT


class DeviceUnavailableError(CifarnetsError, RuntimeError):
    """A valid device that this machine does not have (cuda:1 on a one-GPU machine)."""

    exit_status = ENVIRONMENT
