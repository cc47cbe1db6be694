"""The builders: one function per registered net, made from its registry entry.

``resnet56(pretrained=True)`` is ``build("resnet56", pretrained=True)``: the net's
facts (block, depth, shortcut) come from ``cifarnets._registry.MODELS`` and are written
nowhere else. Every builder takes the same keyword-only arguments:

* ``pretrained=True``: load the net's DEFAULT published weights (as ``weights="DEFAULT"``);
* ``weights=``: ``"DEFAULT"``, a tag (``"cifar10_v1"``), a full name, or a :class:`Weights`;
* ``num_classes=``: the classifier's size; with weights of another size, every layer but
  the classifier is loaded and ``model.fc`` is new (fine-tuning, as in timm);
* ``progress=``: show the download's progress bar (torchvision's argument);
* ``cache_dir=``: where huggingface_hub caches downloads (default: its own cache);
* ``shortcut=`` (the paper's ResNets only): ``"B"`` builds the 1x1-projection variant,
  which has no published weights.

A net built with weights is returned in eval mode, with ``model.pretrained_weights``
(what was loaded) and ``model.pretrained_cfg`` (timm's description of its input).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ._registry import list_models, model_info
from .datasets import dataset_for
from .loading import load_checked, load_state_dict
from .nets import CifarResNet, Shortcut
from .weights import Weights, get_weights, pretrained_cfg_for

_logger = logging.getLogger("cifarnets")


def build(
    arch: str,
    *,
    pretrained: bool = False,
    weights: str | Weights | None = None,
    num_classes: int | None = None,
    shortcut: Shortcut | str = "registered",
    progress: bool = True,
    cache_dir: str | None = None,
) -> CifarResNet:
    """Build the registered net ``arch``; see the module's docstring for the arguments.

    ``shortcut="registered"`` is the registry's; another value is only meaningful for
    random init (no weights exist for it).
    """
    info = model_info(arch)
    if shortcut == "registered":
        shortcut = info.shortcut
    if weights is None and not pretrained:
        model = CifarResNet(
            info.block,
            info.blocks_per_stage,
            shortcut=shortcut,
            num_classes=10 if num_classes is None else num_classes,
        )
        model.pretrained_cfg = {
            **model.pretrained_cfg,
            **pretrained_cfg_for(
                arch if shortcut == info.shortcut else None, None, model.num_classes
            ),
        }
        return model
    if shortcut != info.shortcut:  # a contradiction: no weights exist for that net
        raise ValueError(
            f"{arch} weights were trained with {info.shortcut and 'option ' + info.shortcut} "
            f"shortcuts; shortcut={shortcut!r} has no published weights (use pretrained=False)"
        )
    # DEFAULT follows the data set the head is for (CIFAR-100 weights when there are any).
    chosen = get_weights(
        "DEFAULT" if weights is None else weights, arch, dataset=dataset_for(num_classes or 10)
    )
    state_dict = load_state_dict(chosen, cache_dir=cache_dir, progress=progress)
    if num_classes is None or num_classes == chosen.num_classes:
        model = CifarResNet(
            info.block, info.blocks_per_stage, shortcut=shortcut, num_classes=chosen.num_classes
        )
        load_checked(model, state_dict, chosen.name)
    else:  # fine-tuning on other classes: everything but the classifier, as timm does
        model = CifarResNet(
            info.block, info.blocks_per_stage, shortcut=shortcut, num_classes=num_classes
        )
        load_checked(model, state_dict, chosen.name, skip=("fc.",))
        if num_classes:
            _logger.warning(
                "cifarnets: loaded %s except its %d-class classifier; model.fc is "
                "a new %d-class layer (random init), to be trained",
                chosen.name,
                chosen.num_classes,
                num_classes,
            )
    model.pretrained_weights = chosen
    model.pretrained_cfg = pretrained_cfg_for(arch, chosen, model.num_classes)
    return model


def _builder(arch: str) -> Callable[..., CifarResNet]:
    """The builder of ``arch``, named like it, with the registry's summary as its doc."""
    info = model_info(arch)
    if info.family == "paper" and info.shortcut is not None:

        def builder(
            *,
            pretrained: bool = False,
            weights: str | Weights | None = None,
            num_classes: int | None = None,
            shortcut: Shortcut = "A",
            progress: bool = True,
            cache_dir: str | None = None,
        ) -> CifarResNet:
            return build(
                arch,
                pretrained=pretrained,
                weights=weights,
                num_classes=num_classes,
                shortcut=shortcut,
                progress=progress,
                cache_dir=cache_dir,
            )
    else:  # the plain nets have no shortcut to choose; the report's nets keep option B

        def builder(
            *,
            pretrained: bool = False,
            weights: str | Weights | None = None,
            num_classes: int | None = None,
            progress: bool = True,
            cache_dir: str | None = None,
        ) -> CifarResNet:
            return build(
                arch,
                pretrained=pretrained,
                weights=weights,
                num_classes=num_classes,
                progress=progress,
                cache_dir=cache_dir,
            )

    builder.__name__ = builder.__qualname__ = arch
    builder.__module__ = __name__
    arguments = "pretrained, weights, num_classes, progress, cache_dir"
    if info.family == "paper" and info.shortcut is not None:
        arguments += ', shortcut ("B": 1x1 projections, random init only)'
    builder.__doc__ = f"{info.summary}\n\nKeyword arguments ({arguments}): see cifarnets.models."

    return builder


# One line per registry entry (tests/test_models.py checks that none is missing).
resnet20 = _builder("resnet20")
resnet32 = _builder("resnet32")
resnet44 = _builder("resnet44")
resnet56 = _builder("resnet56")
resnet110 = _builder("resnet110")
resnet1202 = _builder("resnet1202")
plain20 = _builder("plain20")
plain32 = _builder("plain32")
plain44 = _builder("plain44")
plain56 = _builder("plain56")
plain110 = _builder("plain110")
resnet83 = _builder("resnet83")
resnet164 = _builder("resnet164")
plain83 = _builder("plain83")
plain164 = _builder("plain164")

_missing = [name for name in list_models() if name not in globals()]
if _missing:
    raise RuntimeError(f"registry entries without a builder line in {__file__}: {_missing}")
BUILDERS: dict[str, Callable[..., CifarResNet]] = {name: globals()[name] for name in list_models()}

__all__ = ["get_model", *BUILDERS]


def get_model(name: str, **kwargs) -> CifarResNet:
    """Build a registered model by name; keyword arguments go to its builder.

    >>> model = get_model("resnet20", num_classes=100)
    """
    model_info(name)  # an unknown name: UnknownModelError with the closest one
    return BUILDERS[name](**kwargs)
