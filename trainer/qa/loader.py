"""Which reader a file or folder needs, and what pairs it allows.

``load_parallel_qa(path)`` reads the QA formats (JSONL/CSV/TSV files, XQuAD-R) into a
:class:`ParallelQA`; ``load_pair_sets(path)`` reads any supported data (QA files, XQuAD-R,
MLQA-style sets, Mintaka JSON, line-aligned text, FLORES folders, TMX) into the
:class:`PairSet` kinds it allows. A path may end in ``#SELECTOR``: article indices for XQuAD-R
(``xquad-r#0-27``), a split for FLORES (``flores#dev``).
"""

from __future__ import annotations

from pathlib import Path

from hybridsearch.errors import DataError
from trainer.qa.bitext import (FLORES_SPLITS, flores_languages, line_aligned_files, load_flores,
                               load_line_aligned, load_tmx)
from trainer.qa.mintaka import load_mintaka, looks_like_mintaka
from trainer.qa.qafile import read_qa_file
from trainer.qa.records import PairSet, ParallelQA
from trainer.qa.squad import load_mlqa, load_xquad_r, mlqa_files

#: What ``detect`` may answer.
FORMATS = ("qa-file", "xquad-r", "mlqa", "mintaka", "line-aligned", "flores", "tmx")


def split_selector(spec: str | Path) -> tuple[Path, str | None]:
    """``"path#sel"`` -> (Path("path"), "sel"); a path without ``#`` (or that exists as written,
    ``#`` and all) -> (path, None)."""
    text = str(spec)
    if "#" in text and not Path(text).exists():
        path, sel = text.rsplit("#", 1)
        return Path(path), sel.strip() or None
    return Path(text), None


def looks_like_squad(path: Path) -> bool:
    """A ``.json`` file whose first bytes hold an object with ``"data"`` (the SQuAD layout)."""
    if path.suffix.lower() != ".json":
        return False
    with open(path, "rb") as f:
        head = f.read(4096).lstrip()
    return head.startswith(b"{") and b'"data"' in head


def detect(path: Path) -> str:
    """The format of a file or folder (one of :data:`FORMATS`); DataError when none fits."""
    if not path.exists():
        raise DataError(f"no such file or folder: {path}")
    if path.is_dir():
        if mlqa_files(path):
            return "mlqa"
        if flores_languages(path):
            return "flores"
        if len(line_aligned_files(path)) >= 2:
            return "line-aligned"
        if any(path.glob("*.json")):
            return "xquad-r"
        raise DataError(f"{path}: a folder of data must hold XQuAD-R ({{lang}}.json), MLQA "
                        "(*-context-X-question-Y.json), line-aligned NAME.{lang}.txt files or FLORES "
                        "{lang}_{Script}/{split}.tsv folders")
    if path.suffix.lower() == ".tmx":
        return "tmx"
    if mlqa_files(path):
        return "mlqa"
    if path.suffix.lower() == ".json":
        with open(path, "rb") as f:
            head = f.read(4096)
        if looks_like_mintaka(head):
            return "mintaka"
        if looks_like_squad(path):
            return "xquad-r"
    return "qa-file"


def parse_articles(text: str | None) -> list[int] | None:
    """``"28-35"`` / ``"28,30,33-34"`` -> sorted article indices; None when not given."""
    if not text:
        return None
    out: set[int] = set()
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                a, b = (int(x) for x in part.split("-", 1))
                if b < a:
                    raise ValueError
                out.update(range(a, b + 1))
            elif part:
                out.add(int(part))
    except ValueError:
        raise DataError(f"articles are indices like 28-35 or 28,30, not {text!r}") from None
    if not out or min(out) < 0:
        raise DataError(f"articles are indices like 28-35 or 28,30, not {text!r}")
    return sorted(out)


def load_parallel_qa(spec: str | Path, **kwargs) -> ParallelQA:
    """Read a QA file or an XQuAD-R folder/file (``#ARTICLES`` allowed) -> ParallelQA; raise
    DataError listing every problem with its line."""
    path, sel = split_selector(spec)
    fmt = detect(path)
    if fmt == "xquad-r":
        if sel is not None:
            kwargs["articles"] = parse_articles(sel)
        return load_xquad_r(path, **kwargs)
    if sel is not None:
        raise DataError(f"{path}: '#{sel}' selects XQuAD-R articles or a FLORES split; this is a {fmt} file")
    if fmt != "qa-file":
        raise DataError(f"{path} holds {fmt} data: translations or (question, paragraph) pairs, not "
                        "(question, answer) rows; train on it with --source (docs/qa-format.md)")
    return read_qa_file(path)


def load_pair_sets(spec: str | Path) -> list[PairSet]:
    """Read any supported data -> every kind of positive pairs it allows (see :data:`KINDS`)."""
    path, sel = split_selector(spec)
    fmt = detect(path)
    if fmt == "flores":
        return load_flores(path, sel or "train")
    if sel is not None and fmt != "xquad-r":
        raise DataError(f"{path}: '#{sel}' selects XQuAD-R articles or a FLORES split "
                        f"({', '.join(FLORES_SPLITS)}); this is {fmt} data")
    if fmt == "mlqa":
        return load_mlqa(path)
    if fmt == "mintaka":
        return load_mintaka(path)
    if fmt == "line-aligned":
        return load_line_aligned(path)
    if fmt == "tmx":
        return load_tmx(path)
    return load_parallel_qa(spec).pair_sets()
