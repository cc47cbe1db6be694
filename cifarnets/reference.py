"""Published CIFAR-10 test errors, and what a reproduction must reach.

Sources: the lab report (Table 1), He et al. 2015 (arXiv 1512.03385, Table 6) and
He et al. 2016 (arXiv 1603.05027). Only final-epoch errors are compared: numbers picked
at the best epoch on the test set (several public zoos) are optimistic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "DEGRADATION_CHECKS",
    "PAPER_SIX",
    "REFERENCES",
    "SEED_STD",
    "SHORTCUT_CHECKS",
    "Reference",
    "tolerance",
]

# The six nets of the lab report's experiment, as the paper defines them.
PAPER_SIX = ["resnet20", "resnet56", "resnet110", "plain20", "plain56", "plain110"]

# Seed-to-seed standard deviation of the final test error of these nets (points):
# He et al. report 6.61 +- 0.16 for ResNet-110; nabla0001/resnet 0.13-0.27 over 5 seeds.
SEED_STD = 0.2


def tolerance(n_seeds: int) -> float:
    """Slack allowed above a target: two seed standard deviations of the measured mean.

    One unlucky seed should not fail a faithful reproduction, yet a real regression of
    half a point should: 0.40 points for one seed, 0.23 for three, 0.18 for five.
    """
    return round(2 * SEED_STD / math.sqrt(max(n_seeds, 1)), 2)


@dataclass(frozen=True)
class Reference:
    model: str
    report: float | None  # the lab report's Table 1 (its label: cifarnets.model_info)
    paper: float | None  # the paper's number for this very net
    paper_source: str
    target: float | None  # final-epoch error (%) to reach; None: reported, not judged
    target_source: str


REFERENCES: dict[str, Reference] = {
    r.model: r
    for r in [
        Reference("resnet20", 8.51, 8.75, "He et al. 2015, Table 6", 8.75, "paper"),
        Reference("resnet32", None, 7.51, "He et al. 2015, Table 6", 7.51, "paper"),
        Reference("resnet44", None, 7.17, "He et al. 2015, Table 6", 7.17, "paper"),
        Reference("resnet56", None, 6.97, "He et al. 2015, Table 6", 6.97, "paper"),
        Reference(
            "resnet110", None, 6.61, "He et al. 2015, Table 6 (mean of 5; best 6.43)", 6.61, "paper"
        ),
        Reference("resnet1202", None, 7.93, "He et al. 2015, Table 6", 7.93, "paper"),
        Reference(
            "plain20", 9.66, None, "He et al. 2015, Fig. 6 (curves only, ~9)", 9.66, "report"
        ),
        Reference("plain32", None, None, "", None, ""),
        Reference("plain44", None, None, "", None, ""),
        Reference("plain56", None, None, "He et al. 2015, Fig. 6 (curves only, ~13)", None, ""),
        Reference("plain110", None, None, "He et al. 2015, sec. 4.2 (>60 %)", None, ""),
        Reference("resnet83", 6.20, None, "", 6.20, "report"),
        Reference("resnet164", 5.68, 5.93, "He et al. 2016, Table 1 (median of 5)", 5.93, "paper"),
        Reference("plain83", 15.05, None, "", None, ""),
        Reference("plain164", 90.00, None, "", None, ""),
    ]
}

# The report's point: without shortcuts, deeper is worse. (deeper, shallower) pairs
# whose measured errors must be ordered so, when both were trained.
DEGRADATION_CHECKS: list[tuple[str, str]] = [("plain56", "plain20"), ("plain83", "plain20")]

# And the remedy: each plain net is worse than the ResNet of the same depth (the report's
# first finding: plain-20 9.66 % against ResNet-20 8.51 %). (plain, resnet) pairs.
SHORTCUT_CHECKS: list[tuple[str, str]] = [
    ("plain20", "resnet20"),
    ("plain56", "resnet56"),
    ("plain110", "resnet110"),
    ("plain83", "resnet83"),
    ("plain164", "resnet164"),
]
