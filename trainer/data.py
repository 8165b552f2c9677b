"""Parallel question-answer data: rows of (id, lang, question, answer), grouped by id.

Rows sharing an ``id`` are translations of one pair. Readers for JSON Lines, CSV/TSV (in
``trainer.qafile``) and the SQuAD/XQuAD-R JSON layout (here) all produce a :class:`ParallelQA`.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

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


XQUAD_LANGS = ["ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"]


def load_xquad_r(path: str | Path, articles=None, languages=None) -> ParallelQA:
    """Read XQuAD-R (a folder of ``{lang}.json`` or one file) -> ParallelQA with a sentence pool.

    The answer of a question in language L is the sentence of L's paragraph whose
    ``sentence_breaks`` span holds ``answer_start``; the pool holds every sentence of the chosen
    articles. ``articles`` selects article indices (e.g. ``range(28, 36)``).
    """
    path = Path(path)
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if not files:
        raise DataError(f"no XQuAD-R files (*.json) in {path}")
    rows: list[QARow] = []
    pool: dict[str, list[tuple[str, str]]] = {}
    wanted = set(articles) if articles is not None else None
    for f in files:
        lang = f.stem
        if languages and lang not in languages:
            continue
        try:
            doc = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"{f}: not a readable XQuAD-R JSON file ({exc})") from exc
        cands = pool.setdefault(lang, [])
        for ai, art in enumerate(doc.get("data", [])):
            if wanted is not None and ai not in wanted:
                continue
            for pi, para in enumerate(art["paragraphs"]):
                sents, breaks = para["sentences"], para["sentence_breaks"]
                for si, s in enumerate(sents):
                    cands.append((f"a{ai}:p{pi}:s{si}", s))
                for qa in para["qas"]:
                    start = qa["answers"][0]["answer_start"]
                    si = next((i for i, (b0, b1) in enumerate(breaks) if b0 <= start <= b1), None)
                    if si is None:
                        continue
                    rows.append(QARow(qa["id"], lang, qa["question"], sents[si], para["context"],
                                      None, f"a{ai}:p{pi}:s{si}"))
    return ParallelQA(rows, str(path), pool)


def load_parallel_qa(path: str | Path, **kwargs) -> ParallelQA:
    """Read any supported QA file or folder; raise DataError listing every problem with its line."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"no such file: {path}")
    if path.is_dir() or _looks_like_squad(path):
        return load_xquad_r(path, **kwargs)
    from trainer.qafile import read_qa_file

    return read_qa_file(path)


def _looks_like_squad(path: Path) -> bool:
    if path.suffix.lower() != ".json":
        return False
    with open(path, "rb") as f:
        head = f.read(4096).lstrip()
    return head.startswith(b"{") and b'"data"' in head
