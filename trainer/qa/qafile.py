"""Reader and validator for a person's own parallel QA file (JSON Lines, CSV or TSV).

One row per (id, lang, question, answer), optional ``context``; rows sharing an ``id`` are
translations of one pair. Every problem is collected with its line number and raised together
as one :class:`DataError`, so bad data never reaches training. The format is documented in
``docs/qa-format.md``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from hybridsearch.errors import DataError
from trainer.qa.checks import MAX_BYTES, format_problems, raise_problems, read_bytes, text_problem
from trainer.qa.languages import normalize_language, unknown_language
from trainer.qa.records import ParallelQA, QARow

REQUIRED = ("id", "lang", "question", "answer")
OPTIONAL = ("context",)

def read_qa_file(path: str | Path) -> ParallelQA:
    """Read and validate a JSONL/CSV/TSV parallel QA file -> ParallelQA (``QARow.line`` set).

    Raises DataError(summary, problems) listing every problem found, each with its line.
    """
    path = Path(path)
    raw = read_bytes(path, hint="split it, or drop the optional context column")
    if not raw.strip():
        raise DataError(f"{path.name} is empty: it holds no QA rows")
    lines, problems = _decode_lines(raw)
    kind = _detect_kind(path, lines)
    if kind == "jsonl" and raw.lstrip().startswith(b"["):
        raise DataError(f"{path.name} is one JSON array; write JSON Lines instead: one object "
                        '{"id": ..., "lang": ..., "question": ..., "answer": ...} per line',
                        [(1, "a JSON array, not JSON Lines (one object per line)")])
    if kind == "jsonl":
        records = _jsonl_records(lines, problems, {n for n, _ in problems})
    else:
        records = _table_records(lines, "\t" if kind == "tsv" else ",", problems, path.name)
    rows = _validate(records, problems)
    raise_problems(path.name, problems)
    if not rows:
        raise DataError(f"{path.name} is empty: it holds no QA rows")
    return ParallelQA(rows, str(path))


def _decode_lines(raw: bytes) -> tuple[list[str], list[tuple[int, str]]]:
    """Bytes -> text lines (with their line ends); a line that is not UTF-8 is reported."""
    lines, problems = [], []
    for n, chunk in enumerate(raw.splitlines(keepends=True), start=1):
        try:
            lines.append(chunk.decode("utf-8"))
        except UnicodeDecodeError as exc:
            problems.append((n, f"not valid UTF-8 text (byte 0x{chunk[exc.start]:02x} at column "
                                f"{exc.start + 1}); save the file as UTF-8"))
            lines.append(chunk.decode("utf-8", errors="replace"))
    return lines, problems


def _detect_kind(path: Path, lines: list[str]) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    if suffix == ".tsv":
        return "tsv"
    first = next((l for l in lines if l.strip()), "")
    if first.lstrip().startswith("{"):
        return "jsonl"
    if suffix == ".txt" and "\t" in first:
        return "tsv"
    raise DataError(f"{path.name}: unknown file type; use JSON Lines (.jsonl), CSV (.csv) or "
                    "tab-separated text (.tsv, or .txt with tabs) with a header row")


def _jsonl_records(lines: list[str], problems, undecodable: set[int]) -> list[tuple[int, dict]]:
    out = []
    for n, text in enumerate(lines, start=1):
        if not text.strip() or n in undecodable:  # not UTF-8: reported once, not as bad JSON too
            continue
        try:
            obj = json.loads(text)
        except RecursionError:
            problems.append((n, "JSON nested too deeply; a row is one flat object"))
            continue
        except ValueError as exc:
            problems.append((n, f"invalid JSON ({exc.msg} at column {exc.colno})"))
            continue
        if not isinstance(obj, dict):
            problems.append((n, f"expected a JSON object {{...}}, found {_type_name(obj)}"))
            continue
        out.append((n, obj))
    return out


def _csv_rows(lines: list[str], delimiter: str, problems):
    """Yield (first line, fields) per record; malformed quoting is reported, not fatal."""
    old_limit = csv.field_size_limit()
    csv.field_size_limit(max(old_limit, MAX_BYTES))  # a long context must not fail the read
    try:
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        last = 0
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                start, last = last + 1, reader.line_num
                if "end of data" in str(exc):
                    problems.append((start, "a quoted value that starts here is never closed "
                                            '(a stray " ?); the rest of the file could not be read'))
                    return
                problems.append((start, f'malformed {"TSV" if delimiter == chr(9) else "CSV"} ({exc}); '
                                        'a value containing quotes must be quoted, with each " doubled'))
                continue
            start, last = last + 1, reader.line_num
            yield start, fields
    finally:
        csv.field_size_limit(old_limit)


def _table_records(lines: list[str], delimiter: str, problems, name: str) -> list[tuple[int, dict]]:
    header = None
    out = []
    for start, fields in _csv_rows(lines, delimiter, problems):
        if not any(f.strip() for f in fields):
            continue
        if header is None:
            header = [f.strip().lower() for f in fields]
            missing = [c for c in REQUIRED if c not in header]
            if missing:
                kind = "tab-separated" if delimiter == "\t" else "comma-separated"
                raise DataError(
                    f"{name}: line {start}: the header row must name the columns "
                    f"{', '.join(REQUIRED)} (optional: context); missing "
                    f"{', '.join(repr(m) for m in missing)} in a {kind} header "
                    f"({', '.join(repr(h) for h in header)})",
                    [(start, "the header row is missing the column(s) " + ", ".join(missing))])
            dupes = sorted({h for h in header if h and header.count(h) > 1})
            if dupes:
                raise DataError(f"{name}: line {start}: the header names {', '.join(dupes)} twice",
                                [(start, f"the header names {', '.join(dupes)} twice")])
            continue
        if len(fields) > len(header):
            problems.append((start, f"{len(fields)} fields, but the header has {len(header)}"))
            continue
        rec = {h: v for h, v in zip(header, fields) if h}
        out.append((start, rec))
    return out


def _type_name(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true/false"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "an object"
    return type(v).__name__


def _validate(records: list[tuple[int, dict]], problems) -> list[QARow]:
    rows: list[QARow] = []
    seen: dict[tuple[str, str], int] = {}
    for n, rec in records:
        ok = True
        vals = {}
        for key in REQUIRED:
            v = rec.get(key)
            if key not in rec:
                problems.append((n, f'field "{key}" is missing'))
                ok = False
            elif not isinstance(v, str):
                hint = f' (write "{v}")' if key == "id" and isinstance(v, int) and not isinstance(v, bool) else ""
                problems.append((n, f'field "{key}" must be a string, not {_type_name(v)}{hint}'))
                ok = False
            elif not v.strip():
                problems.append((n, f'field "{key}" is empty'))
                ok = False
            elif why := text_problem(key, v):
                problems.append((n, why))
                ok = False
            else:
                vals[key] = v.strip()
        ctx = rec.get("context")
        if ctx is not None and not isinstance(ctx, str):
            problems.append((n, f'field "context" must be a string or null, not {_type_name(ctx)}'))
            ok = False
        elif ctx is not None and (why := text_problem("context", ctx)):
            problems.append((n, why))
            ok = False
        if "lang" in vals:
            lang = normalize_language(vals["lang"])
            if lang is None:
                problems.append((n, unknown_language(vals["lang"])))
                ok = False
            else:
                vals["lang"] = lang
        if "id" in vals and "lang" in vals:
            key = (vals["id"], vals["lang"])
            if key in seen:
                first = seen[key]
                problems.append((first, f'id "{key[0]}" in "{key[1]}" appears again at line {n}'))
                problems.append((n, f'duplicate row: id "{key[0]}" in "{key[1]}" already at line {first}'))
                ok = False
            else:
                seen[key] = n
        if ok:
            rows.append(QARow(vals["id"], vals["lang"], vals["question"], vals["answer"],
                              ctx.strip() if isinstance(ctx, str) and ctx.strip() else None, n))
    # every id needs two languages, or no cross-lingual pair exists for it (counted over every
    # row with a usable id and language, so one bad translation is not reported twice)
    langs_of: dict[str, list[tuple[str, int]]] = {}
    for (i, lang), n in seen.items():
        langs_of.setdefault(i, []).append((lang, n))
    good_lines = {r.line for r in rows}
    unread = any(n not in good_lines for n, _ in problems)  # lines that did not become rows
    for i, found in langs_of.items():
        if len(found) == 1:
            lang, n = found[0]
            problems.append((n, f'id "{i}" has a row only in "{lang}"; every id needs rows in at '
                                "least two languages (translations of one pair share an id)"
                                + ("; its translation may be on one of the lines with problems" if unread else "")))
    return rows
