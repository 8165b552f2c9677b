"""Reader for Mintaka-style JSON: a list of questions, each with its translations.

``[{"id": ..., "question": "<English>", "translations": {"de": ..., "ar": ...}}, ...]`` ->
a question<->question pair set (every translation of one question is a positive of the others).
The answers (Wikidata entities with English labels) are not passages and are not read.
"""

from __future__ import annotations

from pathlib import Path

from trainer.qa.checks import json_line, load_json_document, raise_problems, text_problem
from trainer.qa.languages import normalize_language, unknown_language
from trainer.qa.records import PairSet

#: The language of the ``question`` field (Mintaka's questions were written in English).
SOURCE_LANGUAGE = "en"


def looks_like_mintaka(head: bytes) -> bool:
    """The first bytes of a JSON list of objects with ``translations``."""
    return head.lstrip().startswith(b"[") and b'"translations"' in head


def load_mintaka(path: str | Path) -> list[PairSet]:
    """Read a Mintaka-style JSON file -> [question<->question pair set]; problems are line-numbered."""
    path = Path(path)
    doc, text = load_json_document(path, "Mintaka files")
    problems: list[tuple[int, str]] = []
    located = 0

    def problem(at: list, msg: str) -> None:
        nonlocal located
        located += 1
        problems.append((json_line(text, at) if located <= 50 else 0, msg))

    if not isinstance(doc, list):
        problem([], "expected a JSON list of questions [{\"id\", \"question\", \"translations\"}, ...]")
        raise_problems(path.name, problems)
    questions: dict[str, dict[str, str]] = {}
    for k, item in enumerate(doc):
        if not isinstance(item, dict):
            problem([k], "expected a question object {\"id\", \"question\", \"translations\"}")
            continue
        qid, question, translations = item.get("id"), item.get("question"), item.get("translations")
        bad = [f for f, v, t in (("id", qid, (str, int)), ("question", question, str), ("translations", translations, dict))
               if not isinstance(v, t) or isinstance(v, bool)]
        if bad:
            problem([k], f'field{"s" if len(bad) > 1 else ""} {", ".join(bad)} missing or of the wrong type '
                         '(id: a string, question: a string, translations: {"de": "...", ...})')
            continue
        qid = str(qid)
        if qid in questions:
            problem([k], f'id "{qid}" appears twice')
            continue
        texts = {SOURCE_LANGUAGE: question}
        for code, t in translations.items():
            lang = normalize_language(code)
            if lang is None:
                problem([k, "translations"], unknown_language(code))
            elif not isinstance(t, str):
                problem([k, "translations", code], f'translation "{code}" must be a string')
            else:
                texts[lang] = t
        for lang, t in texts.items():
            why = text_problem(f"translations.{lang}" if lang != SOURCE_LANGUAGE else "question", t)
            if why:
                problem([k], why)
        good = {lang: t.strip() for lang, t in texts.items() if t.strip() and not text_problem("", t)}
        questions[qid] = good
    raise_problems(path.name, problems)
    return [PairSet("question-question", questions, {}, str(path))]
