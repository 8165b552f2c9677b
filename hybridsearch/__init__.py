"""hybridsearch: search your own documents in any language."""

__version__ = "0.1.0"
