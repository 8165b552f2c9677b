"""The ranking policy as a value, and the arithmetic search and evaluation share."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from hybridsearch.errors import InputError
from hybridsearch.ranking import DEFAULT_POLICY, RankingPolicy, feedback_vectors, offset_scores


def test_the_policy_takes_the_model_cards_offset_unless_given_one():
    card_model = SimpleNamespace(language_offset=0.01)
    assert DEFAULT_POLICY.for_encoder(card_model).language_offset == 0.01
    assert DEFAULT_POLICY.with_(language_offset=0.0).for_encoder(card_model).language_offset == 0.0
    assert DEFAULT_POLICY.for_encoder(SimpleNamespace()).language_offset == 0.0  # a model without one
    # with_ changes only what it is given; the default policy itself is never changed
    p = DEFAULT_POLICY.with_(weights=(1.0, 1.0), feedback=False, language_offset=None)
    assert (p.weights, p.feedback, p.language_offset) == ((1.0, 1.0), False, None)
    assert DEFAULT_POLICY.weights == (1.0, 0.3) and DEFAULT_POLICY.feedback


@pytest.mark.parametrize("bad", [-0.01, 0.5, "0.1", True])
def test_an_offset_outside_0_to_0_2_is_refused(bad):
    with pytest.raises(InputError, match="language_offset must be a number from 0 to 0.2"):
        RankingPolicy(language_offset=bad)


def test_offset_scores_lowers_only_the_same_language_scores():
    scores = np.array([[0.9, 0.8, 0.7]])
    out = offset_scores(scores, np.array([[True, False, True]]), 0.05)
    assert out == pytest.approx(np.array([[0.85, 0.8, 0.65]]))
    assert offset_scores(scores, np.array([[True, True, True]]), 0.0) is scores


def test_reciprocal_rank_fusion_score():
    assert RankingPolicy().rrf(0.3, 1) == pytest.approx(0.3 / 61)


def test_feedback_vector_by_hand():
    # two hits with equal scores weigh 1/2 each: (1, 0) + (0, 1)/2 + (1, 0)/2 = (1.5, 0.5), normalised
    v = feedback_vectors(np.array([1.0, 0.0]), np.array([[0.0, 1.0], [1.0, 0.0]]), [0.5, 0.5])
    assert v == pytest.approx(np.array([1.5, 0.5]) / math.sqrt(2.5))
    # a hit 0.1 behind the best weighs exp(-0.1 / 0.02) = 0.0067 as much; weight 0 leaves the query
    v = feedback_vectors(np.array([1.0, 0.0]), np.array([[0.0, 1.0], [1.0, 0.0]]), [0.9, 0.8])
    w = 1 / (1 + math.exp(-5))
    assert v == pytest.approx(np.array([1 + (1 - w), w]) / math.hypot(1 + (1 - w), w))
    assert feedback_vectors(np.array([3.0, 4.0]), np.eye(2), [1, 0], weight=0.0) == pytest.approx([0.6, 0.8])
    # a batch of queries gives each its own vector
    batch = feedback_vectors(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[[0.0, 1.0]], [[0.0, 1.0]]]),
                             np.array([[0.5], [0.5]]))
    assert batch == pytest.approx(np.array([[1 / math.sqrt(2), 1 / math.sqrt(2)], [0.0, 1.0]]))


