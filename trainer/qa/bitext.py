"""Readers for translated sentences (bitext): line-aligned text files, FLORES/SIB-200 folders and
TMX translation memories. Each gives one sentence<->sentence pair set: the same id is the same
sentence in every language.

- line-aligned: a folder of ``NAME.{lang}.txt`` files (NTREX's ``newstest2019-ref.deu.txt``),
  line N of every file is one sentence; all files must have the same number of lines;
- FLORES as SIB-200 lays it out: ``{lang}_{Script}/{train,dev,test}.tsv`` with the columns
  ``index_id``, ``category``, ``text``; one split is read (``train`` unless another is asked for);
- TMX 1.4: ``<tu>`` units of ``<tuv xml:lang="..."><seg>...</seg></tuv>``, parsed by expat with
  DTDs and entity declarations refused (no entity expansion, no external fetches).
"""

from __future__ import annotations

import csv
import re
import xml.parsers.expat
from pathlib import Path

from hybridsearch.errors import DataError
from trainer.qa.checks import decode_text, raise_problems, read_bytes, text_problem
from trainer.qa.languages import language_of_name
from trainer.qa.records import PairSet

FLORES_SPLITS = ("train", "dev", "test")
_LINE_FILE = re.compile(r"^(?P<stem>.+)\.(?P<lang>[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)?)\.txt$")


def line_aligned_files(folder: Path) -> dict[str, Path]:
    """{language: file} of a folder's ``NAME.{lang}.txt`` files (empty when it has none)."""
    out = {}
    for f in sorted(folder.glob("*.txt")):
        m = _LINE_FILE.match(f.name)
        lang = language_of_name(m.group("lang")) if m else None
        if lang is not None:
            out.setdefault(lang, f)
    return out


def load_line_aligned(folder: str | Path) -> list[PairSet]:
    """A folder of line-aligned ``NAME.{lang}.txt`` files -> [bitext pair set] (id = line number).

    A blank line leaves that sentence out in its language; files of different lengths are a
    problem (their lines no longer meet)."""
    folder = Path(folder)
    files = line_aligned_files(folder)
    if len(files) < 2:
        raise DataError(f"{folder}: line-aligned bitext needs at least two files named NAME.{{lang}}.txt "
                        f"(found {len(files)})")
    problems: list[tuple[int, str]] = []
    texts: dict[str, dict[str, str]] = {}
    lengths = {}
    for lang, f in files.items():
        try:
            lines = decode_text(read_bytes(f, "bitext files"), f.name).splitlines()
        except DataError as exc:
            problems += [(0, f"{f.name} line {n}: {m}" if n else f"{f.name}: {m}")
                         for n, m in (exc.problems or [(0, str(exc))])]
            continue
        lengths[f.name] = len(lines)
        for n, line in enumerate(lines, start=1):
            if why := text_problem("text", line):
                problems.append((0, f"{f.name} line {n}: {why}"))
            elif line.strip():
                texts.setdefault(str(n), {})[lang] = line.strip()
    if len(set(lengths.values())) > 1:
        listing = ", ".join(f"{name} {n}" for name, n in lengths.items())
        problems.append((0, f"line-aligned files must have the same number of lines ({listing})"))
    raise_problems(folder.name, problems)
    return [PairSet("bitext", texts, {}, str(folder))]


def flores_languages(folder: Path) -> dict[str, Path]:
    """{language: sub-folder} of a FLORES/SIB-200 folder (sub-folders holding the split TSVs)."""
    out = {}
    for d in sorted(p for p in folder.iterdir() if p.is_dir()):
        lang = language_of_name(d.name)
        if lang is not None and any((d / f"{s}.tsv").is_file() for s in FLORES_SPLITS):
            out.setdefault(lang, d)
    return out


def load_flores(folder: str | Path, split: str = "train") -> list[PairSet]:
    """A FLORES/SIB-200 folder -> [bitext pair set] of one split (ids: ``index_id``)."""
    folder = Path(folder)
    if split not in FLORES_SPLITS:
        raise DataError(f"a FLORES split is one of {', '.join(FLORES_SPLITS)}, not {split!r}")
    langs = flores_languages(folder)
    if len(langs) < 2:
        raise DataError(f"{folder}: a FLORES folder needs at least two language folders with {split}.tsv")
    problems: list[tuple[int, str]] = []
    texts: dict[str, dict[str, str]] = {}
    for lang, d in langs.items():
        f = d / f"{split}.tsv"
        name = f"{d.name}/{f.name}"
        if not f.is_file():
            problems.append((0, f"{name} is missing"))
            continue
        try:
            lines = decode_text(read_bytes(f, "bitext files"), name).splitlines()
        except DataError as exc:
            problems += [(0, f"{name} line {n}: {m}") for n, m in (exc.problems or [(0, str(exc))])]
            continue
        rows = csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = [h.strip().lower() for h in next(rows, [])]
        if "index_id" not in header or "text" not in header:
            problems.append((0, f"{name} line 1: the header must name the columns index_id and text"))
            continue
        ci, ct = header.index("index_id"), header.index("text")
        seen = set()
        for n, fields in enumerate(rows, start=2):
            if not any(x.strip() for x in fields):
                continue
            if len(fields) <= max(ci, ct):
                problems.append((0, f"{name} line {n}: {len(fields)} fields, the header has {len(header)}"))
                continue
            i, t = fields[ci].strip(), fields[ct].strip()
            if not i or not t:
                problems.append((0, f"{name} line {n}: empty index_id or text"))
            elif i in seen:
                problems.append((0, f'{name} line {n}: index_id "{i}" appears twice'))
            elif why := text_problem("text", t):
                problems.append((0, f"{name} line {n}: {why}"))
            else:
                seen.add(i)
                texts.setdefault(i, {})[lang] = t
    raise_problems(f"{folder.name} ({split})", problems)
    return [PairSet("bitext", texts, {}, f"{folder}#{split}")]


_CODE_ELEMENTS = frozenset({"bpt", "ept", "ph", "it", "ut"})  # inline native codes, not text


def load_tmx(path: str | Path) -> list[PairSet]:
    """A TMX translation memory -> [bitext pair set]; every ``<tu>`` is one id (its ``tuid`` or
    its position). Problems carry the line of their ``<tu>``."""
    path = Path(path)
    raw = read_bytes(path, "TMX files")
    problems: list[tuple[int, str]] = []
    texts: dict[str, dict[str, str]] = {}
    parser = xml.parsers.expat.ParserCreate()
    state = {"tu": None, "tu_line": 0, "lang": None, "seg": None, "code": 0, "n": 0, "root": None}

    def refuse(*_):
        raise DataError(f"{path.name}: line {parser.CurrentLineNumber}: DTDs and entity declarations are "
                        "not allowed in a TMX file (they can expand without bound)",
                        [(parser.CurrentLineNumber, "a DTD or entity declaration; TMX files need none")])

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def start(name, attrs):
        line = parser.CurrentLineNumber
        if state["root"] is None:
            state["root"] = name
            if name != "tmx":
                raise DataError(f"{path.name}: not a TMX file (the root element is <{name}>, not <tmx>)",
                                [(line, f"the root element is <{name}>, not <tmx>")])
        if name == "tu":
            state["n"] += 1
            state["tu"] = {"id": attrs.get("tuid") or f"tu{state['n']}", "segs": {}}
            state["tu_line"] = line
        elif name == "tuv" and state["tu"] is not None:
            code = attrs.get("xml:lang") or attrs.get("lang") or ""
            state["lang"] = language_of_name(code) if code else None
            if state["lang"] is None:
                problems.append((line, f'<tuv> with {"no xml:lang" if not code else f"unknown language {code!r}"}'))
        elif name == "seg" and state["lang"] is not None:
            state["seg"] = []
        elif name in _CODE_ELEMENTS and state["seg"] is not None:
            state["code"] += 1

    def end(name):
        if name in _CODE_ELEMENTS and state["code"]:
            state["code"] -= 1
        elif name == "seg" and state["seg"] is not None:
            text = " ".join("".join(state["seg"]).split())
            if why := text_problem("seg", text):
                problems.append((parser.CurrentLineNumber, why))
            elif text and state["lang"] not in state["tu"]["segs"]:
                state["tu"]["segs"][state["lang"]] = text
            state["seg"] = None
        elif name == "tuv":
            state["lang"] = None
        elif name == "tu" and state["tu"] is not None:
            tu, line = state["tu"], state["tu_line"]
            if len(tu["segs"]) < 2:
                problems.append((line, f'<tu> "{tu["id"]}" has text in {len(tu["segs"])} language'
                                       f'{"" if len(tu["segs"]) == 1 else "s"}; a translation unit needs two'))
            elif tu["id"] in texts:
                problems.append((line, f'tuid "{tu["id"]}" appears twice'))
            else:
                texts[tu["id"]] = tu["segs"]
            state["tu"] = None

    def chars(data):
        if state["seg"] is not None and not state["code"]:
            state["seg"].append(data)

    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, chars
    try:
        parser.Parse(raw, True)
    except xml.parsers.expat.ExpatError as exc:
        problems.append((exc.lineno, f"not well-formed XML ({xml.parsers.expat.ErrorString(exc.code)}, "
                                     f"column {exc.offset + 1}); nothing after it was read"))
    raise_problems(path.name, problems)
    if not texts:
        raise DataError(f"{path.name} holds no translation units (<tu>)")
    return [PairSet("bitext", texts, {}, str(path))]
