"""Contrastive InfoNCE loss with in-batch negatives (as e5 and MultipleNegativesRankingLoss)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


class InBatchInfoNCE(torch.nn.Module):
    """Inputs: L2-normalised ``queries`` [n, d] and ``answers`` [n, d]; row i of each is a positive pair.

    Every other answer in the batch is a negative for query i, and so is every extra negative
    given (hard negatives). ``symmetric`` adds the answer -> query direction. Returns the mean
    cross-entropy over the batch.
    """

    def __init__(self, temperature: float = 0.05, symmetric: bool = False):
        super().__init__()
        if temperature <= 0:
            raise ValueError("temperature must be positive")
        self.temperature = temperature
        self.symmetric = symmetric

    def forward(self, queries: torch.Tensor, answers: torch.Tensor, negatives: torch.Tensor | None = None,
                false_negatives: torch.Tensor | None = None) -> torch.Tensor:
        """``negatives`` [m, d]: extra candidates for every query (hard negatives);
        ``false_negatives`` [n, m] bool marks the ones that are in fact query i's answer."""
        logits = queries @ answers.T / self.temperature
        labels = torch.arange(len(queries), device=queries.device)
        if negatives is not None and len(negatives):
            extra = queries @ negatives.T / self.temperature
            if false_negatives is not None:
                extra = extra.masked_fill(false_negatives.to(extra.device), float("-inf"))
            loss = F.cross_entropy(torch.cat([logits, extra], dim=1), labels)
        else:
            loss = F.cross_entropy(logits, labels)
        if self.symmetric:  # answer -> query: the answers' competitors are the other queries
            loss = (loss + F.cross_entropy(logits.T, labels)) / 2
        return loss


def multi_positive_nce(queries: torch.Tensor, candidates: torch.Tensor, positives: torch.Tensor,
                       temperature: float) -> torch.Tensor:
    """InfoNCE with several positives per query (the LAReQA pool in miniature).

    ``positives`` [n, m] bool marks query i's answers among ``candidates`` [m, d] (its answer in
    every language). The loss is the mean, over a query's positives, of -log softmax over all
    candidates: its optimum scores every positive alike, above every negative, so an answer in
    the query's own language gains nothing over the same answer in another language. The minimum
    is log(positives per query), not 0.
    """
    logp = (queries @ candidates.T / temperature).float().log_softmax(dim=1)
    pos = positives.to(logp.device)
    return -(logp.masked_fill(~pos, 0.0).sum(1) / pos.sum(1).clamp(min=1)).mean()


class HybridLoss(torch.nn.Module):
    """The training objective of hybrid batch training: one module with its terms.

    Terms (a weight of 0 turns a term off):

    - **main**: question -> answer InfoNCE with in-batch negatives (and hard negatives, if any);
      ``symmetric`` adds answer -> question.
    - **align** (``align_weight``): each answer against its translation (``twins``), symmetric
      in-batch InfoNCE.
    - **all languages** (``all_languages_weight``): each question ranks its answer in every
      language (``all_answers``, ``positives``) above the batch's other answers in every language,
      all translations alike (multi-positive InfoNCE); hard negatives compete too.
    - **all questions** (``all_questions_weight``): the mirror on the question side: each answer
      ranks its question in every language (``all_questions``, same ``positives``) above the
      batch's other questions.

    Inputs are L2-normalised embeddings; the caller (the training loop) builds the batch and
    embeds what the enabled terms need (see :attr:`needs_all_languages`).
    """

    def __init__(self, temperature: float = 0.05, symmetric: bool = False, align_weight: float = 0.0,
                 all_languages_weight: float = 0.0, all_questions_weight: float = 0.0):
        super().__init__()
        self.temperature = temperature
        self.main = InBatchInfoNCE(temperature, symmetric)
        self.align = InBatchInfoNCE(temperature, symmetric=True)
        self.align_weight = float(align_weight)
        self.all_languages_weight = float(all_languages_weight)
        self.all_questions_weight = float(all_questions_weight)

    @classmethod
    def from_config(cls, cfg) -> "HybridLoss":
        """The loss a :class:`trainer.config.TrainConfig` asks for."""
        return cls(cfg.temperature, cfg.symmetric, cfg.align_weight, cfg.all_languages_weight,
                   cfg.all_questions_weight)

    @property
    def needs_all_languages(self) -> bool:
        """True when a term needs every batch id's texts in all its languages."""
        return self.all_languages_weight > 0 or self.all_questions_weight > 0

    def forward(self, questions: torch.Tensor, answers: torch.Tensor, negatives: torch.Tensor | None = None,
                false_negatives: torch.Tensor | None = None, twins: torch.Tensor | None = None,
                all_answers: torch.Tensor | None = None, all_questions: torch.Tensor | None = None,
                positives: torch.Tensor | None = None) -> torch.Tensor:
        """``questions``, ``answers`` [n, d] (row i a pair); ``negatives`` [m, d] with
        ``false_negatives`` [n, m] bool; ``twins`` [n, d] (align term); ``all_answers``,
        ``all_questions`` [k, d] with ``positives`` [n, k] bool (text j belongs to pair i's id)."""
        loss = self.main(questions, answers, negatives, false_negatives)
        if self.align_weight > 0:
            loss = loss + self.align_weight * self.align(answers, twins)
        if self.all_languages_weight > 0:
            candidates, pos = all_answers, positives
            if negatives is not None:  # the hard negatives compete too (a drawn answer is a positive)
                candidates, pos = torch.cat([all_answers, negatives]), torch.cat([positives, false_negatives], dim=1)
            loss = loss + self.all_languages_weight * multi_positive_nce(questions, candidates, pos, self.temperature)
        if self.all_questions_weight > 0:
            loss = loss + self.all_questions_weight * multi_positive_nce(answers, all_questions, positives,
                                                                         self.temperature)
        return loss
