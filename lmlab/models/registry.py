"""Model families by name: the config dataclass and the module class of each."""

from __future__ import annotations

from lmlab.config import config_from_dict
from lmlab.errors import UserError
from lmlab.models.gpt import GPT, GPTConfig

MODELS = {"gpt": (GPTConfig, GPT)}


def build_model(model_type: str, config: dict, source: str = "config"):
    """Build a model of family `model_type` from its config dict (as saved in config.json)."""
    if model_type not in MODELS:
        raise UserError(f"{source}: unknown model type {model_type!r} (known: {', '.join(MODELS)})")
    config_class, model_class = MODELS[model_type]
    return model_class(config_from_dict(config_class, config, source))
