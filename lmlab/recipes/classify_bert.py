"""How the BERT classifier starts a run: pretrained weights (MiniLM, a Hugging Face folder, an
`lmlab bert pretrain` run) or from scratch with a WordPiece vocabulary trained on train.tsv.

BERT's fine-tuning recipe (Devlin et al., 2019): start from pretrained weights, put one linear
layer on the pooled [CLS] vector (or the mean of the tokens, `pooling=mean`), train everything.
"""

from __future__ import annotations

import copy
from pathlib import Path

from lmlab.config import config_from_dict
from lmlab.models.bert import BertConfig, BertForPreTraining, BertForSequenceClassification
from lmlab.recipes.common import say
from lmlab.tokenizers import Tokenizer
from lmlab.tokenizers.wordpiece import WordPieceTokenizer
from lmlab.train.checkpoint import RunFolder


def start_bert(family, config, init: str, train_examples: list, n_labels: int):
    """(model, tokenizer, where the weights came from) for `--init minilm|PATH|scratch`."""
    if init == "scratch":
        say(f"training a WordPiece tokenizer ({config.data.vocab_size} entries) on the training sentences")
        tokenizer = WordPieceTokenizer().train([e.text for e in train_examples], vocab_size=config.data.vocab_size)
        model_config = copy.deepcopy(config.model)
        model_config.vocab_size, model_config.n_labels = tokenizer.vocab_size, n_labels
        return family.model_class(model_config), tokenizer, "scratch"
    path = Path(init).expanduser()
    if RunFolder(path).is_run():
        return _from_pretraining_run(path, n_labels, config.model)
    from lmlab.data.pretrained import pretrained_folder
    from lmlab.interop.hf_bert import load_hf_bert, load_hf_wordpiece

    folder = pretrained_folder(init)
    model = load_hf_bert(folder, BertForSequenceClassification, n_labels=n_labels, dropout=config.model.dropout,
                         pooling=config.model.pooling)
    return model, load_hf_wordpiece(folder), str(folder)


def _from_pretraining_run(path: Path, n_labels: int, fine_tuning: BertConfig):
    """The encoder of an `lmlab bert pretrain` run; the MLM and NSP heads are left behind."""
    run = RunFolder(path)
    saved = run.read_config(expect="bert-pretrain", command="lmlab classify train --init")
    pretrained = BertForPreTraining(config_from_dict(BertConfig, saved["model"], str(run.config_path)))
    run.load_model(pretrained)
    model_config = copy.deepcopy(pretrained.config)
    model_config.n_labels, model_config.dropout, model_config.pooling = n_labels, fine_tuning.dropout, fine_tuning.pooling
    model = BertForSequenceClassification(model_config)
    model.bert.load_state_dict(pretrained.bert.state_dict())
    return model, Tokenizer.load(run.tokenizer_path), str(path)
