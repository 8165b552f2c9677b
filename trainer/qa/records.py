"""The records every reader produces: parallel QA rows (:class:`ParallelQA`) and positive pairs
of one kind (:class:`PairSet`), the unit that mixture training samples from.

Rows sharing an ``id`` are translations of one pair. The readers (``trainer.qa.qafile``,
``squad``, ``mintaka``, ``bitext``) produce these; nothing here reads a file.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field

from hybridsearch.errors import DataError


@dataclass(frozen=True)
class QARow:
    """One question-answer pair in one language; ``line`` is where it came from (1-based)."""

    id: str
    lang: str
    question: str
    answer: str
    context: str | None = None
    line: int | None = None
    #: identifies the answer among the retrieval candidates of its language
    answer_key: str | None = None


@dataclass
class ParallelQA:
    """A parallel QA dataset; ``pool`` optionally holds every retrieval candidate per language.

    ``pool[lang]`` is a list of (key, sentence). When absent, evaluation uses the distinct
    answers of each language as the candidate pool.
    """

    rows: list[QARow]
    source: str = ""
    pool: dict[str, list[tuple[str, str]]] | None = None
    by_id: dict[str, dict[str, QARow]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.by_id = defaultdict(dict)
        for r in self.rows:
            self.by_id[r.id][r.lang] = r
        self.by_id = dict(self.by_id)

    @property
    def languages(self) -> list[str]:
        return sorted({r.lang for r in self.rows})

    @property
    def ids(self) -> list[str]:
        return list(self.by_id)

    def summary(self) -> dict:
        """Languages, ids, rows, and how many X-X and X-Y (question, answer) pairs the data allows."""
        xx = sum(len(langs) for langs in self.by_id.values())
        xy = sum(len(langs) * (len(langs) - 1) for langs in self.by_id.values())
        per_lang = defaultdict(int)
        for r in self.rows:
            per_lang[r.lang] += 1
        return {"languages": self.languages, "ids": len(self.by_id), "rows": len(self.rows),
                "xx_pairs": xx, "xy_pairs": xy, "rows_per_language": dict(sorted(per_lang.items())),
                "source": self.source}

    def subset(self, ids) -> "ParallelQA":
        keep = set(ids)
        rows = [r for r in self.rows if r.id in keep]
        pool = None
        if self.pool is not None:
            keys = {r.answer_key for r in rows}
            ctx_prefixes = {k.rsplit(":", 1)[0] for k in keys if k}
            pool = {lang: [(k, s) for k, s in cands if k.rsplit(":", 1)[0] in ctx_prefixes]
                    for lang, cands in self.pool.items()}
        return ParallelQA(rows, self.source, pool)

    def split(self, dev_share: float, seed: int = 0) -> tuple["ParallelQA", "ParallelQA"]:
        """Split by id (never the same id on both sides), seeded -> (train, dev)."""
        if not 0.0 <= dev_share < 1.0:
            raise DataError(f"the dev share must be in [0, 1), not {dev_share}")
        ids = sorted(self.by_id)
        random.Random(seed).shuffle(ids)
        n_dev = int(round(len(ids) * dev_share))
        if dev_share > 0 and n_dev == 0 and len(ids) > 1:
            n_dev = 1
        return self.subset(ids[n_dev:]), self.subset(ids[:n_dev])



    def pair_sets(self) -> list["PairSet"]:
        """The kinds of positives this data allows: question->answer, question<->question, and
        question->paragraph where rows carry a ``context``."""
        questions = {i: {l: r.question for l, r in langs.items()} for i, langs in self.by_id.items()}
        answers = {i: {l: r.answer for l, r in langs.items()} for i, langs in self.by_id.items()}
        out = [PairSet("qa-sentence", questions, answers, self.source),
               PairSet("question-question", questions, questions, self.source)]
        contexts = {i: {l: r.context for l, r in langs.items() if r.context} for i, langs in self.by_id.items()}
        contexts = {i: c for i, c in contexts.items() if c}
        if contexts:
            out.append(PairSet("qa-paragraph", {i: questions[i] for i in contexts}, contexts, self.source))
        return out


#: The kinds of positive pairs: what the left and right texts are, and how each side is encoded
#: (as search encodes them: questions are queries, everything a library holds is a passage).
KINDS = {
    "qa-sentence": ("question", "answer sentence", "query", "passage"),
    "qa-paragraph": ("question", "paragraph", "query", "passage"),
    "question-question": ("question", "its translation", "query", "query"),
    "bitext": ("sentence", "its translation", "passage", "passage"),
}
#: Kinds whose two sides are the same text in each language: a pair always joins two languages.
SYMMETRIC = frozenset({"question-question", "bitext"})


@dataclass
class PairSet:
    """Positive pairs of one kind: per id, the left texts and the right texts by language.

    Any (left in language x, right in language y) of one id is a positive; for the symmetric kinds
    (``left is right``) x and y differ. ``group`` maps every id to its id group: ids that share a
    right-hand text (two questions on one paragraph, two on one answer sentence) are one group,
    and a batch never holds two ids of one group (each would be the other's false negative).
    """

    kind: str
    left: dict[str, dict[str, str]]
    right: dict[str, dict[str, str]]
    source: str = ""
    group: dict[str, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind of pairs {self.kind!r}; one of {', '.join(KINDS)}")
        if self.symmetric:  # one side: an id needs two languages to make a pair
            self.left = {i: t for i, t in self.left.items() if len(t) > 1}
            self.right = self.left
        else:
            ids = [i for i in self.left if self.left[i] and self.right.get(i)]
            self.left = {i: self.left[i] for i in ids}
            self.right = {i: self.right[i] for i in ids}
        self.group = _groups(self.right)

    @property
    def symmetric(self) -> bool:
        return self.kind in SYMMETRIC

    @property
    def languages(self) -> list[str]:
        return sorted({l for side in (self.left, self.right) for d in side.values() for l in d})

    def language_pairs(self, i: str, same: bool | None = None) -> list[tuple[str, str]]:
        """Id ``i``'s (left, right) language pairs: all, only X-X (``same``) or only X-Y."""
        pairs = [(x, y) for x in sorted(self.left[i]) for y in sorted(self.right[i])
                 if not (self.symmetric and x == y)]
        if same is None:
            return pairs
        return [(x, y) for x, y in pairs if (x == y) == same]

    def summary(self) -> dict:
        """Ids, id groups, and how many X-X and X-Y pairs this set allows."""
        xx = xy = 0
        for i in self.left:
            for x, y in self.language_pairs(i):
                if x == y:
                    xx += 1
                else:
                    xy += 1
        return {"kind": self.kind, "ids": len(self.left), "groups": len(set(self.group.values())),
                "languages": self.languages, "xx_pairs": xx, "xy_pairs": xy, "source": self.source}


def _groups(right: dict[str, dict[str, str]]) -> dict[str, str]:
    """Union-find over ids that share a right-hand text in some language -> id -> group id."""
    parent: dict[str, str] = {i: i for i in right}

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[tuple[str, str], str] = {}
    for i, texts in right.items():
        for lang, text in texts.items():
            j = owner.setdefault((lang, text), i)
            if j != i:
                a, b = find(i), find(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    return {i: find(i) for i in right}
