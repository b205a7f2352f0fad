"""Sentence classifiers by name: the config dataclass and module class of each family.

`lmlab classify train --model NAME` looks the family up here, and a run folder's config.json
records NAME so that `classify eval` and `classify predict` rebuild the same model. Every family
follows one contract: ``model(ids (B, T), segments (B, T), labels (B,) or None)`` returns
``(logits (B, n_labels), loss or None)``, with -1 padding in ids and segments.

    bert        Transformer encoder, fine-tuned (lmlab.models.bert)
    lexicon     sentiment lexicon + negation/intensifier/contrast rules + tuned threshold (lexicon.py)
    perceptron  bag of words and bigrams, Rosenblatt's mistake-driven updates (bow.py)
    bow         the same features, logistic regression (bow.py)
    textcnn     Kim (2014) CNN over word vectors (textcnn.py)
    bilstm      bidirectional LSTM with pooling (bilstm.py)
"""

from __future__ import annotations

from lmlab.config import config_from_dict
from lmlab.errors import UserError
from lmlab.models.bert import BertConfig, BertForSequenceClassification
from lmlab.models.bilstm import BiLSTM, BiLSTMConfig
from lmlab.models.bow import BowClassifier, BowConfig
from lmlab.models.lexicon import LexiconClassifier, LexiconConfig
from lmlab.models.textcnn import TextCNN, TextCNNConfig

CLASSIFIERS = {
    "bert": (BertConfig, BertForSequenceClassification),
    "lexicon": (LexiconConfig, LexiconClassifier),
    "perceptron": (BowConfig, BowClassifier),
    "bow": (BowConfig, BowClassifier),
    "textcnn": (TextCNNConfig, TextCNN),
    "bilstm": (BiLSTMConfig, BiLSTM),
}


def build_classifier(name: str, config: dict, source: str = "config"):
    """A classifier of family `name` from its config dict (as saved in config.json)."""
    if name not in CLASSIFIERS:
        raise UserError(f"{source}: unknown classifier {name!r} (known: {', '.join(CLASSIFIERS)})")
    config_class, model_class = CLASSIFIERS[name]
    return model_class(config_from_dict(config_class, config, source))
