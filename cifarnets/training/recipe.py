"""Recipes: how a net is trained, as data (airbench's ``hyp``), apart from the code.

A recipe fixes everything that changes what a run learns: optimizer, learning-rate
schedule, loss, augmentation, epochs and the warm-up rule. Its ``name`` is part of every
run's folder name and is recorded with every published weight, so runs of two recipes
never collide and a weight always says how it was made. How fast a run goes (device,
precision, step executor, threads) is the :class:`~cifarnets.training.Runtime`'s business.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from .._registry import model_info

__all__ = ["RECIPES", "Recipe", "get_recipe"]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Recipe:
    """One training recipe. The defaults are the lab report's (bearpaw's code):
    SGD momentum 0.9, batch 128, 164 epochs, lr 0.1 divided by 10 at epochs 81 and 122,
    weight decay 1e-4, cross-entropy, pad-4 random crop + horizontal flip."""

    name: str = "report"
    epochs: int = 164
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 1e-4
    milestones: tuple[int, ...] = (81, 122)  # epochs at which the lr is multiplied by gamma
    gamma: float = 0.1
    label_smoothing: float = 0.0
    pad: int = 4  # random crop from the image zero-padded by this many pixels
    flip: bool = True  # random horizontal flip
    # He et al. 2015, sec. 4.2, for the 110-layer net: "we use 0.01 to warm up the
    # training until the training error is below 80% (about 400 iterations), and then go
    # back to 0.1". It applies to the paper's nets at least `warmup_min_depth` deep
    # (resnet110, plain110, resnet1202); the error is that of the last
    # `warmup_check_every` steps.
    warmup_min_depth: int | None = 110
    warmup_lr: float = 0.01
    warmup_until_error: float = 80.0
    warmup_check_every: int = 20

    def __post_init__(self) -> None:
        object.__setattr__(self, "milestones", tuple(self.milestones))
        problems = []

        def need(ok: bool, field: str, expected: str) -> None:
            if not ok:
                problems.append(f"{field} must be {expected}, got {getattr(self, field)!r}")

        need(
            isinstance(self.name, str)
            and self.name.replace("_", "").replace("-", "").replace("+", "").isalnum(),
            "name",
            "a word of letters, digits, _ - +",
        )
        for field in ("epochs", "batch_size", "warmup_check_every"):
            need(
                _is_int(getattr(self, field)) and getattr(self, field) >= 1,
                field,
                "a whole number >= 1",
            )
        need(_is_int(self.pad) and self.pad >= 0, "pad", "a whole number >= 0")
        need(isinstance(self.flip, bool), "flip", "True or False")
        need(
            isinstance(self.nesterov, bool) and (not self.nesterov or self.momentum > 0),
            "nesterov",
            "True or False (True needs momentum > 0)",
        )
        need(_is_number(self.lr) and self.lr > 0, "lr", "a number > 0")
        need(_is_number(self.warmup_lr) and self.warmup_lr > 0, "warmup_lr", "a number > 0")
        need(_is_number(self.momentum) and 0 <= self.momentum < 1, "momentum", "in [0, 1)")
        need(
            _is_number(self.weight_decay) and self.weight_decay >= 0,
            "weight_decay",
            "a number >= 0",
        )
        need(_is_number(self.gamma) and 0 < self.gamma <= 1, "gamma", "in (0, 1]")
        need(
            _is_number(self.label_smoothing) and 0 <= self.label_smoothing < 1,
            "label_smoothing",
            "in [0, 1)",
        )
        need(
            _is_number(self.warmup_until_error) and 0 <= self.warmup_until_error <= 100,
            "warmup_until_error",
            "a percentage in [0, 100]",
        )
        need(
            self.warmup_min_depth is None
            or (_is_int(self.warmup_min_depth) and self.warmup_min_depth >= 1),
            "warmup_min_depth",
            "None or a whole number >= 1",
        )
        ms = self.milestones
        need(
            all(_is_int(m) for m in ms)
            and list(ms) == sorted(set(ms))
            and all(_is_int(self.epochs) and 1 <= m < self.epochs for m in ms),
            "milestones",
            f"strictly increasing whole epochs in 1..{self.epochs}-1 "
            f"(the lr is multiplied by gamma from each of them on)",
        )
        if problems:
            raise ValueError(f"invalid recipe {self.name!r}: " + "; ".join(problems))

    def uses_warmup(self, model: str) -> bool:
        """Whether ``model`` starts with the paper's warm-up under this recipe."""
        info = model_info(model)
        return (
            self.warmup_min_depth is not None
            and info.family == "paper"
            and info.depth >= self.warmup_min_depth
        )

    def lr_at(self, step: int, steps_per_epoch: int) -> float:
        """The scheduled learning rate of 0-based ``step`` (torch's MultiStepLR by epoch)."""
        epoch = step // steps_per_epoch
        # Rounded so that logs read 0.01, not 0.010000000000000002.
        return round(self.lr * self.gamma ** sum(epoch >= m for m in self.milestones), 12)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        """The recipe of a saved dict; fields added since it was saved take their
        defaults, so that runs started by an older version continue."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown recipe fields {unknown}; known: {sorted(known)}")
        return cls(**{**data, "milestones": tuple(data.get("milestones", ()))})

    def with_changes(self, **changes: Any) -> Recipe:
        """This recipe with some fields changed, under a name of its own (``report+3f2a9c``:
        the base name and a hash of the changes), so that a changed recipe can never pass
        for the named one."""
        changes = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if not changes:
            return self
        changed = dataclasses.replace(self, **changes)
        digest = hashlib.sha256(
            json.dumps({**changed.to_dict(), "name": None}, sort_keys=True).encode()
        ).hexdigest()[:6]
        return dataclasses.replace(changed, name=f"{self.name.split('+')[0]}+{digest}")


REPORT = Recipe()

RECIPES: dict[str, Recipe] = {
    # The lab report's recipe (its Table 1 and Figures 5/6); the default.
    "report": REPORT,
    # A minutes-long check of the whole pipeline on a CPU: 2 epochs, lr drop after one.
    # It learns little and is labelled so everywhere; never published as a reproduction.
    "smoke": dataclasses.replace(REPORT, name="smoke", epochs=2, milestones=(1,)),
}


def get_recipe(name: str | Recipe) -> Recipe:
    """A named recipe (``"report"``, ``"smoke"``), or ``name`` itself if it is a Recipe."""
    if isinstance(name, Recipe):
        return name
    try:
        return RECIPES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown recipe {name!r}; named recipes: {', '.join(RECIPES)}") from None
