"""The document viewer: the whole indexed text of a document with every keyword hit marked,
next / previous hit, and find in the document."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut, QTextCursor, QTextDocument
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QLineEdit, QPushButton, QTextBrowser, QVBoxLayout

MARK = "background-color:#ffe066; color:#000"
CURRENT = "background-color:#ff9f1c; color:#000"


class DocumentViewer(QDialog):
    """Shows ``text`` (a document's indexed text) with the hits at ``spans`` marked."""

    def __init__(self, title: str, path: str, text: str, spans, start_at: int = 0, parent=None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.resize(900, 700)
        self.text = text
        self.spans = sorted(spans)
        self.current = -1
        lay = QVBoxLayout(self)
        head = QLabel(f"<b>{html.escape(title)}</b><br><span style='color:gray'>{html.escape(path)}</span>")
        head.setTextFormat(Qt.TextFormat.RichText)
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
        if self.view.find(needle):
            return True
        self.view.moveCursor(QTextCursor.MoveOperation.Start)
        return self.view.find(needle)

    def selected_text(self) -> str:
        return self.view.textCursor().selectedText()
