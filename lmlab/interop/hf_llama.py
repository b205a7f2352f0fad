"""A GPT with RoPE, RMSNorm and SwiGLU is a Llama: weights in and out of `LlamaForCausalLM`'s layout.

GPT-2 has learned positions, LayerNorm and a GELU MLP, so a GPT configured like LLaMA
(``--set pos=rope --set norm=rmsnorm --set activation=swiglu``) has no GPT2LMHeadModel; its
architecture is Llama's, part for part:

    lmlab (GPT, pre-norm)                 transformers (LlamaForCausalLM)
    token_embedding.weight     (V, C)     model.embed_tokens.weight
    blocks.{i}.ln_1.weight                model.layers.{i}.input_layernorm.weight      (RMSNorm)
    blocks.{i}.attn.qkv.*  (C+2K, C)      model.layers.{i}.self_attn.{q,k,v}_proj.*    (split; K = kv heads x D)
    blocks.{i}.attn.proj.*                model.layers.{i}.self_attn.o_proj.*
    blocks.{i}.ln_2.weight                model.layers.{i}.post_attention_layernorm.weight
    blocks.{i}.mlp.{gate,up,down}.*       model.layers.{i}.mlp.{gate,up,down}_proj.*   (SwiGLU)
    ln_f.weight                           model.norm.weight
    lm_head.weight (unless tied)          lm_head.weight

Both rotate queries and keys in the "rotate half" layout (dimension i with i + D/2) with base
10000, so no permutation of the projections is needed. Grouped-query attention (`n_kv_head`) is
Llama's `num_key_value_heads`; biases are its `attention_bias` and `mlp_bias`. Nothing is
transposed: both keep `nn.Linear`'s (out, in). This module does not import transformers.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from lmlab.errors import UserError
from lmlab.interop.hf import _read_safetensors, _weight_files, read_hf_config, save_hf_folder
from lmlab.models.gpt import GPT, GPTConfig
from lmlab.nn.mlp import mlp_hidden

# the parts of a GPTConfig that Llama fixes; bias, n_kv_head, tie_weights and fused_qkv are free
LLAMA_PARTS = {"pos": "rope", "norm": "rmsnorm", "activation": "swiglu", "norm_position": "pre",
               "score": "scaled_dot", "scale_embeddings": False}
_ROPE_BASE = 10000.0  # lmlab.nn.positional.RotaryPositions' base
_RMS_EPS = 1e-6  # lmlab's RMSNorm default, and Llama's
# lmlab module in a block -> Llama module in a layer (the attention's q, k, v are handled apart)
_BLOCK = {"ln_1": "input_layernorm", "attn.proj": "self_attn.o_proj", "ln_2": "post_attention_layernorm",
          "mlp.gate": "mlp.gate_proj", "mlp.up": "mlp.up_proj", "mlp.down": "mlp.down_proj"}
_TOP = {"token_embedding": "model.embed_tokens", "ln_f": "model.norm"}
_LAYER_KEY = re.compile(r"model\.layers\.(\d+)\.(.+)\.(weight|bias)")
_QKV = ("q_proj", "k_proj", "v_proj")


def check_llama(config: GPTConfig) -> None:
    """Refuse, with the reason, a GPT that LlamaForCausalLM cannot compute."""
    differs = [f"{name}={getattr(config, name)!r}" for name, value in LLAMA_PARTS.items()
               if getattr(config, name) != value]
    if differs:
        raise UserError(f"LlamaForCausalLM cannot hold this GPT either ({', '.join(differs)}; Llama is "
                        + ", ".join(f"{name}={value!r}" for name, value in LLAMA_PARTS.items()) + ")")


def llama_config_to_hf(config: GPTConfig, eot_id: int | None = None) -> dict:
    """GPTConfig -> a Llama `config.json` dict that `transformers.LlamaConfig` reads."""
    check_llama(config)
    return {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": config.vocab_size,
        "hidden_size": config.n_embd, "intermediate_size": mlp_hidden(config.n_embd, "swiglu"),
        "num_hidden_layers": config.n_layer, "num_attention_heads": config.n_head,
        "num_key_value_heads": config.n_kv_head or config.n_head, "head_dim": config.head_dim, "hidden_act": "silu",
        "max_position_embeddings": config.block_size, "rms_norm_eps": config.norm_eps or _RMS_EPS,
        "rope_theta": _ROPE_BASE, "rope_parameters": {"rope_type": "default", "rope_theta": _ROPE_BASE},
        "attention_bias": config.bias, "mlp_bias": config.bias, "attention_dropout": config.dropout,
        "tie_word_embeddings": config.tie_weights, "initializer_range": 0.02, "use_cache": True,
        "bos_token_id": eot_id, "eos_token_id": eot_id,
    }


def llama_config_from_hf(hf: dict) -> GPTConfig:
    """A Llama `config.json` dict -> GPTConfig; refuses what lmlab's GPT cannot compute."""
    C, heads = hf["hidden_size"], hf["num_attention_heads"]
    rope = hf.get("rope_parameters") or {"rope_type": "default", "rope_theta": hf.get("rope_theta", _ROPE_BASE)}
    checks = [(hf.get("hidden_act", "silu") == "silu", f"hidden_act {hf.get('hidden_act')!r} (lmlab: silu)"),
              (hf.get("intermediate_size") == mlp_hidden(C, "swiglu"),
               f"intermediate_size {hf.get('intermediate_size')} (lmlab's SwiGLU: {mlp_hidden(C, 'swiglu')})"),
              (hf.get("head_dim") in (None, C // heads), f"head_dim {hf.get('head_dim')} (lmlab: {C // heads})"),
              (rope.get("rope_type", "default") == "default" and float(rope.get("rope_theta", 0)) == _ROPE_BASE,
               f"rope {rope} (lmlab: default, theta {_ROPE_BASE:g})"),
              (hf.get("attention_bias", False) == hf.get("mlp_bias", False), "attention_bias != mlp_bias")]
    unsupported = [what for ok, what in checks if not ok]
    if unsupported:
        raise UserError(f"this Llama is not supported by lmlab's GPT: {'; '.join(unsupported)}")
    kv_heads = hf.get("num_key_value_heads") or heads
    return GPTConfig(vocab_size=hf["vocab_size"], block_size=hf["max_position_embeddings"],
                     n_layer=hf["num_hidden_layers"], n_head=heads, n_embd=C,
                     n_kv_head=None if kv_heads == heads else kv_heads, dropout=float(hf.get("attention_dropout", 0.0)),
                     bias=bool(hf.get("attention_bias", False)), tie_weights=bool(hf.get("tie_word_embeddings", False)),
                     norm_eps=float(hf.get("rms_norm_eps", _RMS_EPS)), **LLAMA_PARTS)


def llama_state_dict_to_hf(model: GPT) -> dict[str, torch.Tensor]:
    """An lmlab GPT (Llama-shaped) -> LlamaForCausalLM tensors (contiguous, detached, on the CPU)."""
    check_llama(model.config)
    hf_state = {}
    for key, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu()
        module, _, kind = key.rpartition(".")
        parts = module.split(".", 2)  # ["blocks", i, module in the block]
        if key == "lm_head.weight":
            if not model.config.tie_weights:
                hf_state[key] = tensor.contiguous()
        elif module in _TOP:
            hf_state[f"{_TOP[module]}.{kind}"] = tensor.contiguous()
        elif parts[2] in ("attn.qkv", "attn.q", "attn.k", "attn.v"):
            attention = model.blocks[int(parts[1])].attn
            pieces = tensor.split(attention.qkv_sizes) if parts[2] == "attn.qkv" else (tensor,)
            names = _QKV if parts[2] == "attn.qkv" else (f"{parts[2][-1]}_proj",)
            for name, piece in zip(names, pieces):
                hf_state[f"model.layers.{parts[1]}.self_attn.{name}.{kind}"] = piece.contiguous()
        else:
            hf_state[f"model.layers.{parts[1]}.{_BLOCK[parts[2]]}.{kind}"] = tensor.contiguous()
    return hf_state


def llama_state_dict_from_hf(hf_state: dict[str, torch.Tensor], config: GPTConfig) -> dict[str, torch.Tensor]:
    """LlamaForCausalLM tensors -> the state dict of an lmlab GPT with `fused_qkv` (unknown names refused)."""
    state, qkv, unknown = {}, {}, []
    from_block = {llama: lmlab for lmlab, llama in _BLOCK.items()}
    from_top = {llama: lmlab for lmlab, llama in _TOP.items()}
    for key, tensor in hf_state.items():
        module, _, kind = key.rpartition(".")
        match = _LAYER_KEY.fullmatch(key)
        if key == "lm_head.weight" or module in from_top:
            state[key if key == "lm_head.weight" else f"{from_top[module]}.{kind}"] = tensor
        elif match and match.group(2).removeprefix("self_attn.") in _QKV:
            layer, name, kind = match.groups()
            qkv.setdefault((layer, kind), {})[name.removeprefix("self_attn.")] = tensor
        elif match and match.group(2) in from_block:
            layer, name, kind = match.groups()
            state[f"blocks.{layer}.{from_block[name]}.{kind}"] = tensor
        elif not key.endswith("rotary_emb.inv_freq"):  # a buffer some checkpoints carry
            unknown.append(key)
    if unknown:
        raise UserError(f"not Llama weights lmlab knows: unexpected tensors {sorted(unknown)[:5]}")
    for (layer, kind), parts in qkv.items():
        state[f"blocks.{layer}.attn.qkv.{kind}"] = torch.cat([parts[name] for name in _QKV])  # (C + 2K, C) or (C + 2K,)
    if config.tie_weights or "lm_head.weight" not in state:
        state["lm_head.weight"] = state["token_embedding.weight"]
    return state


def load_hf_llama(folder: str | os.PathLike) -> GPT:
    """A Hugging Face Llama folder (`config.json` + safetensors weights) -> lmlab GPT in eval mode."""
    config = llama_config_from_hf(read_hf_config(folder))
    hf_state = {key: tensor for path in _weight_files(Path(folder)) for key, tensor in _read_safetensors(path)}
    model = GPT(config)
    try:
        model.load_state_dict(llama_state_dict_from_hf(hf_state, config), strict=True)  # copies out of the files
    except RuntimeError as error:  # missing/unexpected keys or shapes that disagree with config.json
        raise UserError(f"{folder}: weights do not fit config.json ({str(error).splitlines()[-1].strip()})") from None
    return model.eval()


def save_hf_llama(model: GPT, folder: str | os.PathLike, tokenizer=None) -> None:
    """Write a folder that `LlamaForCausalLM.from_pretrained(folder)` (and AutoTokenizer) loads."""
    config = llama_config_to_hf(model.config, None if tokenizer is None else tokenizer.eot_id)
    config["dtype"] = str(model.token_embedding.weight.dtype).removeprefix("torch.")
    save_hf_folder(folder, config, llama_state_dict_to_hf(model), tokenizer, model.config.block_size, causal=True)
