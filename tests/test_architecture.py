"""The house's walls hold: the import contracts in pyproject.toml (layers, no circles, Qt only in
hybridsearch/qt, torch only in the torch engine and the trainer, the trainer below the entry
points) are kept, and they do fail when a forbidden import is added."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run([str(LINT), "--no-cache", "--no-logo"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300)


def test_the_import_contracts_hold():
    proc = _lint(REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_each_contract_fails_when_a_forbidden_import_is_added(tmp_path):
    """On a copy of the code: Qt in the core, the trainer in the core, the library imported by a
    record (a circle, and a lower layer importing a higher one), torch in search, the trainer
    importing the command line. Every contract reports BROKEN."""
    for name in ("hybridsearch", "trainer"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    add = {
        "hybridsearch/search.py": "import PySide6.QtCore\nimport torch\n",
        "hybridsearch/store.py": "import trainer.evaluate\n",
        "hybridsearch/records.py": "import hybridsearch.library\n",
        "trainer/evaluate.py": "import hybridsearch.cli.main\n",
    }
    for rel, lines in add.items():
        path = tmp_path / rel
        path.write_text(path.read_text(encoding="utf-8") + "\n" + lines, encoding="utf-8")
    proc = _lint(tmp_path)
    out = " ".join(proc.stdout.split())  # long contract names are wrapped
    assert proc.returncode != 0, proc.stdout
    contracts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]
    assert len(contracts) == 6
    for contract in contracts:
        assert f"{contract['name']} BROKEN" in out, proc.stdout
    assert "hybridsearch.search -> torch" in out and "hybridsearch.search -> PySide6" in out


def test_searching_a_library_loads_neither_qt_nor_the_trainer(tmp_path):
    """The library, the command line's start and a keyword search import no Qt, no trainer."""
    code = (
        "import sys\n"
        "from hybridsearch.cli import build_parser\n"
        "from hybridsearch.library import Library\n"
        "build_parser()\n"
        f"lib = Library({str(tmp_path / 'lib')!r})\n"
        "lib.search('anything', mode='lexical')\n"
        "lib.close()\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'torch', 'transformers'))\n"
        "assert not bad, bad\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
