"""Small shared widgets: an inline message banner, section headers, status text set at once."""

from __future__ import annotations

import html

from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton

STYLES = {
    "error": ("#fdecea", "#611a15", "#f5c2c0"),
    "warning": ("#fff4e5", "#663c00", "#ffd699"),
    "info": ("#e8f4fd", "#0d3c61", "#b6dcf7"),
    "success": ("#edf7ed", "#1e4620", "#b7dfb9"),
}


class Banner(QFrame):
    """An inline message (error, warning, info, success) that can be dismissed."""

    def __init__(self, parent=None, closable: bool = True):
        super().__init__(parent)
        self.kind = ""
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 6, 6)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.label, 1)
        #: an optional action beside the message ("Copy path"); set by show_message
        self.action_btn = QPushButton()
        self.action_btn.setVisible(False)
        self.action_btn.clicked.connect(self._run_action)
        self._action = None
        lay.addWidget(self.action_btn, 0, Qt.AlignmentFlag.AlignTop)
        self.close_btn = QToolButton()
        self.close_btn.setText("✕")
        self.close_btn.setAutoRaise(True)
        self.close_btn.setToolTip("Dismiss")
        self.close_btn.clicked.connect(self.hide)
        self.close_btn.setVisible(closable)
        lay.addWidget(self.close_btn, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_message(self, kind: str, text: str, rich: bool = False, action: tuple[str, object] | None = None) -> None:
        """Show ``text``; ``action`` = (button label, callable) adds a button beside it."""
        self._action = action[1] if action else None
        self.action_btn.setText(action[0] if action else "")
        self.action_btn.setVisible(action is not None)
        bg, fg, border = STYLES.get(kind, STYLES["info"])
        self.kind = kind
        self.setStyleSheet(f"Banner {{ background:{bg}; border:1px solid {border}; border-radius:4px; }}"
                           f"QLabel {{ color:{fg}; }} QToolButton {{ color:{fg}; }}")
        self.label.setText(text if rich else html.escape(text).replace("\n", "<br>"))
        self.show()

    def text(self) -> str:
        return self.label.text()

    def _run_action(self) -> None:
        if self._action is not None:
            self._action()


def heading(text: str) -> QLabel:
    lab = QLabel(f"<b>{html.escape(text)}</b>")
    lab.setTextFormat(Qt.TextFormat.RichText)
    return lab


def set_text_now(label: QLabel, text: str) -> None:
    """Set a status label's text and lay out its row at once. Qt relayouts on its next pass; while
    the model's loading thread holds the interpreter, a frame painted before that pass shows the
    new text in the old width ("Loading the model…" as "L" or "Loadin")."""
    label.setText(text)
    if label.parentWidget() is not None:
        QCoreApplication.sendPostedEvents(label.parentWidget(), QEvent.Type.LayoutRequest)
