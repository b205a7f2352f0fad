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
    "ngram-order": "lmlab.experiments.ngram_order",
    "nonlinearity": "lmlab.experiments.nonlinearity",
    "gradients-through-time": "lmlab.experiments.gradients_through_time",
    "parallelism": "lmlab.experiments.parallelism",
    "subword-regularization": "lmlab.experiments.subword_regularization",
    "multilingual-segmentation": "lmlab.experiments.multilingual_segmentation",
    "attention-scaling": "lmlab.experiments.attention_scaling",
    "score-functions": "lmlab.experiments.score_functions",
    "masks": "lmlab.experiments.masks",
    "heads": "lmlab.experiments.heads",
    "positions": "lmlab.experiments.positions",
    "norms-and-residuals": "lmlab.experiments.norms_and_residuals",
    "local-attention": "lmlab.experiments.local_attention",
    "warmup-and-dropout": "lmlab.experiments.warmup_and_dropout",
    "decoding": "lmlab.experiments.decoding",
    "mini-batching": "lmlab.experiments.mini_batching",
    "distillation": "lmlab.experiments.distillation",
    "seeds": "lmlab.experiments.seeds",
}


def experiment(name: str):
    """The `Experiment` record of `name`, or a UserError listing the names."""
    if name not in CATALOG:
        raise UserError(f"unknown experiment {name!r}; choose one of: {', '.join(CATALOG)} (or all)")
    return importlib.import_module(CATALOG[name]).EXPERIMENT


def experiments() -> list:
    return [experiment(name) for name in CATALOG]
