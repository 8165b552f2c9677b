"""``scripts/ship_model.py``: shipping a trained run writes the bundled model's card through
``encoder.card``, keeping the evaluation table as the user asked."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from hybridsearch.encoder.card import load_card, save_card
from hybridsearch.records import SUMMARY_KEYS

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ship_model.py"


@pytest.fixture
def ship(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("ship_model", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setattr(mod, "REPO", tmp_path)
    monkeypatch.setattr(mod, "TARGET", tmp_path / "bundled")
    mod.TARGET.mkdir()
    return mod


def metrics(x: float) -> dict:
    return {k: x for k in SUMMARY_KEYS}


def make_run(path: Path, recipe: dict) -> Path:
    path.mkdir(parents=True)
    (path / "overlay.safetensors").write_bytes(b"\0" * 1000)
    save_card(path, {"name": "run", "recipe": recipe, "best_step": 300})
    return path


def test_a_continuation_keeps_the_bundled_table_and_replaces_re_measured_rows(tmp_path, ship, capsys):
    save_card(ship.TARGET, {"name": "hybrid-e5-small", "recipe": {"steps": 1000}, "evaluation_note": "old note",
                            "evaluation": [{"run": "base", "map": 0.3}, {"run": "first", "map": 0.6}]})
    run = make_run(tmp_path / "cont", {"model": "default", "steps": 200, "lr": 1e-5})
    table = tmp_path / "table.json"
    table.write_text(json.dumps({"first": {"metrics": metrics(0.61)}, "cont": {"metrics": metrics(0.7),
                                                                              "recipe": {"lr": 1e-5}}}))
    report = tmp_path / "dev.json"
    report.write_text(json.dumps({"metrics": metrics(0.71)}))
    assert ship.main([str(run), "--table", str(table), "--report", f"cont-runtime={report}", "--note", "n"]) == 0
    card = load_card(ship.TARGET)
    assert [(r["run"], r["map"]) for r in card.evaluation] == [
        ("base", 0.3), ("first", 0.61), ("cont", 0.7), ("cont-runtime", 0.71)]
    assert card.evaluation[2]["lr"] == 1e-5 and card.evaluation[3]["measured"] == "runtime"
    assert card.trained_from["recipe"] == {"steps": 1000} and card.recipe["model"] == "default"
    assert card.evaluation_note.startswith("old note; rows after 'first' come from continuation runs")
    assert card.evaluation_note.endswith("; n") and card.language_offset is None
    assert (ship.TARGET / "overlay.safetensors").stat().st_size == 1000
    assert "shipped" in capsys.readouterr().out


def test_a_run_from_the_base_starts_a_new_table(tmp_path, ship):
    save_card(ship.TARGET, {"name": "hybrid-e5-small", "evaluation": [{"run": "old", "map": 0.5}]})
    run = make_run(tmp_path / "fresh", {"model": "base", "steps": 100})
    table = tmp_path / "table.json"
    table.write_text(json.dumps({"fresh": {"metrics": metrics(0.65)}}))
    assert ship.main([str(run), "--table", str(table)]) == 0
    card = load_card(ship.TARGET)
    assert [r["run"] for r in card.evaluation] == ["fresh"] and card.trained_from is None
    assert ship.main([str(run), "--table", str(table), "--keep-evaluation"]) == 0  # the table so far kept
    assert [r["run"] for r in load_card(ship.TARGET).evaluation] == ["fresh"]


def test_a_folder_that_is_not_a_run_is_refused_clearly(tmp_path, ship, capsys):
    (tmp_path / "nothing").mkdir()
    assert ship.main([str(tmp_path / "nothing")]) == 2
    assert "holds no overlay.safetensors" in capsys.readouterr().err
    run = make_run(tmp_path / "run", {"model": "default"})
    (ship.TARGET / "hybridsearch.json").write_text("{not json")
    assert ship.main([str(run)]) == 2
    assert "unreadable" in capsys.readouterr().err
    assert not (ship.TARGET / "overlay.safetensors").exists()
