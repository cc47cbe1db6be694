"""The model registry: builder functions registered under their own names.

As in torchvision and timm, a builder's ``__name__`` *is* its registry key, so
``cifarnets.resnet56`` and ``cifarnets.get_model("resnet56")`` are the same thing.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

__all__ = ["ModelInfo", "UnknownModelError", "get_model", "list_models", "model_info"]


@dataclass(frozen=True)
class ModelInfo:
    """Static facts about an architecture (CIFAR-10 head, 32x32 input).

    ``num_params`` and ``macs`` are stored rather than computed so that listing the
    zoo is instant; ``tests/test_models.py`` checks both against the built nets.
    """

    name: str
    family: str  # "paper": He et al. 2015; "report": the seed report's bottleneck nets
    block: str  # "basic" or "bottleneck"
    depth: int
    shortcut: str | None  # "A", "B" or None (plain)
    num_params: int
    macs: int  # multiply-accumulates per 32x32 image, conv and linear layers
    report_label: str | None  # the row of the seed report's Table 1 this net reproduces
    summary: str  # first line of the builder's docstring

    @property
    def num_features(self) -> int:
        """Width of the pooled features that feed the classifier (64, x4 if bottleneck)."""
        return 64 * (4 if self.block == "bottleneck" else 1)


class UnknownModelError(ValueError):
    """Raised for a model name that is not in the registry."""


_BUILDERS: dict[str, Callable[..., nn.Module]] = {}
_INFO: dict[str, ModelInfo] = {}


def register_model(
    *,
    family: str,
    block: str,
    depth: int,
    shortcut: str | None,
    num_params: int,
    macs: int,
    report_label: str | None = None,
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator: register a builder under its function name with its static facts."""

    def register(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        name = builder.__name__
        if name in _BUILDERS:
            raise RuntimeError(f"model {name!r} is registered twice")
        summary = (builder.__doc__ or "").strip().splitlines()[0] if builder.__doc__ else ""
        _BUILDERS[name] = builder
        _INFO[name] = ModelInfo(
            name, family, block, depth, shortcut, num_params, macs, report_label, summary
        )
        return builder

    return register


def list_models(pattern: str | None = None) -> list[str]:
    """Registered model names in registration order, optionally filtered by a glob.

    >>> list_models("plain*")
    ['plain20', 'plain32', 'plain44', 'plain56', 'plain110', 'plain83', 'plain164']
    """
    names = list(_INFO)
    if pattern is not None:
        names = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
    return names


def _closest(name: str) -> str | None:
    """The registered name most like ``name`` (case-insensitive); ties go to the longer
    common prefix, so that 'resnet21' suggests 'resnet20', not 'resnet32'."""
    query = name.lower()
    candidates = difflib.get_close_matches(query, list(_BUILDERS), n=5, cutoff=0.5)
    return max(
        candidates,
        key=lambda c: (difflib.SequenceMatcher(None, query, c).ratio(),
                       len(os.path.commonprefix([query, c]))),
        default=None,
    )


def _check_name(name: str) -> str:
    if not isinstance(name, str) or name not in _BUILDERS:
        hint = f" Did you mean {_closest(str(name))!r}?" if _closest(str(name)) else ""
        raise UnknownModelError(
            f"unknown model {name!r}.{hint} Valid names: {', '.join(list_models())}."
        )
    return name


def model_info(name: str) -> ModelInfo:
    """The :class:`ModelInfo` of a registered model."""
    return _INFO[_check_name(name)]


def get_model(name: str, **kwargs) -> nn.Module:
    """Build a registered model by name; keyword arguments go to its builder.

    >>> model = get_model("resnet20", num_classes=100)
    """
    return _BUILDERS[_check_name(name)](**kwargs)
