"""lmlab: every classic NLP model family, from scratch in PyTorch, readable and fast.

The public API is re-exported lazily so that ``import lmlab`` (and the commands that need no
model) stay free of torch until a model is actually used.
"""

__version__ = "0.1.0"
