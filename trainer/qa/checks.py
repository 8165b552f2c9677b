"""Shared checks of the QA readers: problem lists, text that cannot be encoded, JSON documents
read with line numbers for their problems.

Every reader collects ``(line, message)`` problems and raises them together as one
:class:`DataError` (line 0: the whole file), so that ``hybridsearch data check`` lists them all.
"""

from __future__ import annotations

import json
import re
from json.decoder import scanstring
from pathlib import Path

from hybridsearch.errors import DataError

#: Files larger than this are refused before reading (bytes).
MAX_BYTES = 200 * 2**20
#: Deeper JSON than this is refused (the deepest layout read, SQuAD's, needs 6 levels).
MAX_JSON_DEPTH = 64

_SURROGATE = re.compile("[\ud800-\udfff]")
_WS = re.compile(r"[ \t\n\r]*")


def format_problems(problems: list[tuple[int, str]]) -> list[str]:
    """(line, message) pairs -> ``line 7: field "answer" is empty`` strings (line 0: whole file)."""
    return [f"line {line}: {msg}" if line else msg for line, msg in problems]


def raise_problems(name: str, problems: list[tuple[int, str]]) -> None:
    """Raise one DataError holding every problem, sorted by line (nothing when there are none)."""
    if not problems:
        return
    problems.sort(key=lambda p: p[0])
    first = format_problems(problems[:1])[0]
    summary = (f"{name} has 1 problem: {first}" if len(problems) == 1 else
               f"{name} has {len(problems)} problems (the first: {first})")
    raise DataError(summary, problems)


def text_problem(field: str, value: str) -> str | None:
    """Why ``value`` cannot be trained on, or None: a lone surrogate (a ``\\ud83d`` escape left
    from half an emoji) is a valid JSON string but no UTF-8 text, and the tokenizer refuses it."""
    m = _SURROGATE.search(value)
    if m is None:
        return None
    return (f'field "{field}" holds an unpaired surrogate \\u{ord(m.group()):04x} at character '
            f"{m.start() + 1} (half of an emoji or character, often cut by a tool); remove or fix it")


def read_bytes(path: Path, what: str = "QA files", hint: str = "split it") -> bytes:
    """A file's bytes, refused when missing or larger than MAX_BYTES (``hint`` says what to do);
    a UTF-8 BOM is dropped."""
    if not path.is_file():
        raise DataError(f"no such file: {path}")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise DataError(f"{path.name} is {size / 2**20:.0f} MB; {what} may be at most "
                        f"{MAX_BYTES / 2**20:.0f} MB ({hint})")
    raw = path.read_bytes()
    return raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw


def decode_text(raw: bytes, name: str) -> str:
    """Bytes -> text; the first line that is not UTF-8 is a line-numbered problem."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DataError(f"{name}: line {line} is not valid UTF-8 text",
                        [(line, f"not valid UTF-8 text (byte 0x{raw[exc.start]:02x} at column {col}); "
                                "save the file as UTF-8")]) from None


def line_at(text: str, pos: int) -> int:
    return text.count("\n", 0, max(0, pos)) + 1


def too_deep_line(text: str, limit: int = MAX_JSON_DEPTH) -> int:
    """The line where JSON nesting first passes ``limit`` levels (0 when it never does)."""
    depth, i, n = 0, 0, len(text)
    opening = re.compile(r'["\[\]{}]')
    while True:
        m = opening.search(text, i)
        if m is None:
            return 0
        c, i = m.group(), m.end()
        if c == '"':
            try:
                _, i = scanstring(text, i)
            except ValueError:
                return 0
        elif c in "[{":
            depth += 1
            if depth > limit:
                return line_at(text, m.start())
        else:
            depth -= 1
        if i >= n:
            return 0


def load_json_document(path: Path, what: str = "JSON files"):
    """Parse a whole-file JSON document -> (object, text); every failure is a line-numbered DataError."""
    text = decode_text(read_bytes(path, what), path.name)
    if not text.strip():
        raise DataError(f"{path.name} is empty", [(1, "the file is empty")])
    try:
        return json.loads(text), text
    except RecursionError:
        deep = too_deep_line(text) or 1
        raise DataError(f"{path.name}: line {deep}: JSON nested more than {MAX_JSON_DEPTH} levels deep",
                        [(deep, f"JSON nested more than {MAX_JSON_DEPTH} levels deep; no QA layout "
                                "is (SQuAD's needs 6)")]) from None
    except ValueError as exc:
        raise DataError(f"{path.name}: line {exc.lineno}: invalid JSON ({exc.msg})",
                        [(exc.lineno, f"invalid JSON ({exc.msg} at column {exc.colno})")]) from None


def json_line(text: str, path: list) -> int:
    """The line of the value at ``path`` (keys and list indices) inside the JSON document ``text``.

    Used to put a line number on a problem found after parsing; the values skipped on the way
    are parsed by the C scanner, so this costs about one parse of the document.
    """
    decoder = json.JSONDecoder()
    pos = _WS.match(text, 0).end()
    for step in path:
        if pos >= len(text):
            break
        opener = text[pos]
        if isinstance(step, int) and opener == "[":
            pos = _WS.match(text, pos + 1).end()
            for _ in range(step):
                try:
                    _, pos = decoder.raw_decode(text, pos)
                except (ValueError, RecursionError):
                    return line_at(text, pos)
                pos = _WS.match(text, pos).end() + 1  # the comma
                pos = _WS.match(text, pos).end()
        elif isinstance(step, str) and opener == "{":
            pos = _WS.match(text, pos + 1).end()
            while pos < len(text) and text[pos] == '"':
                try:
                    key, pos = scanstring(text, pos + 1)
                except ValueError:
                    return line_at(text, pos)
                pos = _WS.match(text, pos).end() + 1  # the colon
                pos = _WS.match(text, pos).end()
                if key == step:
                    break
                try:
                    _, pos = decoder.raw_decode(text, pos)
                except (ValueError, RecursionError):
                    return line_at(text, pos)
                pos = _WS.match(text, pos).end()
                if pos < len(text) and text[pos] == ",":
                    pos = _WS.match(text, pos + 1).end()
            else:
                return line_at(text, pos)
        else:
            break
    return line_at(text, pos)
