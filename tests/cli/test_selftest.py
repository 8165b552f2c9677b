"""``hybridsearch --self-test`` from the source install, with the real model (about 20-30 s)."""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata

import pytest

from hybridsearch.cli import selftest


def _script(text: str) -> str:
    for ch in text:
        if ch.isalpha():
            name = unicodedata.name(ch, "")
            for script in ("CYRILLIC", "CJK", "ARABIC", "DEVANAGARI", "GREEK", "HIRAGANA", "KATAKANA"):
                if name.startswith(script):
                    return script
            return "LATIN"
    return "?"


def test_sample_is_multilingual_and_queries_cross_languages():
    langs = {lang for lang, _s, _t in selftest.DOCUMENTS.values()}
    scripts = {_script(text) for _l, _s, text in selftest.DOCUMENTS.values()}
    assert len(langs) >= 6 and len(scripts) >= 3, (langs, scripts)
    assert len(selftest.QUERIES) >= 8
    assert {q.expected for q in selftest.QUERIES} <= set(selftest.DOCUMENTS)
    for q in selftest.QUERIES:  # every query is in another language than its target document
        assert q.language != selftest.DOCUMENTS[q.expected][0], q
    assert len({q.language for q in selftest.QUERIES}) >= 6
    assert len({_script(q.text) for q in selftest.QUERIES}) >= 3


def test_self_test_passes_from_the_command_line(isolated_home, base_model_dir, tmp_path):
    tmp = tmp_path / "tmp"  # its own temporary directory: other processes' self-tests stay out of it
    tmp.mkdir()
    env = dict(os.environ, HYBRIDSEARCH_HOME=str(isolated_home), PYTHONIOENCODING="utf-8", TMPDIR=str(tmp))
    proc = subprocess.run([sys.executable, "-m", "hybridsearch", "--self-test"], env=env,
                          capture_output=True, text=True, encoding="utf-8", timeout=240)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "self-test passed" in out
    assert f"{len(selftest.QUERIES)}/{len(selftest.QUERIES)}" in out
    # the table shows every query with its result
    for q in selftest.QUERIES:
        line = next(line for line in out.splitlines() if q.expected in line and line.rstrip().endswith("pass"))
        assert line
    # the sample and its library were temporary: nothing of them is left in the user's data
    assert not (isolated_home / "data" / "library").exists()
    assert not list(tmp.glob("hybridsearch-selftest-*"))


def test_self_test_fails_with_a_model_that_cannot_search(tiny_model_dir, capsys):
    """A random (untrained) model must not pass: exit code 1 and FAIL rows in the table."""
    code = selftest.run_self_test(model=str(tiny_model_dir))
    out = capsys.readouterr().out
    assert code == 1
    assert "self-test FAILED" in out
    assert "FAIL" in out.split("self-test FAILED")[0]


def test_smoke_window_shows_the_main_window(isolated_home):
    env = dict(os.environ, HYBRIDSEARCH_HOME=str(isolated_home), QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-m", "hybridsearch.qt.smoke"], env=env,
                          capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "main window shown: 'hybridsearch'" in proc.stdout
