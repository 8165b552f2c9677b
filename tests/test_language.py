"""Language identification: py3langid's model cached as plain arrays gives the same answers, fast."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import XQUAD_DIR

from hybridsearch import documents, language, paths

XQUAD_LANGS = ["ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"]
OTHERS = {"fr": "Le chat dort sur le canapé pendant que la pluie tombe sur la ville.",
          "ja": "東京は日本の首都であり、世界で最も人口の多い都市圏の一つです。",
          "ko": "서울은 대한민국의 수도이며 가장 큰 도시입니다.",
          "pl": "Warszawa jest stolicą Polski i największym miastem w kraju.",
          "nl": "De kat slaapt op de bank terwijl het buiten regent."}


def _samples() -> list[tuple[str, str]]:
    out = [(lang, text) for lang, text in OTHERS.items()]
    for lang in XQUAD_LANGS:
        data = json.loads((XQUAD_DIR / f"{lang}.json").read_text(encoding="utf-8"))["data"]
        for para in [p for art in data[:3] for p in art["paragraphs"][:3]]:
            out.append((lang, para["context"]))
            out += [(lang, qa["question"]) for qa in para["qas"][:2]]  # short, like a query
    return out


@pytest.fixture
def fresh(monkeypatch):
    """A process that has not loaded the identifier yet."""
    monkeypatch.setattr(language, "_identifier", None)


@pytest.mark.skipif(not XQUAD_DIR.is_dir(), reason="XQuAD-R data not available")
def test_the_cached_model_classifies_exactly_like_py3langid_and_is_reused(fresh, monkeypatch):
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    reference = LanguageIdentifier.from_model_file(MODEL_FILE)
    samples = _samples()
    first = language.identifier()  # builds the cache
    folder = language.cache_path()
    assert folder.parent.parent == paths.cache_dir()
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{n}.npy" for n in language._ARRAYS)
    for p in folder.iterdir():  # plain arrays, loadable without pickle
        np.load(p, allow_pickle=False)

    # a new process maps the cached arrays and never decompresses the package's model
    monkeypatch.setattr(language, "_identifier", None)
    monkeypatch.setattr(language, "_build_cache", lambda folder: pytest.fail("cache not reused"))
    cached = language.identifier()
    assert cached is not first
    assert isinstance(cached.nb_ptc, np.memmap)
    for lang, text in samples:
        want = reference.classify(text)
        assert first.classify(text) == want, (lang, text)
        assert cached.classify(text) == want, (lang, text)
        assert cached.rank(text)[:3] == reference.rank(text)[:3]
    contexts = [(lang, t) for lang, t in samples if len(t) > 200]
    right = sum(documents.detect_language(t) == lang for lang, t in contexts)
    assert right >= 0.95 * len(contexts)


def test_a_new_py3langid_version_rebuilds_the_cache_and_drops_the_old_one(fresh, monkeypatch):
    language.identifier()
    old = language.cache_path()
    assert old.is_dir()
    version, model = language._package_model()
    monkeypatch.setattr(language, "_package_model", lambda: (version + ".post1", model))
    monkeypatch.setattr(language, "_identifier", None)
    new = language.cache_path()
    assert new != old
    assert documents.detect_language("Das ist ein ganz normaler deutscher Satz über das Wetter.") == "de"
    assert new.is_dir() and not old.exists()


def test_a_damaged_cache_is_rebuilt_and_an_unusable_one_falls_back_to_py3langid(fresh, monkeypatch):
    language.identifier()
    folder = language.cache_path()
    (folder / "nextmove.npy").write_bytes(b"\x93NUMPY garbage")
    monkeypatch.setattr(language, "_identifier", None)
    assert documents.detect_language("Это обычное русское предложение о погоде в Москве.") == "ru"
    np.load(folder / "nextmove.npy", mmap_mode="r", allow_pickle=False)  # rewritten whole

    def broken(*a):
        raise OSError("disk on fire")

    monkeypatch.setattr(language, "_identifier", None)
    monkeypatch.setattr(language, "cache_path", broken)
    assert documents.detect_language("Ceci est une phrase française tout à fait ordinaire.") == "fr"


@pytest.mark.parametrize("text, variety, lang", [
    ("哪个队赢得了比赛？", "wuu", "zh"),  # an everyday Mandarin question
    ("著名校友包括：约翰·史密斯、玛丽·琼斯、彼得·布朗、安娜·怀特。", "wuu", "zh"),
])
def test_a_variety_of_a_language_is_that_language(text, variety, lang):
    # py3langid has classes for Wu Chinese, Egyptian Arabic and other varieties; a library's
    # Chinese is one language in its filters and its ranking
    assert language.classify(text) == variety
    assert documents.detect_language(text) == lang == language.query_language(text)
