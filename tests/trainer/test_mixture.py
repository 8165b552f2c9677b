"""Training and evaluating on a mixture of sources (``--source``), on tiny files and a tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hybridsearch.cli import main
from hybridsearch.errors import DataError
from trainer.qa.mixture import load_mixture, parse_source

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "resources" / "examples" / "qa-example.jsonl"


def bitext_folder(root: Path, n: int = 12) -> Path:
    d = root / "news"
    d.mkdir()
    words = ["sun", "rain", "river", "stone", "bread", "train", "music", "winter", "garden", "letter", "bridge", "clock"]
    for code, fmt in (("eng", "The {} is here."), ("deu", "Der {} ist hier."), ("spa", "El {} está aquí.")):
        (d / f"ref.{code}.txt").write_text("\n".join(fmt.format(w) for w in words[:n]) + "\n", encoding="utf-8")
    return d


def mintaka_file(root: Path) -> Path:
    items = [{"id": f"m{i}", "question": f"Who wrote book {i}?",
              "translations": {"de": f"Wer schrieb Buch {i}?", "es": f"¿Quién escribió el libro {i}?"}}
             for i in range(10)]
    p = root / "mintaka.json"
    p.write_text(json.dumps(items), encoding="utf-8")
    return p


def test_source_specs_parse_kind_selector_and_weight():
    s = parse_source("question-question=../data/mlqa-test:0.5")
    assert (s.kind, s.path, s.weight) == ("question-question", "../data/mlqa-test", 0.5)
    s = parse_source("../shared/data/xquad-r#0-27")
    assert (s.kind, s.path, s.weight) == (None, "../shared/data/xquad-r#0-27", 1.0)
    with pytest.raises(DataError, match="unknown kind"):
        parse_source("answers=x.jsonl")
    with pytest.raises(DataError, match="0 or more"):
        parse_source("x.jsonl:-1")


def test_mixture_loads_each_source_with_its_kind_and_refuses_held_out_splits(tmp_path):
    news, mk = bitext_folder(tmp_path), mintaka_file(tmp_path)
    m = load_mixture([str(EXAMPLE), f"{news}:2", f"question-question={EXAMPLE}:0.5", str(mk)])
    assert [ps.kind for ps in m.sources] == ["qa-sentence", "bitext", "question-question", "question-question"]
    assert [row["share"] for row in m.summary()] == [1 / 4.5, 2 / 4.5, 0.5 / 4.5, 1 / 4.5]
    with pytest.raises(DataError, match="allows"):
        load_mixture([f"qa-paragraph={mk}"])
    for name in ("deu_Latn", "eng_Latn"):
        (tmp_path / "fl" / name).mkdir(parents=True)
        (tmp_path / "fl" / name / "test.tsv").write_text("index_id\tcategory\ttext\n1\tx\tA.\n2\tx\tB.\n")
    with pytest.raises(DataError, match="held out"):
        load_mixture([f"{tmp_path / 'fl'}#test"])


def test_train_on_a_mixture_changes_the_weights_and_chooses_on_bitext(tmp_path, tiny_model_dir, capsys):
    from safetensors.torch import load_file

    news, mk = bitext_folder(tmp_path), mintaka_file(tmp_path)
    out = tmp_path / "model"
    rc = main(["train", "--source", str(EXAMPLE), "--source", f"{news}:2", "--source", f"{mk}:0.5",
               "--eval-data", str(news), "--out", str(out), "--model", str(tiny_model_dir), "--steps", "4",
               "--eval-every", "2", "--batch-size", "4", "--max-length", "32", "--device", "cpu", "--lr", "1e-3"])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "Training mixture: OK" in text and "bitext" in text and "question-question" in text
    assert "translations: pool mAP" in text
    card = json.loads((out / "hybridsearch.json").read_text())
    assert card["recipe"]["sources"] == [str(EXAMPLE), f"{news}:2", f"{mk}:0.5"]
    assert "bitext_map" in card["dev_metrics"] and card["best_step"] in (2, 4)
    overlay = load_file(str(out / "overlay.safetensors"))
    from safetensors import safe_open

    with safe_open(str(tiny_model_dir / "model.safetensors"), "pt") as f:
        key = next(k for k in overlay if "encoder.layer.1" in k and k.endswith("weight"))
        before = f.get_tensor(key if key in f.keys() else f"bert.{key}").half()
    assert not (overlay[key] == before).all()  # training moved the weights


def test_mixture_refuses_the_single_set_loss_terms(tmp_path, tiny_model_dir, capsys):
    rc = main(["train", "--source", str(EXAMPLE), "--out", str(tmp_path / "m"), "--model", str(tiny_model_dir),
               "--steps", "1", "--align-weight", "0.5", "--device", "cpu"])
    assert rc != 0
    assert "not to a mixture" in capsys.readouterr().err


def test_evaluate_bitext_and_paragraphs(tmp_path, tiny_model_dir, capsys):
    news = bitext_folder(tmp_path)
    assert main(["evaluate", str(tiny_model_dir), str(news), "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert 0 <= m["bitext_acc"] <= 1 and 0 < m["bitext_map"] <= 1 and "de_en_bitext_acc" in m
    qa = tmp_path / "qa.jsonl"
    qa.write_text("\n".join(json.dumps({"id": str(i), "lang": l, "question": f"q{i}{l}", "answer": f"a{i}{l}",
                                        "context": f"c{i}{l} a{i}{l}"}) for i in range(4) for l in ("de", "en")))
    assert main(["evaluate", str(tiny_model_dir), str(qa), "--paragraphs", "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["n_queries"] == 8 and 0 < m["map"] <= 1


def test_bitext_accuracy_and_pool_map_by_hand():
    import numpy as np

    from trainer.evaluate import bitext_accuracy

    e = np.eye(3, dtype=np.float32)
    # ids a, b: en and de vectors; b's German is closer to a's English than to b's own
    vecs = {("a", "en"): e[0], ("a", "de"): e[0], ("b", "en"): e[1],
            ("b", "de"): (e[0] * 0.9 + e[1] * 0.1) / np.linalg.norm([0.9, 0.1])}
    m = bitext_accuracy(vecs)
    # en -> de: a finds a (1 > 0.99), b finds b (0.11 > 0); de -> en: b's German finds a's English
    assert m["en_de_bitext_acc"] == 1.0 and m["de_en_bitext_acc"] == 0.5
    assert m["bitext_acc"] == 0.75
    # one pool of the other three texts: b/de ranks a/en and a/de (0.99) above its own b/en (0.11)
    assert m["en_bitext_map"] == 1.0
    assert m["de_bitext_map"] == pytest.approx((1 + 1 / 3) / 2)
