"""Evaluation page: held-out data by default, a warning on overlap with training data, one
progress over every model (defect 9), model lists that say what a model is (defect 10)."""

from __future__ import annotations

from pathlib import Path

import pytest

XQUAD = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "xquad-r"


@pytest.mark.skipif(not XQUAD.is_dir(), reason="XQuAD-R data not present")
def test_evaluation_defaults_to_held_out_articles_and_warns_on_training_data(qtbot, settings):
    from hybridsearch.encoder import bundled_model_dir
    from hybridsearch.qt.evaluation_page import EvaluationPage

    page = EvaluationPage(settings)
    qtbot.addWidget(page)
    page.resize(1024, 640)
    page.show()
    default = "hybrid-e5-small" if bundled_model_dir() is not None else "base"
    assert page.selected_models() == [default]  # the model search uses, not base
    page.path_edit.setText(str(XQUAD))
    assert page.articles.text() == "28-35" and page.articles.isEnabled()
    if default == "hybrid-e5-small":
        assert not page.overlap.isVisible()
        page.articles.setText("0-3, 30")
        assert page.overlap.isVisible() and "articles 0-3" in page.overlap.text()
        assert "30" not in page.overlap.text().split("articles")[1].split(".")[0]
        page.articles.setText("all")
        assert "0-27" in page.overlap.text()
    page.articles.setText("28-35")
    assert not page.overlap.isVisible()


def test_progress_covers_every_model(monkeypatch):
    import trainer.evaluate as te
    from hybridsearch.progress import Progress
    from trainer.evaluation_run import evaluate_models

    def fake(name, data, on_progress=None, cancel=None, **kw):
        for d in range(0, 101, 25):
            on_progress(Progress("evaluate", d, 100))
        return {"map": 0.5}
    monkeypatch.setattr(te, "evaluate_model", fake)
    seen = []
    out = evaluate_models(["a", "b", "c"], data=None, labels={"a": "A", "b": "B", "c": "C"},
                          report=lambda p: seen.append((p.done / p.total, p.message)))
    assert list(out) == ["A", "B", "C"]
    after_first = [f for f, m in seen if m.startswith("Model 1/3")]
    assert max(after_first) <= 1 / 3 + 1e-9  # not 100 % after model 1 of 3
    assert seen[-1][0] == 1.0 and [f for f, _ in seen] == sorted(f for f, _ in seen)


def test_trained_models_are_named_by_what_they_are(tmp_path):
    import json

    from hybridsearch import paths
    from hybridsearch.qt.models import delete_model, rename_model, trained_models

    d = paths.models_dir() / "trained-20261122-045800"
    d.mkdir(parents=True)
    (d / "overlay.safetensors").write_bytes(b"x")
    (d / "hybridsearch.json").write_text(json.dumps({"data": "/data/qa-small.jsonl", "recipe": {"steps": 300}}))
    [(label, path)] = trained_models()
    assert label == "trained 11-22 04:58 (trained: qa-small.jsonl, 300 steps)" and path == str(d)
    rename_model(str(d), "legal Q&A")
    assert trained_models()[0][0].startswith("legal Q&A (trained")
    delete_model(str(d))
    assert trained_models() == [] and not d.exists()


def test_manage_trained_models_renames_and_deletes(make_window, qtbot):
    import json

    from hybridsearch import paths

    d = paths.models_dir() / "trained-20261201-101500"
    d.mkdir(parents=True)
    (d / "overlay.safetensors").write_bytes(b"x")
    (d / "hybridsearch.json").write_text(json.dumps({"recipe": {"steps": 50}}))
    w = make_window()
    dlg = w.manage_models()
    qtbot.addWidget(dlg)
    assert dlg.list.count() == 1 and "50 steps" in dlg.list.item(0).text()
    dlg.rename(str(d), "medical FAQ")
    assert dlg.list.item(0).text().startswith("medical FAQ")
    assert any(w.evaluation_page.models.item(i).text().startswith("medical FAQ")
               for i in range(w.evaluation_page.models.count()))
    dlg.delete(str(d))
    assert dlg.list.count() == 0 and not d.exists()
