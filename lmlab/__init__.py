"""lmlab: every classic NLP model family, from scratch in PyTorch, readable and fast.

The public API is re-exported lazily (PEP 562 module ``__getattr__``), so ``import lmlab`` and
the commands that need no model stay free of torch until a model is actually used::

    import lmlab
    run = lmlab.load_run("runs/cpu-shakespeare")  # run.model, run.tokenizer, run.config
"""

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "UserError": "lmlab.errors",
    "Tokenizer": "lmlab.tokenizers",
    "CharTokenizer": "lmlab.tokenizers",
    "BPETokenizer": "lmlab.tokenizers",
    "load_corpus": "lmlab.data.corpora",
    "split_corpus": "lmlab.data.corpora",
    "GPT": "lmlab.models.gpt",
    "GPTConfig": "lmlab.models.gpt",
    "Trainer": "lmlab.train.trainer",
    "TrainConfig": "lmlab.train.trainer",
    "RunFolder": "lmlab.train.checkpoint",
    "Seq2Seq": "lmlab.models.seq2seq",
    "Seq2SeqConfig": "lmlab.models.seq2seq",
    "MultiHeadAttention": "lmlab.nn.attention",
    "AttentionConfig": "lmlab.nn.attention",
    "BeamConfig": "lmlab.generate.beam",
    "beam_search": "lmlab.generate.beam",
    "SamplingConfig": "lmlab.generate.sampling",
    "generate": "lmlab.generate.sampling",
    "perplexity": "lmlab.evaluate.metrics",
    "load_run": "lmlab.runs",
    "Run": "lmlab.runs",
    "LM_FAMILIES": "lmlab.recipes.families",
    "CLASSIFIERS": "lmlab.recipes.classifier_families",
    "BertConfig": "lmlab.models.bert",
    "BertForPreTraining": "lmlab.models.bert",
    "BertForSequenceClassification": "lmlab.models.bert",
    "Word2VecConfig": "lmlab.embeddings.word2vec",
    "train_word2vec": "lmlab.embeddings.word2vec",
    "WordVectors": "lmlab.embeddings.vectors",
    "load_vectors": "lmlab.embeddings.vectors",
    "distillation_loss": "lmlab.train.distill",
    "quantize_rows": "lmlab.nn.quantize",
    "dequantize_rows": "lmlab.nn.quantize",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'lmlab' has no attribute {name!r}")
