"""How well a result matches, in words a person reads: strong, good or weak ("no good match").

Fused rank scores (reciprocal rank fusion: 0.015-0.021 for every result) say nothing about how well
a document answers; a nonsense query still gets 20 "results". Strength comes instead from two
pieces of absolute evidence about the result's best passage:

* the dense cosine between the query and the passage (its stored vector), against thresholds
  chosen per model on XQuAD-R articles 0-27 and read on articles 28-35 by
  ``python -m benchmarks.match_strength`` (the numbers are in :data:`CALIBRATED`);
  a cosine below the weak line still counts as good when it stands the calibrated margin above
  what the same query scores with :data:`BACKGROUND`, a fixed set of everyday passages that answer
  nothing (some queries score high with any text, others low: this is the query's own baseline);
* keyword evidence: the share of the query's keywords that the passage holds as whole words.

None of it depends on the other results: a result is rated the same in a library of 5 documents
as in one of 50,000. (How far a cosine stands out from the other results is no such evidence: in
a small library every other document is unrelated, so an unrelated best one stands out too.)

In: the library, the query, the results of ``Library.search``. Out: one :class:`Rating` per result.
No Qt here; the desktop app renders the ratings.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hybridsearch.errors import HybridSearchError

STRONG, GOOD, WEAK = "strong", "good", "weak"


@dataclass(frozen=True)
class Thresholds:
    """Cosine lines of one model: below ``weak`` a match is weak unless it stands ``margin`` above
    the query's baseline (its median cosine with :data:`BACKGROUND`); from ``strong`` on it is strong."""

    weak: float
    strong: float
    margin: float


#: ``python -m benchmarks.match_strength --model NAME``: ``weak`` best separates questions whose
#: answer is in the library from questions whose answer is not (Youden's J on articles 0-27);
#: ``strong`` is the 99th percentile of the best cosine when the answer is not there; ``margin``
#: the 97th percentile of how far that best cosine stands above the query's baseline. Held out
#: (articles 28-35, 600 questions in en/de/zh over passages in 6 languages): bundled model 81.8 %
#: of present answers good or strong, 97.0 % of absent ones "no good match" (99.9 % in libraries of
#: 5 documents), 0.3 % of absent ones strong; base model 77.8 %, 92.5 % (99.8 %), 0.8 %. Nonsense
#: queries stay weak.
CALIBRATED = {
    "hybrid-e5-small": Thresholds(weak=0.866, strong=0.879, margin=0.134),
    "multilingual-e5-small": Thresholds(weak=0.863, strong=0.876, margin=0.143),
}
#: A model without its own calibration (one trained here) uses the bundled model's lines.
FALLBACK = CALIBRATED["hybrid-e5-small"]


@dataclass(frozen=True)
class Rating:
    """How one result matches: ``level`` (strong/good/weak), and the evidence behind it."""

    level: str
    cosine: float | None          # None when no vector was available (keyword search, no model)
    keyword_share: float          # share of the query's keywords found in the passage, 0..1
    above_baseline: float | None = None  # cosine less the query's median cosine with BACKGROUND

    @property
    def label(self) -> str:
        return f"{self.level} match"

    def explain(self) -> str:
        """The evidence in one line, for a tooltip."""
        parts = []
        if self.cosine is not None:
            parts.append(f"meaning similarity {self.cosine:.2f}")
        if self.above_baseline is not None:
            parts.append(f"{self.above_baseline:+.2f} against unrelated text")
        parts.append(f"{round(100 * self.keyword_share)} % of the keywords")
        return " · ".join(parts)


def thresholds_for(model_name: str | None) -> Thresholds:
    return CALIBRATED.get(model_name or "", FALLBACK)


def rate(cosine: float | None, keyword_share: float, th: Thresholds, above_baseline: float | None = None) -> str:
    """strong / good / weak from the cosine against the model's lines (or how far it stands above
    the query's baseline); every keyword present lifts a result one level."""
    if cosine is None:
        return GOOD if keyword_share >= 1.0 else WEAK
    level = STRONG if cosine >= th.strong else GOOD if cosine >= th.weak else WEAK
    if level == WEAK and above_baseline is not None and above_baseline >= th.margin:
        level = GOOD
    if keyword_share >= 1.0 and level != STRONG:
        level = GOOD if level == WEAK else STRONG
    return level


def keyword_share(text: str, query: str) -> float:
    """The share of the query's keywords that ``text`` holds (whole words; runs in scripts without
    spaces), by the engine's own tokenising."""
    from hybridsearch.lexical import lexical_tokens
    from hybridsearch.snippets import highlight_spans, query_terms

    terms = query_terms(query)  # without "what", "is", "ist"... beside words that say something
    words = {t for t in terms if not t.startswith("\x00")}
    if not terms:
        return 0.0
    found = {t for t, _, _ in lexical_tokens(text)} & words
    runs = [t for t in terms if t.startswith("\x00")]
    if runs and highlight_spans(text, set(runs)):
        found |= set(runs)
    return len(found) / max(1, len(words) + len(runs))


def _unit(vecs) -> np.ndarray:
    vecs = np.asarray(vecs, np.float32)
    return vecs / np.maximum(np.linalg.norm(vecs, axis=-1, keepdims=True), 1e-12)


def query_vector(encoder, query: str) -> np.ndarray:
    """The query's unit vector (from the search's cache: the search has just encoded it)."""
    from hybridsearch.lexical import parse_query
    from hybridsearch.search import QUERY_VECTORS

    return _unit(QUERY_VECTORS.get(encoder, parse_query(query).dense_text))


def passage_cosines(lib, query: str, chunk_ids: list[int]) -> list[float] | None:
    """Cosine of the query to each chunk's stored vector; None when the index has no vectors."""
    ann = lib.vectors.ann
    if ann is None or not chunk_ids:
        return None
    try:
        vecs = ann.get(chunk_ids)
    except RuntimeError:  # a chunk whose vector is not stored yet (indexing, repair pending)
        return None
    return [float(x) for x in _unit(vecs) @ query_vector(lib.encoder, query)]


#: Everyday passages in the languages of XQuAD-R (and a few more) that answer no question anyone
#: searches for: a query's median cosine with them is its baseline, what it scores with any text.
BACKGROUND = (
    "The meeting was moved to Thursday afternoon because two members of the committee were travelling.",
    "Add the flour slowly and stir until the dough no longer sticks to the sides of the bowl.",
    "The bus to the city centre leaves every twenty minutes from the stop opposite the library.",
    "Please return the completed form by the end of the month, signed on the last page.",
    "Der Zug nach Hamburg hatte heute Morgen zwanzig Minuten Verspätung wegen einer Weichenstörung.",
    "Im Herbst werden die Beete umgegraben und mit Kompost aus dem eigenen Garten gedüngt.",
    "Die Mitgliederversammlung des Sportvereins findet im Saal des Gemeindehauses statt.",
    "El mercado del barrio abre los sábados por la mañana y vende frutas, verduras y pan fresco.",
    "Para renovar el pasaporte hay que pedir cita previa y llevar una fotografía reciente.",
    "El equipo local ganó el partido en los últimos minutos gracias a un gol de cabeza.",
    "La bibliothèque municipale prolonge ses horaires d'ouverture pendant la période des examens.",
    "Il faut laisser reposer la pâte une heure au frais avant de l'étaler.",
    "Les travaux sur le pont commenceront au printemps et dureront environ six mois.",
    "Собрание жильцов дома перенесли на следующую неделю из-за праздников.",
    "Летом мы обычно ездим на дачу и собираем ягоды в лесу.",
    "Магазин на углу теперь работает круглосуточно, кроме воскресенья.",
    "会议改在星期四下午举行，因为有两位委员正在出差。",
    "这家餐馆的面条很有名，周末常常需要排队。",
    "请在月底之前把填好的表格交回办公室。",
    "يفتح السوق الأسبوعي أبوابه صباح يوم الجمعة ويبيع الخضروات والفواكه الطازجة.",
    "تأخرت الرحلة ساعتين بسبب سوء الأحوال الجوية في المطار.",
    "Το λεωφορείο για το κέντρο της πόλης περνάει κάθε είκοσι λεπτά.",
    "Toplantı, iki üyenin seyahatte olması nedeniyle perşembe öğleden sonraya ertelendi.",
    "Chợ phiên mở cửa vào sáng thứ bảy và bán rau, trái cây và bánh mì tươi.",
    "पुस्तकालय परीक्षा के दिनों में देर रात तक खुला रहता है।",
    "รถประจำทางไปใจกลางเมืองออกทุกยี่สิบนาที",
    "図書館は試験期間中、開館時間を延長します。",
)
_background: dict[str, np.ndarray] = {}
_background_lock = threading.Lock()


def _background_file(encoder) -> Path | None:
    """Where :data:`BACKGROUND`'s vectors by ``encoder``'s model are kept between processes (a
    command-line search would otherwise encode 27 passages each time); None without an identity."""
    from hybridsearch import paths

    identity = getattr(encoder, "identity", None)
    if not identity:
        return None
    texts = hashlib.sha256("\n".join(BACKGROUND).encode("utf-8")).hexdigest()[:10]
    return paths.cache_dir() / "baseline" / f"{identity}-{texts}.npy"


def _load_background(path: Path | None, dim: int | None) -> np.ndarray | None:
    if path is None or not path.is_file():
        return None
    try:
        vecs = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None  # damaged: encoded again and rewritten
    ok = vecs.dtype == np.float32 and vecs.shape == (len(BACKGROUND), dim or vecs.shape[-1])
    return vecs if ok else None


def _save_background(path: Path | None, vecs: np.ndarray) -> None:
    from hybridsearch import atomic

    if path is None:
        return
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.save(fh, vecs, allow_pickle=False)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_file(path, write)
    except OSError:
        pass  # a full or read-only disk: encoded again next time


def background_vectors(encoder) -> np.ndarray:
    """:data:`BACKGROUND` encoded as passages by ``encoder`` (once per model: kept in memory and
    in the cache directory), unit length."""
    key = getattr(encoder, "identity", None) or str(id(encoder))
    with _background_lock:
        vecs = _background.get(key)
    if vecs is None:
        path = _background_file(encoder)
        vecs = _load_background(path, getattr(encoder, "dim", None))
        if vecs is None:
            vecs = _unit(encoder.encode(list(BACKGROUND), kind="passage"))
            _save_background(path, vecs)
        with _background_lock:
            _background[key] = vecs
    return vecs


def baseline(encoder, query_vec) -> float:
    """What the query scores with text that answers nothing: its median cosine with :data:`BACKGROUND`."""
    return float(np.median(background_vectors(encoder) @ np.asarray(query_vec, np.float32)))


def rate_results(lib, query: str, results, use_vectors: bool = True) -> list[Rating]:
    """One :class:`Rating` per result of ``Library.search``.

    The meaning evidence is the best cosine among the document's matching passages, not only the
    one shown first: the shown passage is chosen by fused rank, and a passage that repeats the
    query's names can lead there while another passage answers the question (an English question
    over a German library showed "no good match" for the right document). The thresholds were set
    on the best cosine of a pool, so this is the quantity they were calibrated for.
    """
    if not results:
        return []
    cosines = None
    if use_vectors:
        ids = [[p.chunk_id for p in (r.best, *getattr(r, "more", ()))] for r in results]
        flat = passage_cosines(lib, query, [c for group in ids for c in group])
        if flat is not None:
            it = iter(flat)
            cosines = [max(next(it) for _ in group) for group in ids]
    th = thresholds_for(getattr(lib.encoder, "name", None) if use_vectors else None)
    base = baseline(lib.encoder, query_vector(lib.encoder, query)) if cosines is not None else None
    out = []
    for i, r in enumerate(results):
        cos = cosines[i] if cosines is not None else None
        above = cos - base if cos is not None and base is not None else None
        # a file whose name (or folder's name) holds the keywords matches them too
        name = " ".join(str(r.path).replace("\\", "/").split("/")[-2:])
        share = max(keyword_share(r.best.text, query), keyword_share(name, query))
        out.append(Rating(rate(cos, share, th, above), cos, share, above))
    return out


@dataclass(frozen=True)
class RatedSearch:
    """What a person is shown for a query: the results, their ratings, and the spelling help.

    ``query``: the query the results are for; ``typed``: the query as typed. They differ when the
    typed query matched nothing well and its spelling suggestion did: the results are then the
    suggestion's ("Showing results for …; search instead for …"). ``suggestion``: a spelling to
    offer as a link ("Did you mean …?"), None when there is none or when it was searched already.
    """

    query: str
    typed: str
    results: list
    ratings: list[Rating]
    suggestion: str | None = None

    @property
    def corrected(self) -> bool:
        return self.query != self.typed


def any_good(ratings) -> bool:
    return any(r.level in (STRONG, GOOD) for r in ratings)


def rated_search(lib, query: str, correct: bool = True, **kwargs) -> RatedSearch:
    """``lib.search(query, **kwargs)`` with each result rated, and spelling help: when nothing
    matches ``query`` well and its spelling suggestion (``lib.spelling_suggestion``) has a good or
    strong match, the suggestion's results are returned instead (``correct=False``: never)."""
    use_vectors = kwargs.get("mode", "hybrid") != "lexical"
    results = lib.search(query, **kwargs)
    ratings = rate_results(lib, query, results, use_vectors=use_vectors)
    try:
        suggestion = lib.spelling_suggestion(query)
    except (HybridSearchError, sqlite3.Error, OSError):
        suggestion = None  # a suggestion is a help; the results stand without it
    if suggestion and correct and not any_good(ratings):
        fixed = lib.search(suggestion, **kwargs)
        fixed_ratings = rate_results(lib, suggestion, fixed, use_vectors=use_vectors)
        if any_good(fixed_ratings):
            return RatedSearch(suggestion, query, fixed, fixed_ratings)
    return RatedSearch(query, query, results, ratings, suggestion)
