"""SQLite storage of a library: folders, documents, chunks, FTS5, settings; the library's one lock.

In: a database path. Out: a :class:`Store` with the schema applied by named migrations and the
SQL the other modules run, as named constants.

Lexical search works for every script with one FTS5 table fed with ``lexical.fts_body`` (words,
or character bigrams in scripts written without spaces). The FTS table is contentless
(``content=''``): it stores only the index, the text lives once, in ``chunks``.

Locking: ``Store.lock`` (re-entrant) is the one in-process lock of a library. Every statement
runs under it, a transaction holds it until it ends, and the library, the indexer and search
take it around work that must see the database and the vector index together.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

from hybridsearch.errors import HybridSearchError, LibraryLockedError
from hybridsearch.language import MACROLANGUAGE
from hybridsearch.lexical import MARKS, fts_body, fts_name

SCHEMA_MIGRATIONS: list[tuple[str, list[str]]] = [
    ("0001_initial", [
        """CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT)""",
        """CREATE TABLE IF NOT EXISTS folders (
            id INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT NOT NULL UNIQUE,
            include TEXT, exclude TEXT, added_at REAL, last_indexed REAL)""",
        """CREATE TABLE IF NOT EXISTS documents (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            folder_id INTEGER NOT NULL REFERENCES folders(id),
            path TEXT NOT NULL UNIQUE, file_type TEXT, title TEXT,
            size INTEGER, mtime REAL, hash TEXT, language TEXT,
            status TEXT NOT NULL, error TEXT, n_chars INTEGER, indexed_at REAL)""",
        """CREATE INDEX IF NOT EXISTS documents_folder ON documents(folder_id)""",
        # AUTOINCREMENT: chunk ids are hnsw labels, so an id is never reused after a delete.
        """CREATE TABLE IF NOT EXISTS chunks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            document_id INTEGER NOT NULL REFERENCES documents(id),
            ordinal INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
            text TEXT NOT NULL, language TEXT, n_tokens INTEGER,
            UNIQUE(document_id, ordinal))""",
        """CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
            body, content='', tokenize='unicode61 remove_diacritics 2')""",
    ]),
    # document frequencies of FTS terms: lexical search leaves out terms found in most chunks
    ("0002_fts_vocab", [
        """CREATE VIRTUAL TABLE IF NOT EXISTS chunks_vocab USING fts5vocab(chunks_fts, 'row')""",
    ]),
    # combining marks are letters (Hindi, Thai vowel signs were word breaks); accents are folded
    # by fold_token instead of by unicode61
    ("0003_fts_marks_in_words", [
        """DROP TABLE IF EXISTS chunks_fts""",
        f"""CREATE VIRTUAL TABLE chunks_fts USING fts5(body, content='',
            tokenize="unicode61 remove_diacritics 0 tokenchars '{MARKS}'")""",
        lambda conn: _refill_fts(conn),
    ]),
    # file-name search: each document's file and folder name, rowid = document id
    ("0004_document_names", [
        f"""CREATE VIRTUAL TABLE IF NOT EXISTS names_fts USING fts5(name,
            tokenize="unicode61 remove_diacritics 0 tokenchars '{MARKS}'")""",
        lambda conn: conn.executemany(SQL_NAME_INSERT, [(did, fts_name(path)) for did, path in
                                                        conn.execute("SELECT id, path FROM documents")]),
    ]),
    # the page a chunk starts on, in paged documents (PDF); NULL for other formats and for chunks
    # indexed before pages were recorded (a changed file gets its pages when indexed again)
    ("0005_chunk_page", [
        """ALTER TABLE chunks ADD COLUMN page INTEGER""",
    ]),
    # varieties stored as their language (Wu Chinese as Chinese): language.MACROLANGUAGE
    ("0006_macrolanguages", [
        lambda conn: [conn.execute(f"UPDATE {table} SET language = ? WHERE language = ?", (lang, variety))
                      for variety, lang in MACROLANGUAGE.items() for table in ("documents", "chunks")],
    ]),
]


def _refill_fts(conn) -> None:
    """Index every stored chunk again (after a tokenizer change)."""
    rows = conn.execute("SELECT id, text FROM chunks").fetchall()
    conn.executemany(SQL_FTS_INSERT, [(cid, fts_body(text)) for cid, text in rows])

SQL_NAME_INSERT = "INSERT INTO names_fts(rowid, name) VALUES (?, ?)"
SQL_NAME_DELETE = "DELETE FROM names_fts WHERE rowid = ?"
#: documents whose file or folder name matches an FTS5 expression, best first
SQL_NAME_MATCHES = "SELECT rowid, bm25(names_fts) AS rank FROM names_fts WHERE names_fts MATCH ? ORDER BY rank LIMIT ?"
#: the first chunk of each of some documents that pass the filters (a file-name hit's passage)
SQL_FIRST_CHUNKS = """SELECT c.document_id, min(c.id) FROM chunks c JOIN documents d ON d.id = c.document_id
    WHERE c.document_id IN ({marks}) {where} GROUP BY c.document_id"""
SQL_FTS_INSERT = "INSERT INTO chunks_fts(rowid, body) VALUES (?, ?)"
SQL_CHUNK_INSERT = """INSERT INTO chunks (document_id, ordinal, start, "end", text, language, n_tokens)
    VALUES (?, ?, ?, ?, ?, ?, ?)"""
#: a chunk of a paged document (PDF), with the page it starts on
SQL_PAGED_CHUNK_INSERT = """INSERT INTO chunks (document_id, ordinal, start, "end", text, language, n_tokens, page)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)"""
#: Contentless FTS5 deletes need the indexed text again; it is recomputed from chunks.text.
SQL_FTS_DELETE = "INSERT INTO chunks_fts(chunks_fts, rowid, body) VALUES ('delete', ?, ?)"
SQL_CHUNKS_OF_DOC = "SELECT id, text FROM chunks WHERE document_id = ?"
SQL_LEXICAL = """
    SELECT c.id, bm25(chunks_fts) AS rank
    FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid JOIN documents d ON d.id = c.document_id
    WHERE chunks_fts MATCH ? {where}
    ORDER BY rank LIMIT ?"""
#: the same without filters: FTS5 alone, without the joins (10 ms instead of 19 at 100,000 chunks)
SQL_LEXICAL_ALL = """
    SELECT rowid, bm25(chunks_fts) AS rank FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?"""
#: documents with a chunk matching an FTS5 expression (a required phrase, excluded words)
SQL_DOCS_MATCHING = ("SELECT m.document_id FROM chunks_fts JOIN chunks m ON m.id = chunks_fts.rowid "
                     "WHERE chunks_fts MATCH ?")
SQL_TERM_DOCS = "SELECT doc FROM chunks_vocab WHERE term = ?"
SQL_FILTERED_CHUNK_IDS = """
    SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id WHERE 1 {where}"""
SQL_CHUNK_ROWS = """
    SELECT c.id, c.document_id, c.ordinal, c.start, c."end", c.text, c.language, c.page,
           d.path, d.title, d.file_type, d.language AS doc_language, d.mtime, f.path AS folder
    FROM chunks c JOIN documents d ON d.id = c.document_id JOIN folders f ON f.id = d.folder_id
    WHERE c.id IN ({marks})"""
SQL_FOLDER_STATS = """
    SELECT f.id, f.path, f.include, f.exclude, f.last_indexed,
      (SELECT count(*) FROM documents d WHERE d.folder_id = f.id AND d.status = 'ok') AS documents,
      (SELECT count(*) FROM documents d WHERE d.folder_id = f.id AND d.status = 'failed') AS failed,
      (SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id
         WHERE d.folder_id = f.id) AS chunks
    FROM folders f ORDER BY f.path"""
SQL_FOLDER_LANGS = """
    SELECT language, count(*) FROM documents WHERE folder_id = ? AND status = 'ok'
    GROUP BY language ORDER BY count(*) DESC"""
SQL_MIGRATION_DONE = "SELECT 1 FROM migrations WHERE name = ?"
#: folder paths are bound as bytes (path_param), like document paths
SQL_FOLDER_ID = "SELECT id FROM folders WHERE path = CAST(? AS TEXT)"
SQL_FOLDER_PATH = "SELECT path FROM folders WHERE path = CAST(? AS TEXT)"
SQL_FOLDER_INSERT = "INSERT INTO folders (path, include, exclude, added_at) VALUES (CAST(? AS TEXT), ?, ?, ?)"
SQL_FOLDER_PATTERNS = "UPDATE folders SET include = ?, exclude = ? WHERE id = ?"
SQL_FOLDERS_TO_INDEX = "SELECT path, include, exclude FROM folders ORDER BY path"
SQL_UPDATE_FOLDER_INDEXED = "UPDATE folders SET last_indexed = ? WHERE id = ?"
SQL_DOCUMENTS_OF_FOLDER = "SELECT path, id, size, mtime, hash, status FROM documents WHERE folder_id = ?"
SQL_TOUCH_DOCUMENT = "UPDATE documents SET size = ?, mtime = ? WHERE id = ?"
#: a document to be read again at the next scan (as if changed): its text was extracted by an
#: earlier version of the readers
SQL_READ_AGAIN = "UPDATE documents SET mtime = -1, hash = NULL WHERE id = ?"
#: the chunk texts of the documents of one file type
SQL_CHUNK_TEXTS_OF_TYPE = """SELECT c.document_id, c.text FROM chunks c JOIN documents d ON d.id = c.document_id
    WHERE d.file_type = ?"""
SQL_FAILED_FILES = """
    SELECT d.path, d.error, f.path FROM documents d JOIN folders f ON f.id = d.folder_id
    WHERE d.status = 'failed' {where} ORDER BY d.path"""
SQL_LANGUAGES = """
    SELECT language FROM documents WHERE status = 'ok' AND language IS NOT NULL
    UNION SELECT DISTINCT language FROM chunks WHERE language IS NOT NULL"""
SQL_FILE_TYPES = "SELECT DISTINCT file_type FROM documents WHERE status = 'ok'"
SQL_DOCUMENT_LANGUAGES = """
    SELECT language, count(*) FROM documents WHERE status = 'ok' GROUP BY language
    ORDER BY count(*) DESC"""
SQL_LIVE_CHUNK_IDS = "SELECT id FROM chunks WHERE id IN ({marks})"
SQL_CHUNK_TEXTS = "SELECT id, text FROM chunks WHERE id IN ({marks}) ORDER BY id"
#: chunks' texts with their language (the document's where the chunk has none of its own)
SQL_CHUNK_TEXT_LANGUAGES = """SELECT c.id, c.text, coalesce(c.language, d.language) FROM chunks c
    JOIN documents d ON d.id = c.document_id WHERE c.id IN ({marks})"""
SQL_CHUNK_TEXTS_AFTER = "SELECT id, text FROM chunks WHERE id > ? ORDER BY id LIMIT ?"
#: chunk ids, those of the most recently modified documents first (the order vectors are made in)
SQL_CHUNK_IDS_BY_RECENCY = ("SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id "
                            "ORDER BY d.mtime DESC, c.id")
#: the highest chunk id ever given: an O(1) stand-in for the chunk count (count(*) scans)
SQL_MAX_CHUNK_ID = "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'chunks'"
SQL_SAME_LANGUAGE = """SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id
    WHERE c.id IN ({marks}) AND coalesce(c.language, d.language) = ?"""
SQL_DOCUMENT_CHUNKS = """SELECT c.start, c."end", c.text FROM chunks c JOIN documents d ON d.id = c.document_id
    WHERE d.path = CAST(? AS TEXT) ORDER BY c.ordinal"""
SQL_CHUNK_PLACE = """SELECT d.path, c.start, c."end" FROM chunks c JOIN documents d ON d.id = c.document_id
    WHERE c.id = ?"""


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def path_param(path: str) -> bytes:
    """A file path as bytes to bind with ``CAST(? AS TEXT)``: names that are not UTF-8 keep their bytes."""
    return str(path).encode("utf-8", "surrogateescape")


def chunk_texts(store: "Store", ids) -> list[tuple[int, str]]:
    """(id, text) of the given chunks, by id, read 500 at a time."""
    ids = list(ids)
    rows: list = []
    for i in range(0, len(ids), 500):
        part = ids[i:i + 500]
        rows += store.conn.execute(SQL_CHUNK_TEXTS.format(marks=",".join("?" * len(part))), part).fetchall()
    return rows


class Store:
    """The library database: opened in WAL mode, migrated, with helpers used by the indexer.

    In: ``path`` of ``library.db``. Raises :class:`LibraryLockedError` when another process
    holds a write lock for longer than ``timeout`` seconds.
    """

    def __init__(self, path: Path, timeout: float = 5.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(str(self.path), timeout=timeout, check_same_thread=False,
                                   isolation_level=None)
            # file names need not be UTF-8: their bytes are stored as they are (see path_param) and
            # read back with surrogateescape, so the str is the one os.fsdecode gives, losslessly
            conn.text_factory = _text
            self.lock = threading.RLock()
            self.raw = conn
            self.conn = _LockedConnection(conn, self.lock)
            self._set_up(timeout)
        except sqlite3.OperationalError as exc:
            raise translate(exc, self.path) from exc
        except sqlite3.DatabaseError as exc:
            raise HybridSearchError(f"the library database {self.path} is damaged: {exc}") from exc

    def _set_up(self, timeout: float) -> None:
        """WAL mode and migrations, retried while another process sets up the same new library.

        Switching a new database to WAL, and a reader upgrading to a writer, can be refused as
        "locked" at once, without SQLite's busy wait: two processes opening one new library at
        the same instant then failed although neither held it for long.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.raw.execute("PRAGMA journal_mode=WAL")
                self.raw.execute("PRAGMA synchronous=NORMAL")
                self.raw.execute("PRAGMA foreign_keys=ON")
                self.migrate()
                return
            except (sqlite3.OperationalError, LibraryLockedError) as exc:
                locked = isinstance(exc, LibraryLockedError) or "locked" in str(exc) or "busy" in str(exc)
                if not locked or time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)

    def close(self) -> None:
        self.conn.close()

    # -- migrations -------------------------------------------------------------------------
    def migrate(self) -> list[str]:
        """Apply the named migrations not yet recorded in ``migrations``; return their names."""
        self.conn.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at REAL)")
        done = {r[0] for r in self.conn.execute("SELECT name FROM migrations")}
        applied = []
        for name, statements in SCHEMA_MIGRATIONS:
            if name in done:
                continue
            with self.transaction():
                # another process opening the same new library may have applied it meanwhile
                # (applying it twice failed on migrations' key and read as "database damaged")
                if self.conn.execute(SQL_MIGRATION_DONE, (name,)).fetchone():
                    continue
                for step in statements:  # SQL text, or a function of the connection
                    if callable(step):
                        step(self.raw)
                    else:
                        self.raw.execute(step)
                self.conn.execute("INSERT INTO migrations VALUES (?, ?)", (name, time.time()))
            applied.append(name)
        return applied

    def transaction(self):
        """A write transaction (BEGIN IMMEDIATE: fail fast with a clear error if locked)."""
        return _Tx(self)

    # -- settings ---------------------------------------------------------------------------
    def get(self, key: str, default=None):
        row = self.conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set(self, key: str, value) -> None:
        """Set a setting (inside the caller's transaction, if any)."""
        self.conn.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", (key, json.dumps(value)))

    # -- chunks -----------------------------------------------------------------------------
    def insert_chunks(self, document_id: int, chunks) -> list[int]:
        """Insert a document's chunks and their FTS rows; return the new chunk ids."""
        ids = []
        for i, ch in enumerate(chunks):
            page = getattr(ch, "page", None)
            cur = self.conn.execute(
                SQL_CHUNK_INSERT if page is None else SQL_PAGED_CHUNK_INSERT,
                (document_id, i, ch.start, ch.end, ch.text, ch.language, ch.n_tokens)
                + (() if page is None else (page,)))
            ids.append(cur.lastrowid)
            self.conn.execute(SQL_FTS_INSERT, (cur.lastrowid, fts_body(ch.text)))
        return ids

    def delete_chunks_of(self, document_id: int) -> list[int]:
        """Delete a document's chunks and FTS rows; return the deleted chunk ids."""
        rows = self.conn.execute(SQL_CHUNKS_OF_DOC, (document_id,)).fetchall()
        for cid, text in rows:
            self.conn.execute(SQL_FTS_DELETE, (cid, fts_body(text)))
        self.conn.execute("DELETE FROM chunks WHERE document_id = ?", (document_id,))
        return [r[0] for r in rows]

    def delete_document(self, document_id: int) -> list[int]:
        ids = self.delete_chunks_of(document_id)
        self.conn.execute(SQL_NAME_DELETE, (document_id,))
        self.conn.execute("DELETE FROM documents WHERE id = ?", (document_id,))
        return ids

    def delete_folder(self, path: str) -> list[int]:
        """Delete a folder with its documents and chunks (in the caller's transaction); return
        the deleted chunk ids."""
        fid = self.conn.execute(SQL_FOLDER_ID, (path_param(path),)).fetchone()[0]
        dead: list[int] = []
        for (did,) in self.conn.execute("SELECT id FROM documents WHERE folder_id = ?", (fid,)).fetchall():
            dead += self.delete_document(did)
        self.conn.execute("DELETE FROM folders WHERE id = ?", (fid,))
        return dead

    def upsert_document(self, row: dict, document_id: int | None) -> int:
        """Write a document row: update ``document_id``, or insert when None; return its id."""
        row = {**row, "path": path_param(row["path"])}
        value = {k: ("CAST(:path AS TEXT)" if k == "path" else f":{k}") for k in row}
        if document_id is not None:
            sets = ", ".join(f"{k} = {value[k]}" for k in row)
            self.conn.execute(f"UPDATE documents SET {sets} WHERE id = :id", {**row, "id": document_id})
        else:
            document_id = self.conn.execute(
                f"INSERT INTO documents ({', '.join(row)}) VALUES ({', '.join(value.values())})",
                row).lastrowid
        path = self.conn.execute("SELECT path FROM documents WHERE id = ?", (document_id,)).fetchone()[0]
        self.conn.execute(SQL_NAME_DELETE, (document_id,))
        self.conn.execute(SQL_NAME_INSERT, (document_id, fts_name(path)))
        return document_id

    def chunk_ids(self) -> set[int]:
        return {r[0] for r in self.conn.execute("SELECT id FROM chunks")}

    def count(self, sql: str, params=()) -> int:
        return int(self.conn.execute(sql, params).fetchone()[0])


class _Result:
    """A statement's rows, fetched while the lock was held (safe to read in any thread)."""

    def __init__(self, cur: sqlite3.Cursor):
        self.description = cur.description
        self.lastrowid = cur.lastrowid
        self.rowcount = cur.rowcount
        self._rows = cur.fetchall()

    def fetchall(self):
        return self._rows

    def fetchone(self):
        return self._rows[0] if self._rows else None

    def __iter__(self):
        return iter(self._rows)


class _LockedConnection:
    """The connection shared by the GUI thread and an indexing thread: one statement at a time,
    and a transaction excludes other threads until it ends (see ``Store.transaction``)."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock):
        self._conn, self._lock = conn, lock

    def execute(self, sql: str, params=()):
        with self._lock:
            try:
                return _Result(self._conn.execute(sql, params))
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise translate(exc, Path(self._conn.execute("PRAGMA database_list").fetchone()[2])) from exc
                raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class _Tx:
    def __init__(self, store: Store):
        self.store = store

    def __enter__(self):
        self.store.lock.acquire()
        try:
            self.store.raw.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            self.store.lock.release()
            raise translate(exc, self.store.path) from exc
        return self.store

    def _rollback(self) -> None:
        # SQLite may have rolled back already (a full disk does): a second ROLLBACK would raise
        # "cannot rollback - no transaction is active" and hide the real error
        if self.store.raw.in_transaction:
            try:
                self.store.raw.execute("ROLLBACK")
            except sqlite3.OperationalError:
                pass

    def __exit__(self, et, ev, tb):
        try:
            if et is None:
                try:
                    self.store.raw.execute("COMMIT")
                except sqlite3.OperationalError as exc:
                    self._rollback()
                    raise translate(exc, self.store.path) from exc
            else:
                self._rollback()
                if issubclass(et, sqlite3.OperationalError):  # a write failed: say what happened
                    raise translate(ev, self.store.path) from ev
        finally:
            self.store.lock.release()
        return False


def translate(exc: sqlite3.OperationalError, path: Path) -> HybridSearchError:
    """Map SQLite's lock errors to :class:`LibraryLockedError`, others to a plain message."""
    msg = str(exc)
    if "locked" in msg or "busy" in msg:
        return LibraryLockedError(
            f"the library is in use by another hybridsearch process ({path}); close the app or "
            "wait for the other command to finish, then try again")
    if "disk is full" in msg or "disk I/O error" in msg:
        return HybridSearchError(
            f"the disk is full: the library database ({path}) could not be written ({msg}). Nothing was "
            "lost: what was indexed before is kept, and status and search still work. Free some space "
            "and run the command again.")
    return HybridSearchError(f"library database error ({path}): {msg}")
