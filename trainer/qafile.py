"""Moved to :mod:`trainer.qa.qafile`; kept so that old imports still work."""

from trainer.qa.checks import MAX_BYTES, format_problems  # noqa: F401
from trainer.qa.languages import COMMON_BCP47, ISO_639_1, LANGUAGE_CODES, normalize_language  # noqa: F401
from trainer.qa.qafile import read_qa_file  # noqa: F401
