"""Weights and tokenizers in and out of other libraries' layouts (Hugging Face today): GPT-2, Llama, BERT."""

from lmlab.interop.hf import (
    gpt_config_from_hf,
    gpt_config_to_hf,
    gpt_state_dict_from_hf,
    gpt_state_dict_to_hf,
    load_hf_gpt2,
    save_hf_gpt2,
)
from lmlab.interop.hf_llama import load_hf_llama, save_hf_llama
from lmlab.interop.hf_tokenizer import load_hf_tokenizer, save_hf_tokenizer

__all__ = [
    "gpt_config_from_hf",
    "gpt_config_to_hf",
    "gpt_state_dict_from_hf",
    "gpt_state_dict_to_hf",
    "load_hf_gpt2",
    "load_hf_llama",
    "load_hf_tokenizer",
    "save_hf_gpt2",
    "save_hf_llama",
    "save_hf_tokenizer",
]
