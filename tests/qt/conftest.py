"""Fixtures for the desktop app tests: isolated settings, a library service, documents, openUrl spy."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

# The offscreen platform's default screen is 800x800; give it a desktop-sized one so that window
# geometry is not clamped.
if os.environ.get("QT_QPA_PLATFORM", "offscreen") == "offscreen":
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={Path(__file__).with_name('offscreen-screen.json')}"
os.environ.setdefault("HYBRIDSEARCH_CHECKPOINT_S", "0.5")

DOCS = {
    "en/photosynthesis.txt": "Photosynthesis is the process by which green plants use sunlight, water and carbon "
                             "dioxide to produce glucose and oxygen. It takes place in the chloroplasts.",
    "de/bahn.txt": "Die Deutsche Bahn betreibt Hochgeschwindigkeitszüge zwischen Berlin und München. Der ICE "
                   "erreicht Geschwindigkeiten von bis zu dreihundert Kilometern pro Stunde.",
    "de/kaffee.txt": "Kaffee wird aus den gerösteten Bohnen des Kaffeestrauchs gebrüht. Die größten Erzeuger "
                     "sind Brasilien, Vietnam und Kolumbien.",
    "zh/panda.txt": "大熊猫是中国特有的熊科动物，主要生活在四川的山区竹林中，以竹子为主要食物。",
    "ru/volga.txt": "Волга — самая длинная река в Европе. Она впадает в Каспийское море.",
    "ar/desert.txt": "الصحراء الكبرى هي أكبر صحراء حارة في العالم وتقع في شمال أفريقيا.",
    "fr/fromage.txt": "Le fromage est fabriqué à partir du lait caillé. La France produit plus de mille "
                      "variétés de fromage.",
}


@pytest.fixture
def settings(tmp_path):
    from PySide6.QtCore import QSettings

    from hybridsearch.qt.settings import Settings

    return Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def docs_dir(tmp_path) -> Path:
    root = tmp_path / "docs"
    for rel, text in DOCS.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def opened(monkeypatch) -> list[str]:
    """Record QDesktopServices.openUrl calls instead of launching applications."""
    from PySide6.QtGui import QDesktopServices

    calls: list[str] = []

    def fake(url):
        calls.append(url.toLocalFile())
        return True
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(fake))
    return calls


@pytest.fixture
def make_window(qtbot, settings, tmp_path):
    """Build a MainWindow on an isolated library with the given encoder; closed at teardown."""
    from hybridsearch.qt.library_service import LibraryService
    from hybridsearch.qt.main_window import MainWindow

    windows = []

    def make(encoder=None, catch_up=False):
        service = LibraryService(root=tmp_path / "library", model="base", encoder=encoder)
        # no encoder: the test does not search, so do not load a real model in the background
        w = MainWindow(service=service, settings=settings, catch_up=catch_up, preload_model=encoder is not None)
        qtbot.addWidget(w)
        w.show()
        windows.append(w)
        return w
    yield make
    for w in windows:
        w.close()


@pytest.fixture
def qa_file(tmp_path) -> Path:
    """A small valid parallel QA file (JSON Lines): 12 ids in en/de/fr."""
    facts = [
        ("What colour is the sky?", "The sky is blue.", "Welche Farbe hat der Himmel?", "Der Himmel ist blau.",
         "De quelle couleur est le ciel ?", "Le ciel est bleu."),
        ("What do cows drink?", "Cows drink water.", "Was trinken Kühe?", "Kühe trinken Wasser.",
         "Que boivent les vaches ?", "Les vaches boivent de l'eau."),
        ("Where is Paris?", "Paris is in France.", "Wo liegt Paris?", "Paris liegt in Frankreich.",
         "Où est Paris ?", "Paris est en France."),
        ("How many legs does a spider have?", "A spider has eight legs.", "Wie viele Beine hat eine Spinne?",
         "Eine Spinne hat acht Beine.", "Combien de pattes a une araignée ?", "Une araignée a huit pattes."),
        ("What is ice?", "Ice is frozen water.", "Was ist Eis?", "Eis ist gefrorenes Wasser.",
         "Qu'est-ce que la glace ?", "La glace est de l'eau gelée."),
        ("Who wrote Faust?", "Goethe wrote Faust.", "Wer schrieb Faust?", "Goethe schrieb Faust.",
         "Qui a écrit Faust ?", "Goethe a écrit Faust."),
        ("What do bees make?", "Bees make honey.", "Was machen Bienen?", "Bienen machen Honig.",
         "Que font les abeilles ?", "Les abeilles font du miel."),
        ("When does the sun rise?", "The sun rises in the morning.", "Wann geht die Sonne auf?",
         "Die Sonne geht am Morgen auf.", "Quand le soleil se lève-t-il ?", "Le soleil se lève le matin."),
        ("What is the capital of Italy?", "Rome is the capital of Italy.", "Was ist die Hauptstadt Italiens?",
         "Rom ist die Hauptstadt Italiens.", "Quelle est la capitale de l'Italie ?",
         "Rome est la capitale de l'Italie."),
        ("What do cats chase?", "Cats chase mice.", "Was jagen Katzen?", "Katzen jagen Mäuse.",
         "Que chassent les chats ?", "Les chats chassent les souris."),
        ("How cold is snow?", "Snow is cold.", "Wie kalt ist Schnee?", "Schnee ist kalt.",
         "Quelle est la température de la neige ?", "La neige est froide."),
        ("What do fish need?", "Fish need water.", "Was brauchen Fische?", "Fische brauchen Wasser.",
         "De quoi les poissons ont-ils besoin ?", "Les poissons ont besoin d'eau."),
    ]
    lines = []
    for i, (qe, ae, qd, ad, qf, af) in enumerate(facts):
        for lang, q, a in (("en", qe, ae), ("de", qd, ad), ("fr", qf, af)):
            lines.append(json.dumps({"id": f"q{i}", "lang": lang, "question": q, "answer": a},
                                    ensure_ascii=False))
    p = tmp_path / "qa.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


@pytest.fixture
def bad_qa_file(tmp_path) -> Path:
    p = tmp_path / "bad.jsonl"
    p.write_text('{"id": "a", "lang": "en", "question": "Q?", "answer": "A."}\n'
                 '{"id": "a", "lang": "de", "question": "F?"}\n'
                 'this is not json\n'
                 '{"id": "b", "lang": "en", "question": "", "answer": "B."}\n', encoding="utf-8")
    return p


def fake_metrics(langs=("de", "en", "fr"), base=0.5) -> dict:
    """A flat metrics dict shaped like trainer.evaluate's output."""
    m = {"map": base, "mono_mrr": base + 0.2, "cross_mrr": base - 0.1, "mono_r1": 0.6, "mono_r10": 0.9,
         "cross_r1": 0.4, "cross_r10": 0.8, "rank_distance": 4.0, "qlf_rate": 0.6,
         "n_queries": 30.0, "n_languages": float(len(langs))}
    for i, x in enumerate(langs):
        m[f"{x}_map"] = base + 0.05 * i
        m[f"{x}_mono_mrr"] = base + 0.2
        m[f"{x}_cross_mrr"] = base - 0.1 + 0.02 * i
        m[f"{x}_rank_distance"] = 3.0 + i
        m[f"{x}_qlf_rate"] = 0.5 + 0.1 * i
        for y in langs:
            m[f"{x}_{y}_mrr"] = 0.9 if x == y else 0.3 + 0.1 * i
    return m
