"""The SQLite store: migrations, settings, FTS5 for every script, safe queries, lock errors."""

from __future__ import annotations

import sqlite3

import pytest

from hybridsearch.documents import Chunk
from hybridsearch.errors import LibraryLockedError
from hybridsearch.lexical import fts_query
from hybridsearch.store import SCHEMA_MIGRATIONS, Store


def _doc(store: Store, texts: list[str]) -> list[int]:
    with store.transaction():
        fid = store.conn.execute("INSERT INTO folders (path) VALUES ('/f')").lastrowid
        did = store.conn.execute(
            "INSERT INTO documents (folder_id, path, status) VALUES (?, '/f/a.txt', 'ok')", (fid,)).lastrowid
        return store.insert_chunks(did, [Chunk(t, 0, len(t), 5) for t in texts])


def _match(store: Store, query: str) -> list[int]:
    q = fts_query(query)
    if q is None:
        return []
    return [r[0] for r in store.conn.execute("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?", (q,))]


def test_migrations_are_named_and_applied_once(tmp_path):
    s = Store(tmp_path / "library.db")
    names = [r[0] for r in s.conn.execute("SELECT name FROM migrations")]
    assert names == [n for n, _ in SCHEMA_MIGRATIONS]
    assert s.migrate() == []
    assert s.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with s.transaction():
        s.set("model_identity", "m-1")
    s.close()
    s2 = Store(tmp_path / "library.db")
    assert s2.get("model_identity") == "m-1" and s2.get("missing", 3) == 3


def test_fts_finds_words_in_every_script_and_deletes(tmp_path):
    s = Store(tmp_path / "library.db")
    ids = _doc(s, ["Der Straßenbahnfahrer fährt nach Köln", "北京是中国的首都", "กรุงเทพมหานครเป็นเมืองหลวง",
                   "Москва — столица России", "東京は日本の首都です", "نص عربي قصير", "cafe NEAR the *star*",
                   "हिन्दी भाषा", "مُحَمَّد رسول"])
    assert _match(s, "köln") == [ids[0]] and _match(s, "KOLN") == [ids[0]]  # case and diacritics folded
    assert _match(s, "首都") == [ids[1], ids[4]]  # a two-character CJK word
    assert _match(s, "中") == [ids[1]]  # a single character
    assert _match(s, "เมืองหลวง") == [ids[2]]
    assert _match(s, "москва") == [ids[3]]
    assert _match(s, "عربي") == [ids[5]]
    # vowel signs are part of words (Hindi, Thai): whole words match, not single consonants
    assert _match(s, "हिन्दी") == [ids[7]] and _match(s, "ह") == []
    assert _match(s, "เมือง") == [ids[2]]
    assert _match(s, "محمد") == [ids[8]]  # harakat are ignored
    vocab = {r[0] for r in s.conn.execute("SELECT term FROM chunks_vocab")}
    assert "हिन्दी" in vocab and "koln" in vocab
    # user text is never FTS syntax: quotes, NEAR, *, parentheses, AND/OR/NOT, column filters
    for q in ['"', 'NEAR', 'near(cafe star)', '*star*', 'cafe AND', '(', 'body:cafe', 'NOT', '^', "'",
              'a"b', '-', '{x}']:
        _match(s, q)  # must not raise
    assert _match(s, "NEAR") == [ids[6]]
    assert _match(s, "*star*") == [ids[6]]
    with s.transaction():
        s.delete_chunks_of(1)
    assert _match(s, "köln") == [] and _match(s, "首都") == []
    assert s.conn.execute("SELECT count(*) FROM chunks").fetchone()[0] == 0


def test_a_write_locked_database_gives_a_clear_error(tmp_path):
    s = Store(tmp_path / "library.db", timeout=0.2)
    other = sqlite3.connect(str(tmp_path / "library.db"))
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(LibraryLockedError, match="in use by another hybridsearch process"):
            with s.transaction():
                pass
    finally:
        other.rollback()


def test_a_library_from_before_a_migration_is_upgraded(tmp_path, monkeypatch):
    import hybridsearch.store as store_mod

    monkeypatch.setattr(store_mod, "SCHEMA_MIGRATIONS", SCHEMA_MIGRATIONS[:2])
    old = Store(tmp_path / "library.db")
    ids = _doc(old, ["हिन्दी भाषा का लेख"])
    old.close()
    monkeypatch.setattr(store_mod, "SCHEMA_MIGRATIONS", SCHEMA_MIGRATIONS)
    new = Store(tmp_path / "library.db")  # applies 0003: the FTS table is rebuilt from the chunks
    assert "0003_fts_marks_in_words" in [r[0] for r in new.conn.execute("SELECT name FROM migrations")]
    assert _match(new, "हिन्दी") == ids
    # and 0004: the documents already there are found by their file names
    assert new.conn.execute("SELECT rowid FROM names_fts WHERE names_fts MATCH '\"a\"'").fetchall() == [(1,)]


def test_languages_stored_as_a_variety_become_their_language(tmp_path, monkeypatch):
    import hybridsearch.store as store_mod

    monkeypatch.setattr(store_mod, "SCHEMA_MIGRATIONS", SCHEMA_MIGRATIONS[:5])
    old = Store(tmp_path / "library.db")
    _doc(old, ["哪个队赢得了比赛？"])
    with old.transaction():
        old.conn.execute("UPDATE chunks SET language = 'wuu'")
        old.conn.execute("UPDATE documents SET language = 'wuu'")
    old.close()
    monkeypatch.setattr(store_mod, "SCHEMA_MIGRATIONS", SCHEMA_MIGRATIONS)
    new = Store(tmp_path / "library.db")
    assert new.conn.execute("SELECT DISTINCT language FROM chunks").fetchall() == [("zh",)]
    assert new.conn.execute("SELECT DISTINCT language FROM documents").fetchall() == [("zh",)]
