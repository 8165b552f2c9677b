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
