"""The lab: experiments that answer the notes' questions with measurements (`lmlab experiment`).

Each experiment is one module here, built only from the library (models, nn, train, generate,
evaluate, and `lm.fit` to train): it declares an `EXPERIMENT` record (`lmlab.experiments.lab`)
and writes a run folder of kind ``experiment``. `CATALOG` lists them in the order a student meets
the questions; a module is imported only when its experiment is listed or run.
"""

from __future__ import annotations

import importlib

from lmlab.errors import UserError

CATALOG = {  # name -> module, in the order of docs/lab/README.md
    "nonlinearity": "lmlab.experiments.nonlinearity",
    "ngram-order": "lmlab.experiments.ngram_order",
    "gradients-through-time": "lmlab.experiments.gradients_through_time",
    "attention-scaling": "lmlab.experiments.attention_scaling",
    "score-functions": "lmlab.experiments.score_functions",
    "heads": "lmlab.experiments.heads",
    "masks": "lmlab.experiments.masks",
    "parallelism": "lmlab.experiments.parallelism",
    "positions": "lmlab.experiments.positions",
    "local-attention": "lmlab.experiments.local_attention",
    "norms-and-residuals": "lmlab.experiments.norms_and_residuals",
    "warmup-and-dropout": "lmlab.experiments.warmup_and_dropout",
    "decoding": "lmlab.experiments.decoding",
    "distillation": "lmlab.experiments.distillation",
    "seeds": "lmlab.experiments.seeds",
    "subword-regularization": "lmlab.experiments.subword_regularization",
    "multilingual-segmentation": "lmlab.experiments.multilingual_segmentation",
    "mini-batching": "lmlab.experiments.mini_batching",
}


def experiment(name: str):
    """The `Experiment` record of `name`, or a UserError listing the names."""
    if name not in CATALOG:
        raise UserError(f"unknown experiment {name!r}; choose one of: {', '.join(CATALOG)} (or all)")
    return importlib.import_module(CATALOG[name]).EXPERIMENT


def experiments() -> list:
    return [experiment(name) for name in CATALOG]
