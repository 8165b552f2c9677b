"""Readers for the SQuAD JSON layout: XQuAD-R (sentence-split paragraphs, one ``{lang}.json`` per
language) and MLQA-style sets (``*-context-X-question-Y.json``: questions in Y on paragraphs in X).

The shape of every document is checked before a row is made: a wrong shape, a plain XQuAD file
where XQuAD-R is expected, or text that cannot be encoded is a line-numbered problem, never a
KeyError deep in training or evaluation.
"""

from __future__ import annotations

import re
from pathlib import Path

from hybridsearch.errors import DataError
from trainer.qa.checks import json_line, load_json_document, raise_problems, text_problem
from trainer.qa.languages import normalize_language
from trainer.qa.records import PairSet, ParallelQA, QARow

#: MLQA's file naming: the paragraph's language X, the question's language Y.
MLQA_NAME = re.compile(r"^(?P<prefix>.*?)-?context-(?P<context>[A-Za-z-]+?)-question-(?P<question>[A-Za-z-]+)\.json$")
#: At most this many shape problems are given line numbers per file (each costs a scan).
MAX_LOCATED = 50


class _Shape:
    """Collects (JSON path, message) shape problems of one document, located at the end."""

    def __init__(self, name: str, text: str):
        self.name, self.text, self.found = name, text, []

    def add(self, path: list, msg: str) -> None:
        self.found.append((path, msg))

    def want(self, obj, key, kind, path, what="") -> object | None:
        """obj[key] when it is of ``kind`` (a type or tuple), else a problem and None."""
        if not isinstance(obj, dict):
            self.add(path, f"expected an object {{...}}{what}, found {_type_name(obj)}")
            return None
        if key not in obj:
            self.add(path, f'field "{key}" is missing{what}')
            return None
        v = obj[key]
        if not isinstance(v, kind):
            self.add(path + [key], f'field "{key}" must be {_kind_name(kind)}, not {_type_name(v)}')
            return None
        return v

    def problems(self) -> list[tuple[int, str]]:
        out = []
        for k, (path, msg) in enumerate(self.found):
            line = json_line(self.text, path) if k < MAX_LOCATED else 0
            out.append((line, f"{_path_name(path)}: {msg}" if path else msg))
        return out


def _path_name(path: list) -> str:
    s = ""
    for p in path:
        s += f"[{p}]" if isinstance(p, int) else (f".{p}" if s else p)
    return s


def _type_name(v) -> str:
    return {type(None): "null", bool: "true/false", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "an object"}.get(type(v), type(v).__name__)


def _kind_name(kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join({str: "a string", list: "a list", dict: "an object", int: "a number"}.get(k, k.__name__)
                       for k in kinds)


def _squad_paragraphs(doc, shape: _Shape):
    """Yield (article index, paragraph index, paragraph dict, path) of a SQuAD-layout document."""
    data = shape.want(doc, "data", list, [], " (the SQuAD layout: {\"data\": [{\"paragraphs\": [...]}]})")
    for ai, art in enumerate(data or []):
        paras = shape.want(art, "paragraphs", list, ["data", ai])
        for pi, para in enumerate(paras or []):
            path = ["data", ai, "paragraphs", pi]
            if isinstance(para, dict):
                yield ai, pi, para, path
            else:
                shape.add(path, f"expected a paragraph object, found {_type_name(para)}")


def _questions(para, path, shape: _Shape, need_start: bool):
    """Yield (id, question, answer_start or None) of a paragraph's well-formed ``qas``."""
    qas = shape.want(para, "qas", list, path)
    for qi, qa in enumerate(qas or []):
        qpath = path + ["qas", qi]
        qid = shape.want(qa, "id", (str, int), qpath)
        question = shape.want(qa, "question", str, qpath) if isinstance(qa, dict) else None
        if qid is None or question is None:
            continue
        if not question.strip():
            shape.add(qpath + ["question"], "the question is empty")
            continue
        if why := text_problem("question", question):
            shape.add(qpath + ["question"], why)
            continue
        start = None
        if need_start:
            answers = shape.want(qa, "answers", list, qpath)
            if answers is None:
                continue
            if not answers or not isinstance(answers[0], dict) or \
                    not isinstance(answers[0].get("answer_start"), int) or isinstance(answers[0].get("answer_start"), bool):
                shape.add(qpath + ["answers"], 'needs at least one answer {"answer_start": N, "text": ...}')
                continue
            start = answers[0]["answer_start"]
        yield str(qid), question.strip(), start


def read_xquad_r_file(path: Path, lang: str, wanted: set[int] | None, rows: list, pool: dict) -> list[tuple[int, str]]:
    """Add one XQuAD-R language file's rows and sentences; return its problems (line, message)."""
    doc, text = load_json_document(path, "XQuAD-R files")
    shape = _Shape(path.name, text)
    cands = pool.setdefault(lang, [])
    new_rows = []
    for ai, pi, para, ppath in _squad_paragraphs(doc, shape):
        if wanted is not None and ai not in wanted:
            continue
        context = shape.want(para, "context", str, ppath)
        if "sentences" not in para and "sentence_breaks" not in para:
            shape.add(ppath, 'no "sentences" and "sentence_breaks": this is the plain SQuAD/XQuAD layout, '
                             "not XQuAD-R (answers are the sentences of a paragraph; read plain XQuAD as "
                             "question->paragraph data, or add the sentence splits)")
            continue
        sents = shape.want(para, "sentences", list, ppath)
        breaks = shape.want(para, "sentence_breaks", list, ppath)
        if context is None or sents is None or breaks is None:
            continue
        if len(sents) != len(breaks) or not all(isinstance(s, str) for s in sents) or not all(
                isinstance(b, list) and len(b) == 2 and all(isinstance(x, int) for x in b) for b in breaks):
            shape.add(ppath + ["sentence_breaks"], f"needs one [start, end] pair of numbers per sentence "
                                                   f"({len(sents)} sentences, {len(breaks)} breaks)")
            continue
        bad = next((why for s in [context, *sents] if (why := text_problem("sentences", s))), None)
        if bad:
            shape.add(ppath, bad)
            continue
        for si, s in enumerate(sents):
            cands.append((f"a{ai}:p{pi}:s{si}", s))
        for qid, question, start in _questions(para, ppath, shape, need_start=True):
            si = next((i for i, (b0, b1) in enumerate(breaks) if b0 <= start <= b1), None)
            if si is not None:
                new_rows.append(QARow(qid, lang, question, sents[si], context, None, f"a{ai}:p{pi}:s{si}"))
    rows.extend(new_rows)
    return shape.problems()


def load_xquad_r(path: str | Path, articles=None, languages=None) -> ParallelQA:
    """Read XQuAD-R (a folder of ``{lang}.json`` or one file) -> ParallelQA with a sentence pool.

    The answer of a question in language L is the sentence of L's paragraph whose
    ``sentence_breaks`` span holds ``answer_start``; the pool holds every sentence of the chosen
    articles. ``articles`` selects article indices (e.g. ``range(28, 36)``). Every problem of every
    file is raised together as one DataError (``name line N: ...``).
    """
    path = Path(path)
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if not files:
        raise DataError(f"no XQuAD-R files (*.json) in {path}")
    rows: list[QARow] = []
    pool: dict[str, list[tuple[str, str]]] = {}
    wanted = set(articles) if articles is not None else None
    problems: list[tuple[int, str]] = []
    for f in files:
        lang = normalize_language(f.stem)
        if lang is None:  # the shape is still checked, so that every problem shows at once
            problems.append((0, f"{f.name}: an XQuAD-R file is named after its language ({{lang}}.json, "
                                f'e.g. de.json); "{f.stem}" is not a language code'))
            lang = f.stem
        elif languages and lang not in languages:
            continue
        try:
            found = read_xquad_r_file(f, lang, wanted, rows, pool)
        except DataError as exc:
            found = exc.problems or [(0, str(exc))]
        problems += _in_file(f, found, len(files) > 1)
    raise_problems(path.name, problems)
    return ParallelQA(rows, str(path), pool)


def _in_file(f: Path, problems, several: bool) -> list[tuple[int, str]]:
    """A file's problems, named by file when a folder holds several (then sorted by file)."""
    if not several:
        return problems
    return [(0, f"{f.name}" + (f" line {n}" if n else "") + f": {msg}") for n, msg in problems]


def mlqa_files(path: Path) -> list[tuple[Path, str, str]]:
    """(file, paragraph language, question language) of the MLQA-named files at ``path``."""
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    out = []
    for f in files:
        m = MLQA_NAME.match(f.name)
        if m:
            out.append((f, m.group("context"), m.group("question")))
    return out


def load_mlqa(path: str | Path) -> list[PairSet]:
    """Read an MLQA-style set (one file or a folder of ``*-context-X-question-Y.json``) ->
    [question->paragraph, question<->question] pair sets, rows grouped by question id.

    The positive of a question is the paragraph that holds its answer, in every language the set
    has it: the answers may be blank (as in the copy of MLQA test this project trains on), and the
    app retrieves chunks of about a paragraph. Questions on one paragraph form one id group.
    """
    path = Path(path)
    found = mlqa_files(path)
    if not found:
        raise DataError(f"no MLQA files (*-context-X-question-Y.json) in {path}")
    questions: dict[str, dict[str, str]] = {}
    paragraphs: dict[str, dict[str, str]] = {}
    problems: list[tuple[int, str]] = []
    for f, clang, qlang in found:
        c, q = normalize_language(clang), normalize_language(qlang)
        if c is None or q is None:
            problems.append((0, f"{f.name}: {clang if c is None else qlang!r} is not a language code"))
            continue
        try:
            doc, text = load_json_document(f, "MLQA files")
        except DataError as exc:
            problems += _in_file(f, exc.problems or [(0, str(exc))], True)
            continue
        shape = _Shape(f.name, text)
        for _, _, para, ppath in _squad_paragraphs(doc, shape):
            context = shape.want(para, "context", str, ppath)
            if context is None:
                continue
            if not context.strip() or (why := text_problem("context", context)):
                shape.add(ppath + ["context"], "the paragraph is empty" if not context.strip() else why)
                continue
            for qid, question, _ in _questions(para, ppath, shape, need_start=False):
                questions.setdefault(qid, {}).setdefault(q, question)
                paragraphs.setdefault(qid, {}).setdefault(c, context.strip())
        problems += _in_file(f, shape.problems(), True)
    raise_problems(path.name, problems)
    source = str(path)
    return [PairSet("qa-paragraph", questions, paragraphs, source),
            PairSet("question-question", {i: q for i, q in questions.items() if len(q) > 1},
                    {}, source)]
