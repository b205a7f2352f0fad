"""Weights in and out of other libraries' layouts (Hugging Face today)."""

from lmlab.interop.hf import (
    gpt_config_from_hf,
    gpt_config_to_hf,
    gpt_state_dict_from_hf,
    gpt_state_dict_to_hf,
    load_hf_gpt2,
    save_hf_gpt2,
)

__all__ = [
    "gpt_config_from_hf",
    "gpt_config_to_hf",
    "gpt_state_dict_from_hf",
    "gpt_state_dict_to_hf",
    "load_hf_gpt2",
    "save_hf_gpt2",
]
