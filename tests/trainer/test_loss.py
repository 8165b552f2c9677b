"""InfoNCE with in-batch negatives against values worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from trainer.loss import InBatchInfoNCE, multi_positive_nce


def test_identity_embeddings_known_value():
    """q = a = I (3x3), temperature 1: logits = I, so each row's loss is -log(e / (e + 2))."""
    eye = torch.eye(3)
    loss = InBatchInfoNCE(temperature=1.0)(eye, eye)
    assert loss.item() == pytest.approx(math.log(1 + 2 / math.e), rel=1e-6)


def test_temperature_sharpens():
    """temperature 0.5 doubles the logits: -log(e^2 / (e^2 + 2)); lower T, lower loss for right answers."""
    eye = torch.eye(3)
    loss = InBatchInfoNCE(temperature=0.5)(eye, eye)
    assert loss.item() == pytest.approx(math.log(1 + 2 * math.exp(-2)), rel=1e-6)
    t1, t05, t005 = (InBatchInfoNCE(t)(eye, eye).item() for t in (1.0, 0.5, 0.05))
    assert t1 > t05 > t005 >= 0
    # with the positives ranked wrong, a sharper temperature costs more
    wrong = torch.eye(3)[[1, 2, 0]]
    assert InBatchInfoNCE(0.05)(eye, wrong).item() > InBatchInfoNCE(1.0)(eye, wrong).item()
    with pytest.raises(ValueError):
        InBatchInfoNCE(0.0)


def test_symmetric_averages_both_directions():
    """q = [[1,0],[0,1]], a = [[1,0],[.6,.8]]: logits [[1,.6],[0,.8]].

    q->a rows: log(1+e^-0.4), log(1+e^-0.8); a->q (columns): log(1+e^-1), log(1+e^-0.2).
    """
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    a = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    fwd = (math.log(1 + math.exp(-0.4)) + math.log(1 + math.exp(-0.8))) / 2
    bwd = (math.log(1 + math.exp(-1.0)) + math.log(1 + math.exp(-0.2))) / 2
    assert InBatchInfoNCE(1.0)(q, a).item() == pytest.approx(fwd, rel=1e-6)
    assert InBatchInfoNCE(1.0, symmetric=True)(q, a).item() == pytest.approx((fwd + bwd) / 2, rel=1e-6)


def test_gradient_pulls_positives_together():
    q = torch.nn.functional.normalize(torch.randn(4, 8, generator=torch.Generator().manual_seed(0)), dim=-1)
    a = torch.nn.functional.normalize(torch.randn(4, 8, generator=torch.Generator().manual_seed(1)), dim=-1)
    q.requires_grad_(True)
    loss = InBatchInfoNCE(0.1)(q, a)
    loss.backward()
    stepped = torch.nn.functional.normalize(q.detach() - 0.1 * q.grad, dim=-1)
    assert InBatchInfoNCE(0.1)(stepped, a).item() < loss.item()


def test_hard_negatives_join_every_row_and_masked_ones_do_not_count():
    """q = a = I (2x2), one extra negative n = [1, 0] at temperature 1.

    Row 0 sees logits [1, 0 | 1]: -log(e / (2e + 1)); row 1 sees [0, 1 | 0]: -log(e / (e + 2)).
    Masking the negative for row 0 (it is row 0's own answer) gives row 0 back its plain loss.
    """
    eye = torch.eye(2)
    neg = torch.tensor([[1.0, 0.0]])
    row0 = math.log((2 * math.e + 1) / math.e)
    row1 = math.log((math.e + 2) / math.e)
    assert InBatchInfoNCE(1.0)(eye, eye, neg).item() == pytest.approx((row0 + row1) / 2, rel=1e-6)
    plain = math.log(1 + 1 / math.e)
    masked = InBatchInfoNCE(1.0)(eye, eye, neg, torch.tensor([[True], [False]]))
    assert masked.item() == pytest.approx((plain + row1) / 2, rel=1e-6)
    assert InBatchInfoNCE(1.0)(eye, eye, neg).item() > InBatchInfoNCE(1.0)(eye, eye).item()
    # the symmetric direction keeps its answer -> query form
    sym = InBatchInfoNCE(1.0, symmetric=True)(eye, eye, neg).item()
    assert sym == pytest.approx(((row0 + row1) / 2 + plain) / 2, rel=1e-6)


def test_multi_positive_known_value():
    """One query [1, 0], candidates [1, 0], [0, 1], [-1, 0] at temperature 1: logits [1, 0, -1].
    With the first two positive the loss is the mean of their -log softmax:
    (2 * log(e + 1 + 1/e) - 1) / 2."""
    q = torch.tensor([[1.0, 0.0]])
    c = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    pos = torch.tensor([[True, True, False]])
    expected = (2 * math.log(math.e + 1 + 1 / math.e) - 1) / 2
    assert multi_positive_nce(q, c, pos, 1.0).item() == pytest.approx(expected, rel=1e-6)
    # one positive only: plain InfoNCE over the same candidates
    one = torch.tensor([[True, False, False]])
    assert multi_positive_nce(q, c, one, 1.0).item() == pytest.approx(math.log(math.e + 1 + 1 / math.e) - 1, rel=1e-6)


def test_multi_positive_gives_no_credit_for_preferring_one_translation():
    """Two translations of the answer scored 0.9 / 0.5 (the query's language first) cost more than
    0.7 / 0.7, the same total: an answer in the query's own language earns nothing over its
    translation."""
    pos = torch.tensor([[True, True, False]])

    def loss(s_same, s_other):
        # unit vectors whose dot products with q = [1, 0] are the scores
        c = torch.tensor([[s_same, math.sqrt(1 - s_same ** 2)], [s_other, -math.sqrt(1 - s_other ** 2)], [0.0, 1.0]])
        return multi_positive_nce(torch.tensor([[1.0, 0.0]]), c, pos, 0.1).item()

    assert loss(0.7, 0.7) < loss(0.9, 0.5) < loss(1.0, 0.4)


def test_hybrid_loss_adds_each_term_by_its_weight():
    """HybridLoss with two pairs of orthogonal vectors (temperature 1): the main term is the
    in-batch InfoNCE, the align term that of the answers against their translations, the
    all-languages term the multi-positive loss over every answer with the hard negative
    competing (a false negative is masked as a positive), the all-questions term its mirror."""
    from trainer.loss import HybridLoss

    q, a, twins = torch.eye(2), torch.eye(2)[[0, 1]], torch.eye(2)[[1, 0]]
    every = torch.eye(2).repeat(2, 1)  # each id's answer (and question) in two languages
    pos = torch.tensor([[True, False, True, False], [False, True, False, True]])
    neg, false_neg = torch.tensor([[1.0, 0.0]]), torch.tensor([[True], [False]])
    main = InBatchInfoNCE(1.0)(q, a, neg, false_neg)
    assert HybridLoss(1.0)(q, a, neg, false_neg).item() == pytest.approx(main.item())
    loss = HybridLoss(1.0, align_weight=0.5, all_languages_weight=2.0, all_questions_weight=3.0)(
        q, a, neg, false_neg, twins, every, every, pos)
    expected = (main + 0.5 * InBatchInfoNCE(1.0, symmetric=True)(a, twins)
                + 2.0 * multi_positive_nce(q, torch.cat([every, neg]), torch.cat([pos, false_neg], dim=1), 1.0)
                + 3.0 * multi_positive_nce(a, every, pos, 1.0))
    assert loss.item() == pytest.approx(expected.item())
    assert HybridLoss(1.0, all_questions_weight=1.0).needs_all_languages
    assert not HybridLoss(1.0, align_weight=1.0).needs_all_languages
