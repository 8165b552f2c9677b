"""Training data: records (:class:`ParallelQA`, :class:`PairSet`), one reader per format, and the
loader that picks the reader. Formats and their checks: docs/qa-format.md."""

from hybridsearch.errors import DataError
from trainer.qa.loader import detect, load_pair_sets, load_parallel_qa, split_selector
from trainer.qa.records import KINDS, PairSet, ParallelQA, QARow
from trainer.qa.squad import load_xquad_r

__all__ = ["DataError", "KINDS", "PairSet", "ParallelQA", "QARow", "detect", "load_pair_sets",
           "load_parallel_qa", "load_xquad_r", "split_selector"]
