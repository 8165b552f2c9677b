"""The plain records every layer passes around: search results, folder and indexing reports.

Out: dataclasses with no behaviour beyond holding values (no Qt, no SQL, no encoder), so the
GUI, the CLI, the indexer and search can all import them without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class FolderInfo:
    """A library folder and what is indexed from it."""

    path: str
    documents: int = 0
    chunks: int = 0
    languages: dict[str, int] = field(default_factory=dict)
    last_indexed: datetime | None = None
    failed: int = 0
    include: list[str] | None = None
    exclude: list[str] | None = None


@dataclass
class FailedFile:
    """A file that could not be indexed, and why (shown to the user as is)."""

    path: str
    reason: str
    folder: str | None = None


@dataclass
class Snippet:
    """An excerpt of a passage for a result list, with the query's terms as spans.

    ``text``: the excerpt, whitespace runs collapsed to one space; ``spans``: (start, end) of
    the terms in ``text``; ``cut_before``/``cut_after``: the passage goes on before/after it (a
    view shows "…").
    """

    text: str
    spans: list[tuple[int, int]] = field(default_factory=list)
    cut_before: bool = False
    cut_after: bool = False


def place_label(file_type: str | None, page: int | None) -> str:
    """Where a passage is, as a result list says it: "p. 12" in a PDF, "slide 3" in a presentation;
    "" without a page."""
    if not page:
        return ""
    return f"slide {int(page)}" if file_type == "pptx" else f"p. {int(page)}"


@dataclass
class Passage:
    """A matching chunk: its text, its character offsets in the document text, its highlights.

    ``spans``: (start, end) offsets in ``text`` of the query's terms, merged (what a view marks).
    ``snippet``: an excerpt of ``text`` around the first term, whitespace collapsed, with its
    own spans (a :class:`Snippet`). ``snippet_html`` is the same excerpt
    as HTML-escaped text with the spans wrapped in ``<b>…</b>``. ``page``: the PDF page or PPTX
    slide the passage starts on (1-based), for "p. 12" / "slide 3" in result lists
    (:func:`place_label`) and to open a PDF at that page.
    """

    chunk_id: int
    text: str
    start: int
    end: int
    language: str | None
    score: float
    snippet_html: str = ""
    spans: list[tuple[int, int]] = field(default_factory=list)
    snippet: Snippet | None = None
    #: the page the passage starts on, in paged documents (PDF); None for other formats
    page: int | None = None


@dataclass
class DocumentResult:
    """One document in a result list: best passage first, further matching passages in ``more``."""

    path: str
    title: str
    folder: str
    file_type: str
    language: str | None
    score: float
    modified: datetime
    best: Passage
    more: list[Passage] = field(default_factory=list)


@dataclass
class Context:
    """Document text around a passage: ``text`` with the passage at ``[start, end)`` within it.

    ``doc_start`` is the offset of ``text`` in the whole document text.
    """

    path: str
    text: str
    start: int
    end: int
    doc_start: int


@dataclass
class IndexReport:
    """What an ``index()`` run did."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    failed: int = 0
    chunks_added: int = 0
    #: vectors made by the embedding phase (new chunks and any left without one by a crash)
    chunks_embedded: int = 0
    repaired_vectors: int = 0
    cancelled: bool = False
    seconds: float = 0.0
    #: seconds until every file was keyword-searchable (the first phase)
    keyword_seconds: float = 0.0
    encode_seconds: float = 0.0
    failures: list[FailedFile] = field(default_factory=list)


#: The summary metrics of an evaluation (keys of its flat metrics dict) with their column
#: headings, in the order every table shows them (CLI, model cards, the desktop app, benchmarks).
SUMMARY_COLUMNS: list[tuple[str, str]] = [("map", "mAP"), ("mono_mrr", "mono MRR"), ("cross_mrr", "cross MRR"),
                                          ("rank_distance", "rank dist"), ("qlf_rate", "QLF rate")]
SUMMARY_KEYS: tuple[str, ...] = tuple(k for k, _ in SUMMARY_COLUMNS)
