"""Contrastive InfoNCE loss with in-batch negatives (as e5 and MultipleNegativesRankingLoss)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


class InBatchInfoNCE(torch.nn.Module):
    """Inputs: L2-normalised ``queries`` [n, d] and ``answers`` [n, d]; row i of each is a positive pair.

    Every other answer in the batch is a negative for query i. ``symmetric`` adds the
    answer -> query direction. Returns the mean cross-entropy over the batch.
    """

    def __init__(self, temperature: float = 0.05, symmetric: bool = False):
        super().__init__()
        if temperature <= 0:
            raise ValueError("temperature must be positive")
        self.temperature = temperature
        self.symmetric = symmetric

    def forward(self, queries: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
        logits = queries @ answers.T / self.temperature
        labels = torch.arange(len(queries), device=queries.device)
        loss = F.cross_entropy(logits, labels)
        if self.symmetric:
            loss = (loss + F.cross_entropy(logits.T, labels)) / 2
        return loss
