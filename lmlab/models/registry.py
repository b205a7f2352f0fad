"""Model families by name: the config dataclass and the module class of each."""

from __future__ import annotations

from lmlab.config import config_from_dict
from lmlab.errors import UserError
from lmlab.models.cnn_lm import CNNLM, CNNLMConfig
from lmlab.models.ffnn_lm import FFNNLM, FFNNLMConfig
from lmlab.models.gpt import GPT, GPTConfig
from lmlab.models.ngram import NGramConfig, NGramLM
from lmlab.models.rnn_lm import RNNLM, RNNLMConfig

# rnn, lstm and gru are one class whose config names the cell (RNNLMConfig.cell == the family)
MODELS = {"gpt": (GPTConfig, GPT), "ngram": (NGramConfig, NGramLM), "ffnn": (FFNNLMConfig, FFNNLM),
          "rnn": (RNNLMConfig, RNNLM), "lstm": (RNNLMConfig, RNNLM), "gru": (RNNLMConfig, RNNLM),
          "cnn": (CNNLMConfig, CNNLM)}


def build_model(model_type: str, config: dict, source: str = "config"):
    """Build a model of family `model_type` from its config dict (as saved in config.json)."""
    if model_type not in MODELS:
        raise UserError(f"{source}: unknown model type {model_type!r} (known: {', '.join(MODELS)})")
    config_class, model_class = MODELS[model_type]
    return model_class(config_from_dict(config_class, config, source))
