"""The model card: one schema, written atomically, unknown keys kept, damaged cards explained."""

from __future__ import annotations

import json

import pytest

from hybridsearch.encoder.card import CARD_FILE, ModelCard, load_card, read_card, save_card, write_card
from hybridsearch.errors import ModelError


def test_a_card_round_trips_with_keys_this_version_does_not_know(tmp_path):
    tmp_path = tmp_path / "model"
    tmp_path.mkdir()
    data = {"name": "m", "language_offset": 0.01, "recipe": {"alpha": 0.5}, "written_by_a_newer_version": [1, 2]}
    (tmp_path / CARD_FILE).write_text(json.dumps(data))
    card = load_card(tmp_path)
    assert card.name == "m" and card.language_offset == 0.01 and card.recipe == {"alpha": 0.5}
    assert card.extra == {"written_by_a_newer_version": [1, 2]}
    card.best_step = 40
    save_card(tmp_path, card)
    assert json.loads((tmp_path / CARD_FILE).read_text()) == {**data, "best_step": 40}
    assert [p.name for p in tmp_path.iterdir()] == [CARD_FILE]  # no temporary file left behind
    # the dict-shaped helpers older callers use read and write the same file
    assert read_card(tmp_path)["best_step"] == 40
    write_card(tmp_path, {"name": "n", "language_offset": None})
    assert read_card(tmp_path) == {"name": "n"}


def test_a_missing_card_is_empty_and_a_damaged_one_is_explained(tmp_path):
    assert load_card(tmp_path) == ModelCard() and not load_card(tmp_path)
    (tmp_path / CARD_FILE).write_text("{ half a card")
    with pytest.raises(ModelError, match="unreadable"):
        load_card(tmp_path)
    (tmp_path / CARD_FILE).write_text("[1, 2]")
    with pytest.raises(ModelError, match="JSON object"):
        load_card(tmp_path)


def test_the_shipped_card_keeps_headline_rows_and_the_history_lives_in_the_docs():
    from hybridsearch.encoder import bundled_model_dir
    from conftest import REPO

    card = load_card(bundled_model_dir())
    runs = [r["run"] for r in card.evaluation]
    assert len(runs) <= 8 and {"base", "hybrid-e5-small"} <= set(runs)
    history = (REPO / "docs" / "training.md").read_text(encoding="utf-8")
    assert "## Experiment history" in history and "| hn-b128-lr1e-5-t01 |" in history
