"""Batch samplers for hybrid batch training: X-X, X-Y and hybrid batches of (question, answer) pairs,
and mixture batches over several kinds of positives (:class:`MixtureBatchSampler`).

A batch is a list of ``(id, question_lang, answer_lang)``. No id appears twice in a batch: the
translation of a positive would otherwise be a false in-batch negative. Every sampler is seeded
and reseeds per epoch with ``seed + epoch``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterator, Sequence

from trainer.qa import DataError, PairSet, ParallelQA

Pair = tuple[str, str, str]  # (id, question language, answer language)


class PairBatchSampler:
    """Base: walks the ids in a seeded random order, ``batch_size`` distinct ids per batch."""

    kind = "base"

    def __init__(self, data: ParallelQA, batch_size: int, seed: int = 0):
        if batch_size < 2:
            raise ValueError("batch_size must be at least 2 (in-batch negatives)")
        self.langs_of = {i: sorted(langs) for i, langs in data.by_id.items()}
        self.ids = sorted(self.langs_of)
        self.batch_size = min(batch_size, len(self.ids))
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.ids) // self.batch_size

    def __iter__(self) -> Iterator[list[Pair]]:
        rng = random.Random(self.seed + self.epoch)
        order = self.ids[:]
        rng.shuffle(order)
        for b in range(len(self)):
            yield self.make_batch(order[b * self.batch_size:(b + 1) * self.batch_size], rng)

    def make_batch(self, ids: list[str], rng: random.Random) -> list[Pair]:
        raise NotImplementedError

    # the two kinds of batch, shared by the subclasses
    def monolingual(self, ids: list[str], rng: random.Random) -> list[Pair]:
        """One language drawn per batch; ids without it are swapped for ids that have it."""
        langs = sorted({l for i in ids for l in self.langs_of[i]})
        lang = rng.choice(langs)
        chosen = [i for i in ids if lang in self.langs_of[i]]
        if len(chosen) < len(ids):  # top up from other ids that have this language
            have = set(chosen)
            extra = [i for i in self.ids if lang in self.langs_of[i] and i not in have]
            rng.shuffle(extra)
            chosen += extra[:len(ids) - len(chosen)]
        return [(i, lang, lang) for i in chosen]

    def crosslingual(self, ids: list[str], rng: random.Random) -> list[Pair]:
        """Question and answer languages drawn per pair, always different."""
        out = []
        for i in ids:
            langs = self.langs_of[i]
            if len(langs) < 2:
                continue
            q, a = rng.sample(langs, 2)
            out.append((i, q, a))
        return out


class MonolingualBatchSampler(PairBatchSampler):
    """X-X: every pair of a batch has question and answer in the batch's one language."""

    kind = "xx"

    def make_batch(self, ids, rng):
        return self.monolingual(ids, rng)


class CrossLingualBatchSampler(PairBatchSampler):
    """X-Y: question and answer in different languages, drawn per pair."""

    kind = "xy"

    def make_batch(self, ids, rng):
        return self.crosslingual(ids, rng)


class HybridBatchSampler(PairBatchSampler):
    """Hybrid: each batch is X-X with probability ``alpha``, otherwise X-Y."""

    kind = "hybrid"

    def __init__(self, data: ParallelQA, batch_size: int, alpha: float = 0.5, seed: int = 0):
        super().__init__(data, batch_size, seed)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], not {alpha}")
        self.alpha = alpha

    def make_batch(self, ids, rng):
        return self.monolingual(ids, rng) if rng.random() < self.alpha else self.crosslingual(ids, rng)


def make_sampler(data: ParallelQA, batch_size: int, alpha: float, seed: int = 0) -> PairBatchSampler:
    """alpha 1 -> X-X only, alpha 0 -> X-Y only, otherwise hybrid."""
    if alpha >= 1.0:
        return MonolingualBatchSampler(data, batch_size, seed)
    if alpha <= 0.0:
        return CrossLingualBatchSampler(data, batch_size, seed)
    return HybridBatchSampler(data, batch_size, alpha, seed)


def _holds_answer(text: str, answers: set[str]) -> bool:
    """An answer of the question, a piece of one, or a sentence holding one."""
    t = text.strip()
    return any(t in a or a in t for a in answers)


class Negatives:
    """Extra negatives per pair (``draw``), and which of them are in fact a pair's own answer."""

    answer: dict[tuple[str, str], str]  # (id, lang) -> answer text

    def draw(self, batch: list[Pair], rng: random.Random) -> list[tuple[str, str]]:
        raise NotImplementedError

    def false_negatives(self, batch: list[Pair], negatives: list[tuple[str, str]]) -> list[list[bool]]:
        """mask[j][h]: negative h is pair j's own answer in h's language (not a negative for j)."""
        return [[self.answer.get((i, lang)) == text for lang, text in negatives] for i, _, _ in batch]


HARD_NEGATIVE_LANGUAGES = ("question", "answer", "both")


class HardNegatives(Negatives):
    """Same-passage hard negatives: for each pair, another sentence of the answer's own passage,
    in the question's language (``language="question"``, the default), in the answer's language
    (``"answer"``) or one in each (``"both"``; one negative when the two languages are the same).

    In-batch negatives are mostly about other topics; the answer's neighbours are about the same
    one. Drawn in the *question's* language, a neighbour is exactly the candidate that outranks a
    correct answer in another language when a model is language-biased. Drawn in the *answer's*
    language, it is the candidate that a cross-lingual search (a pool in that language alone)
    confuses with the answer: the question must then pick the right sentence of the passage
    across languages, not the right passage. Sentences come from the
    data's pool (SQuAD/XQuAD-R layout: the other sentences of the answer's paragraph) or, for QA
    files, from the row's optional ``context`` with the answer left out.
    """

    def __init__(self, data: ParallelQA, language: str = "question"):
        from hybridsearch.documents import split_sentences

        if language not in HARD_NEGATIVE_LANGUAGES:
            raise ValueError(f"hard-negative language must be one of {', '.join(HARD_NEGATIVE_LANGUAGES)}, "
                             f"not {language!r}")
        self.language = language
        self.answer = {(r.id, r.lang): r.answer for r in data.rows}
        by_passage: dict[tuple[str, str], list[str]] = {}
        if data.pool is not None:
            for lang, items in data.pool.items():
                for key, text in items:
                    by_passage.setdefault((lang, key.rsplit(":", 1)[0]), []).append(text)
        self.neighbours: dict[tuple[str, str], list[str]] = {}
        for r in data.rows:
            if data.pool is not None and r.answer_key:
                texts = by_passage.get((r.lang, r.answer_key.rsplit(":", 1)[0]), [])
            else:
                texts = split_sentences(r.context or "")
            texts = [t for t in texts if t.strip() and not _holds_answer(t, {r.answer.strip()})]
            if texts:
                self.neighbours[(r.id, r.lang)] = texts
        if not self.neighbours:
            raise DataError("hard negatives need each answer's passage: give rows a `context` with more "
                            "than the answer sentence, or use the SQuAD/XQuAD-R layout")

    def draw(self, batch: list[Pair], rng: random.Random) -> list[tuple[str, str]]:
        """(language, sentence) per pair and chosen language that has neighbours there."""
        out = []
        for i, ql, al in batch:
            langs = {"question": (ql,), "answer": (al,)}.get(self.language, tuple(dict.fromkeys((ql, al))))
            for lang in langs:
                texts = self.neighbours.get((i, lang))
                if texts:
                    out.append((lang, rng.choice(texts)))
        return out


class MinedNegatives(Negatives):
    """Model-mined hard negatives: for each question, the ``top_k`` candidates the starting model
    ranks highest that are not one of its answers, in any language.

    These are the sentences that push a question's answers down the multilingual pool: in the
    question's own language (the language bias), or about the same topic in another language.
    Candidates are the data's pool (SQuAD/XQuAD-R layout), else every answer and context sentence
    of the file. ``encode(texts, kind)`` returns L2-normalised vectors ([n, d] array).
    ``same_language`` keeps only candidates in the question's language (the language bias's own
    competitors; from any language, most top candidates are the answer's neighbours in translation).
    """

    def __init__(self, data: ParallelQA, encode, top_k: int = 8, same_language: bool = False,
                 chunk: int = 1024):
        from hybridsearch.documents import split_sentences

        import numpy as np

        if top_k < 1:
            raise ValueError("top_k must be at least 1")
        self.answer = {(r.id, r.lang): r.answer for r in data.rows}
        cands: dict[tuple[str, str], None] = {}
        if data.pool is not None:
            for lang, items in data.pool.items():
                for _, text in items:
                    cands[(lang, text)] = None
        else:
            for r in data.rows:
                cands[(r.lang, r.answer)] = None
                for t in split_sentences(r.context or ""):
                    if t.strip():
                        cands[(r.lang, t)] = None
        pool = list(cands)
        answers_of: dict[str, set[str]] = {}
        for r in data.rows:
            answers_of.setdefault(r.id, set()).add(r.answer.strip())
        qv = encode([r.question for r in data.rows], "query")
        cv = encode([t for _, t in pool], "passage")
        self.neighbours: dict[tuple[str, str], list[tuple[str, str]]] = {}
        # more than top_k, so that enough remain after dropping the question's own answers
        want = min(len(pool), (top_k + 2) * len(data.languages) if same_language
                   else top_k + 2 * len(data.languages) + 2)
        for s in range(0, len(data.rows), chunk):
            scores = qv[s:s + chunk] @ cv.T
            top = np.argpartition(-scores, want - 1, axis=1)[:, :want]
            for row, r in enumerate(data.rows[s:s + chunk]):
                order = top[row][np.argsort(-scores[row, top[row]])]
                own = answers_of[r.id]
                picked = [pool[c] for c in order if not _holds_answer(pool[c][1], own)
                          and (not same_language or pool[c][0] == r.lang)][:top_k]
                if picked:
                    self.neighbours[(r.id, r.lang)] = picked
        if not self.neighbours:
            raise DataError("no candidates besides the answers to mine negatives from")

    def draw(self, batch: list[Pair], rng: random.Random) -> list[tuple[str, str]]:
        """One (language, sentence) per pair: one of its question's mined candidates."""
        out = []
        for i, ql, _ in batch:
            cands = self.neighbours.get((i, ql))
            if cands:
                out.append(rng.choice(cands))
        return out


@dataclass(frozen=True)
class MixtureBatch:
    """One batch of a mixture: ``pairs`` of (id, left language, right language), all from the
    source ``source`` (its index in the mixture); ``mode`` is "xx" or "xy"."""

    source: int
    kind: str
    mode: str
    pairs: list[Pair]


class _Cursor:
    """Walks a list in a seeded random order, reshuffling each time it comes round."""

    def __init__(self, items: list, rng: random.Random):
        self.items, self.rng, self.pos = items[:], rng, len(items)

    def take(self):
        if self.pos >= len(self.items):
            self.rng.shuffle(self.items)
            self.pos = 0
        self.pos += 1
        return self.items[self.pos - 1]


class MixtureBatchSampler:
    """Hybrid batches from several pair sets (kinds of positives), each drawn with its weight.

    Every batch comes from one source, chosen with probability proportional to its weight, and
    is X-X with probability ``alpha``, else X-Y:

    - question -> answer / paragraph: X-X is one language for the whole batch (question and
      positive in it), X-Y draws a (question, positive) language pair per id, always different;
    - question <-> question, sentence <-> sentence: a text is never its own positive, so X-X is one
      (x, y) language pair for the whole batch (every negative in the positive's language, as in
      a one-language pool), X-Y draws the pair per id.

    No two ids of one id group are in a batch (:attr:`PairSet.group`). An epoch is
    ``batches_per_epoch`` batches (default: every source's ids once over, at ``batch_size``);
    :meth:`set_epoch` reseeds with ``seed + epoch``, so an epoch is reproducible.
    """

    kind = "mixture"

    def __init__(self, sources: Sequence[PairSet], weights: Sequence[float] | None, batch_size: int,
                 alpha: float = 0.5, seed: int = 0, batches_per_epoch: int | None = None):
        if batch_size < 2:
            raise ValueError("batch_size must be at least 2 (in-batch negatives)")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], not {alpha}")
        weights = [1.0] * len(sources) if weights is None else list(weights)
        if not sources or len(weights) != len(sources) or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError("a mixture needs one weight >= 0 per source, and some weight > 0")
        self.sources, self.weights = list(sources), weights
        self.batch_size, self.alpha, self.seed, self.epoch = batch_size, alpha, seed, 0
        # per source: ids by the X-X key (a language, or a language pair for the symmetric kinds)
        # they have, and the ids with an X-Y pair
        self.xx: list[dict] = []
        self.xy: list[list[str]] = []
        for ps in self.sources:
            xx: dict = {}
            xy = []
            for i in sorted(ps.left):
                if ps.symmetric:
                    for pair in ps.language_pairs(i):
                        xx.setdefault(pair, []).append(i)
                else:
                    for x, _ in ps.language_pairs(i, same=True):
                        xx.setdefault(x, []).append(i)
                if ps.language_pairs(i, same=False):
                    xy.append(i)
            if len(set(ps.group.values())) < 2 or not (xx or xy):
                raise DataError(f"{ps.source or ps.kind}: {ps.kind} pairs need at least two id groups")
            self.xx.append({k: v for k, v in sorted(xx.items()) if len(v) >= 2})
            self.xy.append(xy)
        self._len = batches_per_epoch or max(1, sum(len(ps.left) for ps in self.sources) // batch_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[MixtureBatch]:
        rng = random.Random(self.seed + self.epoch)
        cursors: dict = {}

        def cursor(key, items):
            if key not in cursors:
                cursors[key] = _Cursor(items, random.Random(f"{self.seed}:{self.epoch}:{key}"))
            return cursors[key]

        for _ in range(self._len):
            k = rng.choices(range(len(self.sources)), weights=self.weights)[0]
            ps = self.sources[k]
            xx_ok, xy_ok = bool(self.xx[k]), bool(self.xy[k])
            mono = (rng.random() < self.alpha and xx_ok) or not xy_ok
            if mono:
                keys = list(self.xx[k])
                key = rng.choices(keys, weights=[len(self.xx[k][c]) for c in keys])[0]
                ids = self._distinct(ps, cursor((k, key), self.xx[k][key]), len(self.xx[k][key]))
                x, y = key if ps.symmetric else (key, key)
                pairs = [(i, x, y) for i in ids]
            else:
                ids = self._distinct(ps, cursor((k, None), self.xy[k]), len(self.xy[k]))
                pairs = [(i, *rng.choice(ps.language_pairs(i, same=False))) for i in ids]
            yield MixtureBatch(k, ps.kind, "xx" if mono else "xy", pairs)

    def _distinct(self, ps: PairSet, cur: _Cursor, n: int) -> list[str]:
        """Up to batch_size ids from the cursor, no two of one id group (one pass at most)."""
        out, groups = [], set()
        for _ in range(n):
            i = cur.take()
            g = ps.group[i]
            if g not in groups:
                groups.add(g)
                out.append(i)
                if len(out) == self.batch_size:
                    break
        return out
