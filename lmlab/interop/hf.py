"""GPT-2 weights in and out of Hugging Face's layout.

lmlab's GPT is GPT-2's architecture under readable names, so converting is renaming plus one
twist: GPT-2 stores its projections as `Conv1D` modules whose weight is (in, out), where
`nn.Linear` keeps (out, in). Every matrix except the embeddings is transposed on the way.

    Hugging Face (transformers.GPT2LMHeadModel)      lmlab (lmlab.models.gpt.GPT)
    transformer.wte.weight            (V, C)         token_embedding.weight
    transformer.wpe.weight            (T, C)         position_embedding.weight
    transformer.h.{i}.ln_1.*                         blocks.{i}.ln_1.*
    transformer.h.{i}.attn.c_attn.*   (C, 3C)  .T    blocks.{i}.attn.qkv.*
    transformer.h.{i}.attn.c_proj.*   (C, C)   .T    blocks.{i}.attn.proj.*
    transformer.h.{i}.ln_2.*                         blocks.{i}.ln_2.*
    transformer.h.{i}.mlp.c_fc.*      (C, 4C)  .T    blocks.{i}.mlp.up.*
    transformer.h.{i}.mlp.c_proj.*    (4C, C)  .T    blocks.{i}.mlp.down.*
    transformer.ln_f.*                               ln_f.*
    lm_head.weight (tied to wte)                     lm_head.weight (tied to token_embedding)

A Hugging Face model folder is `config.json` + `model.safetensors` (or shards listed in
`model.safetensors.index.json`). Only safetensors is read: a pickled `pytorch_model.bin` can run
code when loaded. This module does not import transformers.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Iterable, Iterator

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from lmlab.errors import UserError
from lmlab.interop.hf_tokenizer import check_exportable, save_hf_tokenizer
from lmlab.io import atomic_write, atomic_write_json
from lmlab.models.gpt import GPT, GPTConfig

# Hugging Face module name inside a block -> (lmlab module name, is a Conv1D whose weight is transposed)
_BLOCK_MODULES = {
    "ln_1": ("ln_1", False),
    "attn.c_attn": ("attn.qkv", True),
    "attn.c_proj": ("attn.proj", True),
    "ln_2": ("ln_2", False),
    "mlp.c_fc": ("mlp.up", True),
    "mlp.c_proj": ("mlp.down", True),
}
_TOP_MODULES = {"wte": "token_embedding", "wpe": "position_embedding", "ln_f": "ln_f"}
_BLOCK_KEY = re.compile(r"h\.(\d+)\.(.+)\.(weight|bias)")
_BUFFER_KEY = re.compile(r"h\.\d+\.attn\.(bias|masked_bias)")  # causal-mask buffers of old checkpoints
# transformers' activation names -> lmlab's: GELU's tanh approximation, the exact GELU, ReLU
_ACTIVATIONS = {"gelu_new": "gelu", "gelu_pytorch_tanh": "gelu", "gelu_fast": "gelu", "gelu": "gelu_exact",
                "relu": "relu"}
_LAYER_NORM_EPS = 1e-5  # GPT-2's, and nn.LayerNorm's default


# --- config ---------------------------------------------------------------------------------------
def gpt_config_from_hf(hf_config: dict) -> GPTConfig:
    """A GPT-2 `config.json` dict -> GPTConfig; refuses what lmlab's GPT cannot compute."""
    def get(*names, default=None):
        for name in names:
            if hf_config.get(name) is not None:
                return hf_config[name]
        if default is None:
            raise UserError(f"GPT-2 config has no {names[0]!r}: is this a GPT-2 config.json?")
        return default

    model_type = hf_config.get("model_type", "gpt2")
    if model_type != "gpt2":
        raise UserError(f"model_type {model_type!r} is not supported: only GPT-2 ('gpt2') maps onto lmlab's GPT")
    n_embd = get("n_embd", "hidden_size")
    if hf_config.get("n_inner") not in (None, 4 * n_embd):
        raise UserError(f"n_inner={hf_config['n_inner']} is not supported: lmlab's GPT uses 4 * n_embd "
                        f"({4 * n_embd})")
    activation = hf_config.get("activation_function", "gelu_new")
    if activation not in _ACTIVATIONS:
        raise UserError(f"activation_function {activation!r} is not supported (lmlab maps "
                        f"{', '.join(_ACTIVATIONS)})")
    eps = float(hf_config.get("layer_norm_epsilon", _LAYER_NORM_EPS))
    unsupported = {"scale_attn_weights": False, "scale_attn_by_inverse_layer_idx": True,
                   "add_cross_attention": True}
    for name, bad in unsupported.items():
        if hf_config.get(name) == bad:
            raise UserError(f"{name}={bad} is not supported by lmlab's GPT")
    return GPTConfig(
        vocab_size=get("vocab_size"),
        block_size=get("n_positions", "n_ctx", "max_position_embeddings"),
        n_layer=get("n_layer", "num_hidden_layers"),
        n_head=get("n_head", "num_attention_heads"),
        n_embd=n_embd,
        dropout=float(hf_config.get("resid_pdrop", 0.1)),
        bias=True,
        tie_weights=bool(hf_config.get("tie_word_embeddings", True)),
        activation=_ACTIVATIONS[activation],
        norm_eps=None if math.isclose(eps, _LAYER_NORM_EPS, rel_tol=1e-6) else eps,
    )


# the parts of a GPTConfig that GPT-2 fixes (the defaults): any other choice has no GPT2LMHeadModel
_GPT2_PARTS = {"bias": True, "score": "scaled_dot", "fused_qkv": True, "pos": "learned", "norm": "layernorm",
               "norm_position": "pre", "residual": True, "scale_embeddings": False,
               "attention_window": None}
_EXPORTED_ACTIVATIONS = {"gelu": "gelu_new", "gelu_exact": "gelu", "relu": "relu"}  # lmlab -> transformers


# the names people know the parts by, for the refusal's first words
_NAMES = {"rope": "RoPE positions", "alibi": "ALiBi positions", "t5": "T5 relative positions",
          "relative": "relative positions", "sinusoidal": "sinusoidal positions", "rmsnorm": "RMSNorm",
          "batchnorm": "BatchNorm", "swiglu": "a SwiGLU MLP", "post": "post-norm blocks"}


def _check_exportable(config: GPTConfig) -> None:
    """Refuse, with the reason, a GPT that GPT2LMHeadModel cannot compute."""
    differs = {name: getattr(config, name) for name, gpt2 in _GPT2_PARTS.items() if getattr(config, name, gpt2) != gpt2}
    if config.activation not in _EXPORTED_ACTIVATIONS:
        differs["activation"] = config.activation
    if getattr(config, "n_kv_head", None) not in (None, config.n_head):
        differs["n_kv_head"] = config.n_kv_head
    if differs:
        named = [_NAMES[value] for value in differs.values() if isinstance(value, str) and value in _NAMES]
        named += ["grouped-query attention"] * ("n_kv_head" in differs)
        raise UserError(f"{', '.join(named) or 'this GPT'} cannot be held by GPT2LMHeadModel ("
                        + ", ".join(f"{name}={value!r}" for name, value in differs.items()) + "; GPT-2 is "
                        + ", ".join(f"{name}={value!r}" for name, value in _GPT2_PARTS.items())
                        + f", activation in {tuple(_EXPORTED_ACTIVATIONS)}, n_kv_head=n_head)")


def gpt_config_to_hf(config: GPTConfig, eot_id: int | None = None) -> dict:
    """GPTConfig -> a GPT-2 `config.json` dict that `transformers.GPT2Config` reads. `eot_id`, the
    tokenizer's end-of-text, is bos and eos; without a tokenizer, GPT-2's 50256 where it exists."""
    _check_exportable(config)
    special = eot_id if eot_id is not None else (50256 if config.vocab_size > 50256 else None)
    return {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": config.vocab_size,
        "n_positions": config.block_size,
        "n_ctx": config.block_size,
        "n_embd": config.n_embd,
        "n_layer": config.n_layer,
        "n_head": config.n_head,
        "n_inner": None,
        "activation_function": _EXPORTED_ACTIVATIONS[config.activation],
        "resid_pdrop": config.dropout,
        "embd_pdrop": config.dropout,
        "attn_pdrop": config.dropout,
        "layer_norm_epsilon": _LAYER_NORM_EPS if config.norm_eps is None else config.norm_eps,
        "initializer_range": 0.02,
        "scale_attn_weights": True,
        "scale_attn_by_inverse_layer_idx": False,
        "reorder_and_upcast_attn": False,
        "tie_word_embeddings": config.tie_weights,
        "use_cache": True,
        "bos_token_id": special,
        "eos_token_id": special,
    }


# --- weights --------------------------------------------------------------------------------------
def gpt_state_dict_from_hf(hf_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Hugging Face GPT-2 tensors -> an lmlab GPT state dict (`lm_head.weight` = wte when absent).

    Keys may carry the `transformer.` prefix (GPT2LMHeadModel) or not (GPT2Model); the causal-mask
    buffers `attn.bias` / `attn.masked_bias` of old checkpoints are skipped; anything else unknown
    is refused by name.
    """
    return _convert_from_hf(hf_state.items())


def _convert_from_hf(items: Iterable[tuple[str, torch.Tensor]], device=None, dtype=None,
                     copy: bool = False) -> dict[str, torch.Tensor]:
    """`gpt_state_dict_from_hf` over (name, tensor) pairs, each converted as it comes. Fed from a
    memory-mapped file one tensor at a time with `copy`, the result owns its memory and the file's
    pages are let go, so loading holds one model in memory, not a model plus the file."""
    state, unknown = {}, []
    for key, tensor in items:
        name = key.removeprefix("transformer.")
        if _BUFFER_KEY.fullmatch(name):
            continue
        top, _, kind = name.partition(".")
        match = _BLOCK_KEY.fullmatch(name)
        if key == "lm_head.weight":
            target, conv1d = key, False
        elif top in _TOP_MODULES and kind in ("weight", "bias"):
            target, conv1d = f"{_TOP_MODULES[top]}.{kind}", False
        elif match and match.group(2) in _BLOCK_MODULES:
            layer, module, kind = match.groups()
            lmlab_module, conv1d = _BLOCK_MODULES[module]
            target, conv1d = f"blocks.{layer}.{lmlab_module}.{kind}", conv1d and kind == "weight"
        else:
            unknown.append(key)
            continue
        if conv1d:
            tensor = tensor.t().contiguous()  # Conv1D (in, out) -> Linear (out, in), a copy
        elif copy:
            tensor = tensor.clone()  # not a view into a memory-mapped file, which can then be unmapped
        state[target] = tensor.to(device=device, dtype=dtype)
    if unknown:
        raise UserError(f"not GPT-2 weights lmlab knows: unexpected tensors {sorted(unknown)[:5]}")
    if "token_embedding.weight" not in state:
        raise UserError("not GPT-2 weights: no transformer.wte.weight (token embedding)")
    state.setdefault("lm_head.weight", state["token_embedding.weight"])
    return state


def gpt_state_dict_to_hf(model: GPT) -> dict[str, torch.Tensor]:
    """An lmlab GPT -> GPT2LMHeadModel tensors (contiguous, detached, on the CPU).

    `lm_head.weight` is written only when the model does not tie it to the token embedding.
    """
    _check_exportable(model.config)
    to_hf = {lmlab: f"transformer.{hf}" for hf, lmlab in _TOP_MODULES.items()}  # lmlab module -> HF module
    transposed = set()
    for i in range(model.config.n_layer):
        for hf, (lmlab, conv1d) in _BLOCK_MODULES.items():
            to_hf[f"blocks.{i}.{lmlab}"] = f"transformer.h.{i}.{hf}"
            if conv1d:
                transposed.add(f"blocks.{i}.{lmlab}.weight")
    hf_state = {}
    for key, tensor in model.state_dict().items():
        if key == "lm_head.weight":
            if not model.config.tie_weights:
                hf_state[key] = tensor.detach().cpu().contiguous()
            continue
        module, _, kind = key.rpartition(".")
        if key in transposed:
            tensor = tensor.t()  # Linear (out, in) -> Conv1D (in, out)
        hf_state[f"{to_hf[module]}.{kind}"] = tensor.detach().cpu().contiguous()
    return hf_state


# --- folders --------------------------------------------------------------------------------------
def _read_json(path: Path) -> dict:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"{path}: corrupt JSON ({error})") from None
    if not isinstance(document, dict):
        raise UserError(f"{path}: expected a JSON object")
    return document


def _read_safetensors(path: Path) -> Iterator[tuple[str, torch.Tensor]]:
    """The (name, tensor) pairs of one file, one at a time. A tensor is a view into a memory map
    of the file; opening the file afresh for each one lets each map (and the pages it brought into
    memory) go as soon as the caller has copied the tensor out."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            keys = list(handle.keys())
        for key in keys:
            with safe_open(str(path), framework="pt") as handle:
                tensor = handle.get_tensor(key)
            yield key, tensor
            del tensor
    except (SafetensorError, OSError, ValueError) as error:
        raise UserError(f"{path}: not a readable safetensors file ({error})") from None


def _weight_files(folder: Path) -> list[Path]:
    """`model.safetensors`, or the shards that `model.safetensors.index.json` lists."""
    single, index = folder / "model.safetensors", folder / "model.safetensors.index.json"
    if single.is_file():
        return [single]
    if index.is_file():  # sharded: {"weight_map": {tensor name: shard file}}
        weight_map = _read_json(index).get("weight_map")
        if not isinstance(weight_map, dict):
            raise UserError(f"{index}: no 'weight_map' object")
        shards = [folder / shard for shard in sorted(set(weight_map.values()))]
        for shard in shards:
            if not shard.is_file():
                raise UserError(f"{shard} is missing (listed in {index.name})")
        return shards
    if (folder / "pytorch_model.bin").is_file():
        raise UserError(f"{single} is missing and lmlab does not read pickled pytorch_model.bin (it can run "
                        f"code): convert it with transformers' save_pretrained(folder, safe_serialization=True)")
    raise UserError(f"{single} is missing: {folder} is not a Hugging Face model folder with safetensors weights")


def read_hf_config(folder: str | os.PathLike) -> dict:
    """The `config.json` of a Hugging Face model folder (missing or corrupt: a UserError naming it)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"model folder not found: {folder}")
    if not (folder / "config.json").is_file():
        raise UserError(f"{folder / 'config.json'} is missing: {folder} is not a Hugging Face model folder")
    return _read_json(folder / "config.json")


def load_hf_gpt2(folder: str | os.PathLike, device: str | torch.device = "cpu",
                 dtype: torch.dtype = torch.float32) -> GPT:
    """A Hugging Face GPT-2 folder (`config.json` + `model.safetensors`) -> lmlab GPT in eval mode."""
    folder = Path(folder)
    config = gpt_config_from_hf(read_hf_config(folder))
    files = _weight_files(folder)
    state = _convert_from_hf(((key, tensor) for path in files for key, tensor in _read_safetensors(path)),
                             device=device, dtype=dtype, copy=True)
    if config.tie_weights:  # as transformers does: a tied head is the embedding, whatever the file says
        state["lm_head.weight"] = state["token_embedding.weight"]
    with torch.device("meta"):  # no random initialisation, no second copy of the weights
        model = GPT(config)
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as error:  # missing/unexpected keys or shapes that disagree with config.json
        raise UserError(f"{folder}: weights do not fit config.json ({str(error).splitlines()[-1].strip()})") from None
    if config.tie_weights:  # assign=True made two Parameters; make them one again
        model.lm_head.weight = model.token_embedding.weight
    return model.eval()


def save_hf_gpt2(model: GPT, folder: str | os.PathLike, tokenizer=None) -> None:
    """Write `config.json` + `model.safetensors` that `GPT2LMHeadModel.from_pretrained(folder)` loads;
    with the run's `tokenizer`, also the files AutoTokenizer reads and `generation_config.json`."""
    model = getattr(model, "module", model)  # DistributedDataParallel
    model = getattr(model, "_orig_mod", model)  # torch.compile
    if not isinstance(model, GPT):
        raise UserError(f"only lmlab's GPT can be saved as GPT-2, not {type(model).__name__}")
    eot_id = None if tokenizer is None else tokenizer.eot_id
    config = gpt_config_to_hf(model.config, eot_id)
    config["dtype"] = str(model.token_embedding.weight.dtype).removeprefix("torch.")
    save_hf_folder(folder, config, gpt_state_dict_to_hf(model), tokenizer, model.config.block_size, causal=True)


def save_hf_folder(folder: str | os.PathLike, config: dict, state: dict[str, torch.Tensor], tokenizer,
                   max_length: int, causal: bool) -> None:
    """A Hugging Face model folder, every file written atomically: config.json, model.safetensors and,
    with a tokenizer, tokenizer.json + tokenizer_config.json (+ generation_config.json when `causal`)."""
    if tokenizer is not None:
        check_exportable(tokenizer)  # before any file is written
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(folder / "config.json", config, indent=2)
    atomic_write(folder / "model.safetensors", lambda tmp: save_file(state, str(tmp), metadata={"format": "pt"}))
    if tokenizer is None:
        return
    save_hf_tokenizer(tokenizer, folder, max_length, causal)
    if causal:  # what `generate` stops at: lmlab's sampling stops at the end-of-text token too
        atomic_write_json(folder / "generation_config.json", {
            "bos_token_id": tokenizer.eot_id, "eos_token_id": tokenizer.eot_id, "pad_token_id": tokenizer.eot_id},
            indent=2)
