"""A training mixture: several sources of positive pairs, each with a kind and a sampling weight.

A source is written ``[KIND=]PATH[#SELECTOR][:WEIGHT]``, for example::

    ../shared/data/xquad-r#0-27            XQuAD-R articles 0-27, question -> answer sentence, weight 1
    ../shared/data/parallel/mlqa-test:2    MLQA-style set, question -> paragraph, weight 2
    question-question=../shared/data/parallel/mlqa-test:0.5
    ../shared/data/parallel/flores#train:0.5

KIND is one of :data:`KINDS` (default: the file's main kind, :data:`DEFAULT_KIND`); SELECTOR picks
XQuAD-R articles or a FLORES split (``train`` when not given); WEIGHT (default 1) is the share of
batches drawn from the source, relative to the others. FLORES ``#test`` is refused for training:
it is the held-out bitext figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hybridsearch.errors import DataError
from trainer.qa.loader import detect, load_pair_sets, split_selector
from trainer.qa.records import KINDS, PairSet

#: The kind a format trains on unless the source names another.
DEFAULT_KIND = {"qa-file": "qa-sentence", "xquad-r": "qa-sentence", "mlqa": "qa-paragraph",
                "mintaka": "question-question", "line-aligned": "bitext", "flores": "bitext",
                "tmx": "bitext"}
#: Splits that never train (they are the held-out figures).
HELD_OUT_SPLITS = ("test",)


@dataclass(frozen=True)
class SourceSpec:
    """One parsed ``[KIND=]PATH[#SELECTOR][:WEIGHT]``."""

    path: str          # with its #SELECTOR, as the loader takes it
    kind: str | None
    weight: float

    def __str__(self) -> str:
        return (f"{self.kind}=" if self.kind else "") + self.path + (f":{self.weight:g}" if self.weight != 1 else "")


def parse_source(text: str) -> SourceSpec:
    """``[KIND=]PATH[#SELECTOR][:WEIGHT]`` -> SourceSpec (DataError for a bad kind or weight)."""
    kind = None
    head, eq, rest = text.partition("=")
    if eq and head in KINDS:
        kind, text = head, rest
    elif eq and "/" not in head and not Path(text).exists():
        raise DataError(f"unknown kind {head!r} in --source {text!r}; one of {', '.join(KINDS)}")
    weight = 1.0
    if ":" in text and not Path(text).exists():
        path, _, w = text.rpartition(":")
        try:
            weight = float(w)
        except ValueError:
            path = text  # a colon that is part of the path
        else:
            text = path
    if not weight >= 0:
        raise DataError(f"a source weight must be 0 or more, not {weight}")
    return SourceSpec(text, kind, weight)


@dataclass
class Mixture:
    """Loaded sources (one PairSet each) and their weights, plus the specs they came from."""

    sources: list[PairSet]
    weights: list[float]
    specs: list[str] = field(default_factory=list)

    def summary(self) -> list[dict]:
        total = sum(self.weights) or 1.0
        return [{**ps.summary(), "weight": w, "share": w / total, "spec": spec}
                for ps, w, spec in zip(self.sources, self.weights, self.specs)]


def load_source(spec: SourceSpec, training: bool = True) -> PairSet:
    """The PairSet of the kind ``spec`` asks for (or its format's default)."""
    path, sel = split_selector(spec.path)
    fmt = detect(path)
    if training and fmt == "flores" and sel in HELD_OUT_SPLITS:
        raise DataError(f"{spec.path}: the FLORES test split is held out for the bitext figure; train on "
                        "#train (the default) and select checkpoints on #dev")
    kind = spec.kind or DEFAULT_KIND[fmt]
    sets = {ps.kind: ps for ps in load_pair_sets(spec.path)}
    if kind not in sets:
        raise DataError(f"{spec.path} ({fmt}) allows {', '.join(sets)} pairs, not {kind}")
    return sets[kind]


def load_mixture(specs: list[str | SourceSpec]) -> Mixture:
    """Parse and load every source; every DataError names the source it came from."""
    parsed = [s if isinstance(s, SourceSpec) else parse_source(s) for s in specs]
    if not parsed:
        raise DataError("a mixture needs at least one source")
    sources = []
    for spec in parsed:
        sources.append(load_source(spec))
    if sum(s.weight for s in parsed) <= 0:
        raise DataError("every source has weight 0: give one a weight above 0")
    return Mixture(sources, [s.weight for s in parsed], [str(s) for s in parsed])


#: Public data sets recognised by a folder name in a source's path -> the credit a model trained
#: on them carries in its card (their licenses ask for it; see ../shared/data/*/README.md).
PUBLIC_DATA = {
    "xquad-r": "XQuAD-R (Roy et al. 2020, LAReQA), built on XQuAD (Artetxe et al. 2020): CC BY-SA 4.0",
    "mlqa-test": "MLQA v1 test split (Lewis et al. 2020), answers blanked: CC BY-SA 3.0",
    "mintaka": "Mintaka dev v1.0 (Sen et al. 2022, amazon-science/mintaka): CC BY 4.0",
    "ntrex": "NTREX-128 (Federmann et al. 2022, MicrosoftTranslator/NTREX): CC BY-SA 4.0",
    "flores": "FLORES-200 (NLLB Team 2022) as laid out by SIB-200 (Adelani et al. 2023): CC BY-SA 4.0",
}


def data_credits(specs: list[str]) -> list[str]:
    """The credits of the public data sets among a mixture's sources, each once, in order."""
    out = []
    for spec in specs:
        parts = Path(split_selector(parse_source(spec).path)[0]).parts
        for folder, credit in PUBLIC_DATA.items():
            if folder in parts and credit not in out:
                out.append(credit)
    return out
