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
