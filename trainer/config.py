"""The settings of a training run, with their one set of defaults."""

from __future__ import annotations

from dataclasses import dataclass

from hybridsearch.errors import HybridSearchError
from trainer.samplers import HARD_NEGATIVE_LANGUAGES


@dataclass
class TrainConfig:
    """Everything that defines a run (saved in the model card and the checkpoint).

    The defaults here are the only ones: ``hybridsearch train``'s options and the desktop app's
    training page read them from this class.
    """

    model: str = "base"
    out_dir: str = "trained-model"
    steps: int | None = 300
    epochs: float | None = None
    batch_size: int = 32
    lr: float = 3e-5
    temperature: float = 0.05
    alpha: float = 0.5
    max_length: int = 128
    freeze_embeddings: bool = True
    #: train only the top N transformer layers (None: all)
    train_layers: int | None = None
    symmetric: bool = False
    #: weight of the translation-alignment term (0: off): each answer is also pulled toward its
    #: translation in the question's language (another language for X-X pairs), in-batch InfoNCE
    align_weight: float = 0.0
    #: add, for every pair, another sentence of the answer's passage in the question's language as
    #: a negative for the whole batch (needs the pool of the SQuAD/XQuAD-R layout or `context`)
    hard_negatives: bool = False
    #: the hard negative's language: "question" (the language bias's competitor), "answer" (the
    #: cross-lingual competitor: a neighbour in the answer's language) or "both" (one of each)
    hard_negative_language: str = "question"
    #: mine the hard negatives instead (0: off): each question's K highest-ranked candidates under the
    #: starting model that are not one of its answers, in any language; one is drawn per pair
    mine_negatives: int = 0
    #: mine only candidates in the question's language
    mine_same_language: bool = False
    #: weight of the all-languages term (0: off): each question must rank its answer in *every*
    #: language above the other answers of the batch in every language, all translations alike
    #: (multi-positive InfoNCE). It encodes each pair's answer in all its languages
    all_languages_weight: float = 0.0
    #: weight of the all-questions term (0: off), the all-languages term's mirror on the question
    #: side: each pair's answer must rank its question in *every* language above the batch's other
    #: questions in every language, all translations alike. A question then has no language of its
    #: own toward its answer. It encodes each pair's question in all its languages
    all_questions_weight: float = 0.0
    dev_share: float = 0.1
    seed: int = 0
    eval_every: int = 50
    device: str = "auto"
    grad_accum: int = 1
    warmup: float = 0.1
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    mixed_precision: bool = True
    resume: bool = True
    name: str | None = None
    #: the mixture's sources (``[KIND=]PATH[#SELECTOR][:WEIGHT]``, trainer/qa/mixture.py) when the
    #: run trains on several kinds of positives; recorded in the card
    sources: list[str] | None = None

    def check(self) -> None:
        """Raise :class:`HybridSearchError` for settings no run can use (before anything loads)."""
        if min(self.align_weight, self.all_languages_weight, self.all_questions_weight, self.mine_negatives) < 0:
            raise HybridSearchError("align_weight, all_languages_weight, all_questions_weight and mine_negatives "
                                    "must be 0 or more")
        if self.hard_negative_language not in HARD_NEGATIVE_LANGUAGES:
            raise HybridSearchError(f"hard_negative_language must be one of {', '.join(HARD_NEGATIVE_LANGUAGES)}, "
                                    f"not {self.hard_negative_language!r}")


#: The defaults, as a value (``DEFAULTS.lr``) for option parsers and forms.
DEFAULTS = TrainConfig()
