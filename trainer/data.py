"""Moved to :mod:`trainer.qa` (records, readers, loader); kept so that old imports still work."""

from trainer.qa import DataError, ParallelQA, QARow, load_parallel_qa, load_xquad_r  # noqa: F401
from trainer.qa.loader import looks_like_squad as _looks_like_squad  # noqa: F401
