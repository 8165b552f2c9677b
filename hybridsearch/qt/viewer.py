"""The document viewer: the whole indexed text of a document with every keyword hit marked,
next / previous hit, and find in the document; a PDF also as its pages, opened at the passage's page."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut, QTextCursor, QTextDocument
from PySide6.QtWidgets import (QDialog, QHBoxLayout, QLabel, QLineEdit, QPushButton, QTabWidget, QTextBrowser,
                               QVBoxLayout)

MARK = "background-color:#ffe066; color:#000"
CURRENT = "background-color:#ff9f1c; color:#000"


def pdf_support() -> bool:
    """Whether Qt PDF (PySide6's QtPdf and QtPdfWidgets) is installed: the page view needs it."""
    try:
        import PySide6.QtPdf  # noqa: F401
        import PySide6.QtPdfWidgets  # noqa: F401
    except ImportError:
        return False
    return True


class DocumentViewer(QDialog):
    """Shows ``text`` (a document's indexed text) with the hits at ``spans`` marked; for a PDF with
    a known ``page`` (1-based) also the document's pages, opened at that one.

    A PDF's pages are on the first tab, the text with its hit navigation and find on the second
    (hit navigation and find switch to it). Without Qt PDF (or when the file cannot be opened)
    the text is shown alone and the header says which page the passage is on, and why the pages
    are not shown.
    """

    def __init__(self, title: str, path: str, text: str, spans, start_at: int = 0, parent=None,
                 page: int | None = None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.resize(900, 700)
        self.text = text
        self.spans = sorted(spans)
        self.current = -1
        self.page = page
        self.pdf_view = None
        self.pdf_document = None
        self._page_shown = False
        lay = QVBoxLayout(self)
        where = ""
        pages_note = ""
        if page and str(path).lower().endswith(".pdf"):
            pages_note = self._open_pdf(path, page)
            where = f" · page {page}" + (f" ({pages_note})" if pages_note else "")
        elif page:  # a presentation: the text, and the slide the passage is on
            where = f" · slide {page}"
        head = QLabel(f"<b>{html.escape(title)}</b>{html.escape(where)}<br>"
                      f"<span style='color:gray'>{html.escape(path)}</span>")
        head.setTextFormat(Qt.TextFormat.RichText)
        self.header = head
        lay.addWidget(head)
        row = QHBoxLayout()
        self.prev_btn = QPushButton("◀ Previous hit")
        self.next_btn = QPushButton("Next hit ▶")
        self.hit_label = QLabel("")
        self.find = QLineEdit()
        self.find.setPlaceholderText("Find in document (Enter: next)")
        self.find.setClearButtonEnabled(True)
        row.addWidget(self.prev_btn)
        row.addWidget(self.next_btn)
        row.addWidget(self.hit_label)
        row.addStretch(1)
        row.addWidget(self.find, 1)
        lay.addLayout(row)
        self.view = QTextBrowser()
        self.view.setOpenLinks(False)
        self.tabs = None
        if self.pdf_view is not None:
            self.tabs = QTabWidget()
            self.tabs.addTab(self.pdf_view, f"Pages (at page {page})")
            self.tabs.addTab(self.view, "Text with hits")
            lay.addWidget(self.tabs, 1)
        else:
            lay.addWidget(self.view, 1)
        self.prev_btn.clicked.connect(self.previous_hit)
        self.next_btn.clicked.connect(self.next_hit)
        self.find.returnPressed.connect(self.find_next)
        for seq, slot in (("F3", self.next_hit), ("Shift+F3", self.previous_hit)):
            QShortcut(QKeySequence(seq), self).activated.connect(slot)
        self._render()
        first = next((i for i, (s, _) in enumerate(self.spans) if s >= start_at), 0 if self.spans else -1)
        if first >= 0:
            self.go_to(first)
        self._update_label()

    def _open_pdf(self, path: str, page: int) -> str:
        """Load the PDF's pages at ``page``; '' when shown, else why not (said in the header)."""
        if Path(path).suffix.lower() != ".pdf":
            return ""
        if not pdf_support():
            return "the page view needs Qt PDF (PySide6_Pdf)"
        from PySide6.QtPdf import QPdfDocument
        from PySide6.QtPdfWidgets import QPdfView

        doc = QPdfDocument(self)
        if doc.load(path) != QPdfDocument.Error.None_ or doc.pageCount() < 1:
            return "the file cannot be shown: moved, changed or unreadable since it was indexed"
        view = QPdfView(self)
        view.setDocument(doc)
        view.setPageMode(QPdfView.PageMode.MultiPage)
        view.setZoomMode(QPdfView.ZoomMode.FitToWidth)
        self.pdf_document, self.pdf_view = doc, view
        return ""

    def showEvent(self, event):  # noqa: N802
        super().showEvent(event)
        if self.pdf_view is not None and self.page and not self._page_shown:
            # once the view is laid out (a jump before that is undone by the first layout), and
            # only on opening: shown again after being minimised, it stays where the reader was
            self._page_shown = True
            QTimer.singleShot(0, self, self.show_page)

    def show_page(self, page: int | None = None) -> None:
        """Scroll the page view to ``page`` (1-based; the passage's page by default)."""
        if self.pdf_view is None:
            return
        page = min(max(1, page or self.page or 1), self.pdf_document.pageCount())
        self.pdf_view.pageNavigator().jump(page - 1, QPointF(), 0)

    def shown_page(self) -> int | None:
        """The PDF page (1-based) the page view shows, or None without one."""
        if self.pdf_view is None:
            return None
        return self.pdf_view.pageNavigator().currentPage() + 1

    def _render(self) -> None:
        out, pos = [], 0
        for i, (s, e) in enumerate(self.spans):
            out.append(html.escape(self.text[pos:s]))
            style = CURRENT if i == self.current else MARK
            out.append(f"<a name='hit{i}'></a><span style='{style}'>{html.escape(self.text[s:e])}</span>")
            pos = e
        out.append(html.escape(self.text[pos:]))
        body = "".join(out).replace("\n\n", "<br><br>").replace("\n", "<br>")
        self.view.setHtml(f"<div style='line-height:140%'>{body}</div>")

    def go_to(self, i: int) -> None:
        """Make hit ``i`` the current one and scroll to it."""
        if not self.spans:
            return
        if self.tabs is not None and self.isVisible():  # hit navigation is on the text
            self.tabs.setCurrentWidget(self.view)
        self.current = i % len(self.spans)
        self._render()
        self.view.scrollToAnchor(f"hit{self.current}")
        self._update_label()

    def next_hit(self) -> None:
        self.go_to(self.current + 1)

    def previous_hit(self) -> None:
        self.go_to(self.current - 1 if self.current >= 0 else -1)

    def _update_label(self) -> None:
        n = len(self.spans)
        self.hit_label.setText(f"hit {self.current + 1} of {n}" if n and self.current >= 0 else
                               ("no keyword hits" if not n else f"{n} hits"))
        self.prev_btn.setEnabled(n > 1)
        self.next_btn.setEnabled(n > 1)

    def find_next(self) -> bool:
        """Select the next occurrence of the find box's text (wrapping around)."""
        needle = self.find.text()
        if not needle:
            return False
        if self.tabs is not None:
            self.tabs.setCurrentWidget(self.view)
        if self.view.find(needle):
            return True
        self.view.moveCursor(QTextCursor.MoveOperation.Start)
        return self.view.find(needle)

    def selected_text(self) -> str:
        return self.view.textCursor().selectedText()
