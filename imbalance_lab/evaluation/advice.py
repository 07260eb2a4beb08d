"""What a data diagnosis suggests for the strategies, with what each suggestion rests on and how
sure it is.

A reading of the minority typology is a rule of thumb about a mechanism (SMOTE interpolates
towards minority neighbours; around an isolated minority row those lie across majority
regions), not a measurement of any strategy on the data. A sweep measures; so a sweep may rank
SMOTE first where the typology advises caution, and each reading says so, and why the two can
disagree, rather than leave the product contradicting itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

# The shares that trigger a reading (Napierala & Stefanowski's types, k = 5 neighbours).
HARD_SHARE, BORDERLINE_SHARE, SAFE_SHARE = 0.3, 0.4, 0.5
# Fewer minority rows than this and the shares themselves are loose (a 95 % interval of
# +-15 points or more around 50 %).
FEW_MINORITY = 40
TYPOLOGY = (
    "the minority typology of Napierala & Stefanowski (2016, J. Intell. Inf. Syst. 46): each "
    "minority row typed by how many of its 5 nearest neighbours are majority"
)


def _measure(data_args: str) -> str:
    command = f"python train.py -m experiment=lab {data_args}".strip()
    return (
        f"A sweep measures what this only expects: `{command}`, compared on validation "
        "(selection.md), outranks this reading."
    )


@dataclass
class Reading:
    """One suggestion drawn from a diagnosis: ``finding`` (the measured symptom, with its 95 %
    interval), ``suggestion``, ``basis`` (what it rests on), ``confidence`` (how sure, and
    why) and ``check`` (the run that would confirm or overturn it)."""

    finding: str
    suggestion: str
    basis: str
    confidence: str
    check: str = ""

    def line(self) -> str:
        """The finding and suggestion on one line (diagnosis.json's ``interpretation``)."""
        return f"{self.finding}: {self.suggestion}"


def share_interval(count: int, n: int) -> tuple[float, float]:
    """95 % Wilson interval of the share ``count / n`` (scipy's binomtest)."""
    from scipy.stats import binomtest

    if n == 0:
        return 0.0, 1.0
    ci = binomtest(int(count), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def _share(count: int, n: int, what: str) -> str:
    low, high = share_interval(count, n)
    return (
        f"{count / n:.0%} of the {n} minority rows are {what} (95 % interval {low:.0%}-{high:.0%})"
    )


def _sureness(n: int, base: str) -> str:
    if n < FEW_MINORITY:
        return f"{base} With {n} minority rows the share itself is loose (see its interval)."
    return base


def read_report(report: Mapping[str, Any]) -> list[Reading]:
    """The readings of a :func:`imbalance_lab.evaluation.diagnostics.data_report`."""
    typ, ov = report["typology"], report["overlap"]
    data_args = " ".join(o for o in report.get("overrides", []) if o.startswith("data"))
    measure = _measure(data_args)
    counts, n = typ["counts"], typ["n"]
    readings = []
    hard = counts["rare"] + counts["outlier"]
    if n and hard / n >= HARD_SHARE:
        readings.append(
            Reading(
                finding=_share(hard, n, "rare or outliers"),
                suggestion=(
                    "interpolating oversamplers (SMOTE, ADASYN) may place synthetic rows inside "
                    "majority regions; loss weighting, threshold tuning or random oversampling "
                    "are the safer first tries."
                ),
                basis=(
                    f"{TYPOLOGY}, and how SMOTE works: it draws each synthetic row between a "
                    "minority row and one of its minority neighbours, which for a rare or "
                    "outlying row lies across majority rows."
                ),
                confidence=_sureness(
                    n,
                    "Low: a rule of thumb about the mechanism, not a measurement of SMOTE here. "
                    "SMOTE also rebalances the classes, which helps a network whatever the "
                    "placement of its rows, so it may still rank first in a sweep.",
                ),
                check=(
                    f"{measure} If SMOTE leads, compare it with sampler=random_over (the same "
                    "rebalancing, no interpolation): a lead within the std over seeds is noise."
                ),
            )
        )
    if n and counts["borderline"] / n >= BORDERLINE_SHARE:
        readings.append(
            Reading(
                finding=_share(counts["borderline"], n, "borderline"),
                suggestion=(
                    "the classes overlap; cleaning the border (sampler=tomek, enn) or "
                    "borderline-focused oversampling (sampler=borderline_smote) may help."
                ),
                basis=f"{TYPOLOGY}.",
                confidence=_sureness(
                    n, "Low: overlap says where errors happen, not which strategy fixes them."
                ),
                check=measure,
            )
        )
    if n and counts["safe"] / n >= SAFE_SHARE and hard / n < HARD_SHARE:
        readings.append(
            Reading(
                finding=_share(counts["safe"], n, "safe"),
                suggestion=(
                    "the imbalance itself is the main issue; loss weighting or threshold tuning "
                    "should suffice."
                ),
                basis=f"{TYPOLOGY}: safe rows sit among their own class.",
                confidence=_sureness(n, "Medium: safe minority rows are learnt by most methods."),
                check=measure,
            )
        )
    if ov["n_conflicting_feature_rows"]:
        readings.append(
            Reading(
                finding=(
                    f"{ov['n_conflicting_feature_rows']} feature vectors occur with both labels "
                    f"({ov['n_rows_in_conflict']} rows)"
                ),
                suggestion="no classifier can get those rows all right.",
                basis="counted: identical feature rows with different labels.",
                confidence="Certain: a count, not an estimate.",
            )
        )
    if not readings:
        readings.append(
            Reading(
                finding="no dominant minority type",
                suggestion="compare strategies empirically.",
                basis=f"{TYPOLOGY}.",
                confidence="-",
                check=measure,
            )
        )
    return readings


def as_json(readings: list[Reading]) -> list[dict[str, str]]:
    """The readings as diagnosis.json stores them."""
    return [asdict(r) for r in readings]
