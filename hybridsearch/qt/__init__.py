"""The desktop app (PySide6): the only package of hybridsearch that imports Qt.

Layout: ``app.main`` builds the QApplication and the :class:`~hybridsearch.qt.main_window.MainWindow`,
which holds four pages (``search_page``, ``library_page``, ``training_page``,
``evaluation_page``) around one :class:`~hybridsearch.qt.library_service.LibraryService`.
Long jobs (indexing, training, evaluation) are plain callables from ``hybridsearch`` and
``trainer``; :mod:`hybridsearch.qt.workers` runs them on background threads and turns their
progress callbacks, results and exceptions into signals. Charts (``charts``) read only the flat
metrics dict of an evaluation. ``settings`` remembers choices and window geometry; ``theme``
follows the system light/dark scheme (``HYBRIDSEARCH_THEME=dark|light`` forces one).
"""
