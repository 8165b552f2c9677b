"""A tokenizer for queries that loads in tens of milliseconds: the model's Unigram pieces in a dictionary.

Building the ``tokenizers`` Unigram model of the encoder's 250,000-piece vocabulary takes 1.1–1.7 s
on this project's 2-core machines, and it holds the interpreter lock while it does: that was most of
a cold ``hybridsearch search``. A query is a few dozen characters, so the query path runs the same
Viterbi search as ``tokenizers`` (``Unigram::encode_optimized``: pieces tried from the shortest,
ties kept by the first path found, an unknown character scored ``min_score - 10``, runs of unknown
characters fused) over the same pieces and scores, read from a compact cache: the pieces as one
text file and the scores as a numpy array. The normaliser is the ``tokenizers`` library's own,
loaded from the tokenizer file without its vocabulary. The ids are the library's: a test compares
them on every XQuAD-R question and paragraph and the FLORES sentences.

Only a tokenizer of the encoder's shape is handled here — Unigram model, Metaspace pre-tokenizer,
``<s> $A </s>`` template, special tokens matched verbatim. For any other shape :func:`load` returns
None and the ``tokenizers`` library answers.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np

from hybridsearch import atomic, paths

#: Bump when the cache's layout changes, so older caches are rebuilt.
CACHE_VERSION = 2  # 2: the cache records its source file
UNK_PENALTY = 10.0  # tokenizers' K_UNK_PENALTY
PIECES, SCORES, META = "pieces.txt", "scores.npy", "tokenizer.json"


class QueryTokenizer:
    """Token ids of short texts, the same as the ``tokenizers`` tokenizer it was built from."""

    def __init__(self, pieces: list[str], scores: list[float], meta: dict):
        from tokenizers import Tokenizer

        self.ids = dict(zip(pieces, range(len(pieces))))
        self.scores = scores
        self.unk_id = int(meta["unk_id"])
        self.unk_score = float(meta["min_score"]) - UNK_PENALTY
        self.max_piece = int(meta["max_piece"])
        self.bos, self.eos = int(meta["bos"]), int(meta["eos"])
        self.replacement = meta["replacement"]
        self.special = {t: int(i) for t, i in meta["special"].items()}
        longest_first = sorted(self.special, key=len, reverse=True)
        self._special_re = re.compile("|".join(map(re.escape, longest_first))) if longest_first else None
        # the tokenizers normaliser alone: a tokenizer file with an empty word-level vocabulary
        stub = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
                "normalizer": meta["normalizer"], "pre_tokenizer": None, "post_processor": None,
                "decoder": None, "model": {"type": "WordLevel", "vocab": {"<unk>": 0}, "unk_token": "<unk>"}}
        normalizer = Tokenizer.from_str(json.dumps(stub)).normalizer
        self._normalize = normalizer.normalize_str if normalizer is not None else (lambda s: s)

    def pieces(self, text: str) -> int:
        """How many pieces ``text`` is cut into (``<s>`` and ``</s>`` not counted)."""
        return len(self.encode(text)) - 2

    def encode(self, text: str) -> list[int]:
        """Ids with ``<s>`` and ``</s>``, as ``Tokenizer.encode(text).ids``."""
        out = [self.bos]
        pos = 0
        if self._special_re is not None:
            for m in self._special_re.finditer(text):
                out += self._segment(text[pos:m.start()])
                out.append(self.special[m.group()])
                pos = m.end()
        out += self._segment(text[pos:])
        out.append(self.eos)
        return out

    def _segment(self, text: str) -> list[int]:
        if not text:
            return []
        s = self._normalize(text).replace(" ", self.replacement)
        if not s:
            return []
        if not s.startswith(self.replacement):
            s = self.replacement + s
        ids: list[int] = []
        # Metaspace split, the delimiter merged with what follows it
        starts = [i for i, c in enumerate(s) if c == self.replacement]
        if starts[0] != 0:
            starts.insert(0, 0)
        for a, b in zip(starts, starts[1:] + [len(s)]):
            ids += self._viterbi(s[a:b])
        return ids

    def _viterbi(self, word: str) -> list[int]:
        n = len(word)
        score = [0.0] * (n + 1)
        start: list[int | None] = [None] * (n + 1)
        node = [0] * (n + 1)
        ids, scores = self.ids, self.scores
        for i in range(n):
            base = score[i]
            single = False
            for j in range(i + 1, min(n, i + self.max_piece) + 1):
                pid = ids.get(word[i:j])
                if pid is None:
                    continue
                cand = scores[pid] + base
                if start[j] is None or cand > score[j]:
                    score[j], start[j], node[j] = cand, i, pid
                if j == i + 1:
                    single = True
            if not single:
                cand = self.unk_score + base
                if start[i + 1] is None or cand > score[i + 1]:
                    score[i + 1], start[i + 1], node[i + 1] = cand, i, self.unk_id
        out: list[int] = []
        end = n
        while end > 0:  # back from the end; runs of unknown characters become one unknown
            pid, begin = node[end], start[end]
            if pid != self.unk_id or not out or out[-1] != self.unk_id:
                out.append(pid)
            end = begin
        out.reverse()
        return out


def _shape(spec: dict) -> dict | None:
    """What the query tokenizer needs from a tokenizer file, or None if its shape is not handled."""
    model, pre, post = spec.get("model") or {}, spec.get("pre_tokenizer") or {}, spec.get("post_processor") or {}
    if model.get("type") != "Unigram" or model.get("byte_fallback") or model.get("unk_id") is None:
        return None
    if pre.get("type") != "Metaspace" or pre.get("prepend_scheme", "always") != "always" or not pre.get("split", True):
        return None
    single = post.get("single") or []
    if post.get("type") != "TemplateProcessing" or len(single) != 3 or "Sequence" not in single[1]:
        return None
    try:
        bos, eos = (post["special_tokens"][single[k]["SpecialToken"]["id"]]["ids"] for k in (0, 2))
    except (KeyError, TypeError):
        return None
    added = spec.get("added_tokens") or []
    if any(t.get("normalized") or t.get("single_word") or t.get("lstrip") or t.get("rstrip") for t in added):
        return None
    pieces = [p for p, _ in model["vocab"]]
    if any("\n" in p for p in pieces) or len(bos) != 1 or len(eos) != 1:
        return None
    return {"unk_id": model["unk_id"], "min_score": min(s for _, s in model["vocab"]),
            "max_piece": max(map(len, pieces)), "bos": bos[0], "eos": eos[0],
            "replacement": pre.get("replacement", "\u2581"), "normalizer": spec.get("normalizer"),
            "special": {t["content"]: t["id"] for t in added}}


def cache_dir(tokenizer_file: Path, root: Path | None = None) -> Path:
    st = tokenizer_file.stat()
    key = hashlib.sha256(f"v{CACHE_VERSION}:{tokenizer_file.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode())
    return (Path(root) if root else paths.models_dir() / "query-tokenizer") / key.hexdigest()[:16]


def _drop_stale(current: Path) -> None:
    """Remove the caches of older versions of the same tokenizer file, of files that are gone (a
    replaced or removed model or installation) and of an older cache layout, so that the cache
    does not grow by ~5 MB each time."""
    def source(d: Path) -> str | None:
        try:
            return str(json.loads((d / META).read_text(encoding="utf-8")).get("source", ""))
        except (OSError, ValueError, AttributeError):
            return None  # unreadable: left alone

    atomic.remove_stale_siblings(current, source, lambda src: not src or not Path(src).exists())


def load(tokenizer_file: str | Path, root: Path | None = None) -> QueryTokenizer | None:
    """The query tokenizer of ``tokenizer_file`` (built into the cache on first use), or None.

    None: the file's shape is not handled here (the ``tokenizers`` tokenizer must be used), or the
    file cannot be read (the caller's own load reports why).
    """
    tokenizer_file = Path(tokenizer_file)
    try:
        target = cache_dir(tokenizer_file, root)
    except OSError:
        return None
    if not (target / META).is_file():
        try:
            spec = json.loads(tokenizer_file.read_text(encoding="utf-8"))
            meta = _shape(spec)
        except (OSError, ValueError, TypeError, KeyError):
            return None
        if meta is None:
            return None

        def write(tmp: Path) -> None:
            model = spec["model"]["vocab"]
            (tmp / PIECES).write_text("\n".join(p for p, _ in model), encoding="utf-8")
            np.save(tmp / SCORES, np.array([s for _, s in model], dtype=np.float64))
            # written last: marks the directory complete; "source" lets a later build drop it
            (tmp / META).write_text(json.dumps({**meta, "source": str(tokenizer_file.resolve())}))

        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic.write_dir(target, write)
            _drop_stale(target)
        except OSError:  # a read-only or full cache: build it in memory this time
            return QueryTokenizer([p for p, _ in spec["model"]["vocab"]],
                                  [float(s) for _, s in spec["model"]["vocab"]], meta)
    try:
        meta = json.loads((target / META).read_text(encoding="utf-8"))
        pieces = (target / PIECES).read_text(encoding="utf-8").split("\n")
        scores = np.load(target / SCORES, allow_pickle=False).tolist()
    except (OSError, ValueError):
        return None
    if len(pieces) != len(scores):
        return None
    return QueryTokenizer(pieces, scores, meta)
