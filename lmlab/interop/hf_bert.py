"""BERT weights in and out of Hugging Face's layout (the GPT-2 half lives in `lmlab.interop.hf`).

lmlab's BERT is Hugging Face's under readable names, with one twist: Hugging Face keeps three
Linear layers for the queries, keys and values where lmlab's attention has one fused `qkv`
layer, so their weights are stacked on the way in and split on the way out.

    Hugging Face (BertForPreTraining; BertModel has no `bert.`)   lmlab
    bert.embeddings.word_embeddings.weight       (V, C)          bert.token_embedding.weight
    bert.embeddings.position_embeddings.weight   (T, C)          bert.position_embedding.weight
    bert.embeddings.token_type_embeddings.weight (2, C)          bert.segment_embedding.weight
    bert.embeddings.LayerNorm.*                                  bert.ln_embed.*
    bert.encoder.layer.{i}.attention.self.{query,key,value}.*    bert.blocks.{i}.attn.qkv.* (stacked)
    bert.encoder.layer.{i}.attention.output.dense.*              bert.blocks.{i}.attn.proj.*
    bert.encoder.layer.{i}.attention.output.LayerNorm.*          bert.blocks.{i}.ln_1.*
    bert.encoder.layer.{i}.intermediate.dense.*                  bert.blocks.{i}.mlp.up.*
    bert.encoder.layer.{i}.output.dense.*                        bert.blocks.{i}.mlp.down.*
    bert.encoder.layer.{i}.output.LayerNorm.*                    bert.blocks.{i}.ln_2.*
    bert.pooler.dense.*                                          bert.pooler.*
    cls.predictions.transform.dense.*                            mlm_transform.0.*
    cls.predictions.transform.LayerNorm.*                        mlm_transform.2.*
    cls.predictions.bias  (decoder tied to the embeddings)       mlm_bias
    cls.seq_relationship.*                                       nsp_head.*
    classifier.*                                                 classifier.*

A folder is `config.json` + `model.safetensors` + `vocab.txt` (and `tokenizer.json` when
present, which is then preferred). This module does not import transformers.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from lmlab.errors import UserError
from lmlab.interop.hf import _read_safetensors, _weight_files, read_hf_config, save_hf_folder
from lmlab.interop.hf_tokenizer import load_hf_tokenizer
from lmlab.io import atomic_write_text
from lmlab.models.bert import Bert, BertConfig, BertForPreTraining, BertForSequenceClassification, BertModelBase
from lmlab.tokenizers.wordpiece import WordPieceTokenizer

_TOP = {"embeddings.word_embeddings": "token_embedding", "embeddings.position_embeddings": "position_embedding",
        "embeddings.token_type_embeddings": "segment_embedding", "embeddings.LayerNorm": "ln_embed",
        "pooler.dense": "pooler"}
_LAYER = {"attention.output.dense": "attn.proj", "attention.output.LayerNorm": "ln_1",
          "intermediate.dense": "mlp.up", "output.dense": "mlp.down", "output.LayerNorm": "ln_2"}
_HEADS = {"cls.predictions.transform.dense": "mlm_transform.0", "cls.predictions.transform.LayerNorm": "mlm_transform.2",
          "cls.seq_relationship": "nsp_head", "classifier": "classifier"}
_QKV = ("query", "key", "value")
_LAYER_KEY = re.compile(r"encoder\.layer\.(\d+)\.(.+)\.(weight|bias)")
_SKIPPED = ("embeddings.position_ids", "cls.predictions.decoder.weight", "cls.predictions.decoder.bias")
_ARCHITECTURES = {Bert: "BertModel", BertForPreTraining: "BertForPreTraining",
                  BertForSequenceClassification: "BertForSequenceClassification"}


# --- config ---------------------------------------------------------------------------------------
def bert_config_from_hf(hf: dict, **overrides) -> BertConfig:
    """A BERT `config.json` dict -> BertConfig; refuses what lmlab's BERT cannot compute."""
    if hf.get("model_type", "bert") != "bert":
        raise UserError(f"model_type {hf.get('model_type')!r} is not BERT")
    hidden_act = hf.get("hidden_act", "gelu")
    activation = {"gelu": "gelu_exact", "gelu_new": "gelu", "gelu_pytorch_tanh": "gelu", "relu": "relu"}.get(hidden_act)
    if activation is None:
        raise UserError(f"hidden_act {hidden_act!r} is not supported: lmlab's BERT uses gelu, gelu_new or relu")
    if hf.get("intermediate_size", 4 * hf["hidden_size"]) != 4 * hf["hidden_size"]:
        raise UserError("intermediate_size must be 4 * hidden_size for lmlab's BERT")
    if hf.get("position_embedding_type", "absolute") != "absolute":
        raise UserError("only absolute (learned) position embeddings are supported")
    fields = dict(vocab_size=hf["vocab_size"], n_layer=hf["num_hidden_layers"], n_head=hf["num_attention_heads"],
                  n_embd=hf["hidden_size"], dropout=float(hf.get("hidden_dropout_prob", 0.1)),
                  max_position=hf.get("max_position_embeddings", 512), type_vocab_size=hf.get("type_vocab_size", 2),
                  norm_eps=hf.get("layer_norm_eps", 1e-12), activation=activation)
    return BertConfig(**{**fields, **overrides})  # overrides: e.g. n_labels, or dropout for fine-tuning


_HIDDEN_ACTS = {"gelu_exact": "gelu", "gelu": "gelu_pytorch_tanh", "relu": "relu"}  # lmlab -> transformers


def bert_config_to_hf(config: BertConfig, architecture: str) -> dict:
    if config.activation not in _HIDDEN_ACTS:
        raise UserError(f"activation={config.activation!r} has no Hugging Face BERT equivalent")
    defaults = BertConfig()
    for part in ("bias", "score", "fused_qkv", "pos", "norm", "norm_position", "residual", "n_kv_head",
                 "pooling", "attention_window"):
        if getattr(config, part) != getattr(defaults, part):
            raise UserError(f"{part}={getattr(config, part)!r} has no Hugging Face BERT equivalent")
    return {"architectures": [architecture], "model_type": "bert", "vocab_size": config.vocab_size,
            "hidden_size": config.n_embd, "num_hidden_layers": config.n_layer,
            "num_attention_heads": config.n_head, "intermediate_size": 4 * config.n_embd,
            "hidden_act": _HIDDEN_ACTS[config.activation],
            "hidden_dropout_prob": config.dropout, "attention_probs_dropout_prob": config.dropout,
            "max_position_embeddings": config.max_position, "type_vocab_size": config.type_vocab_size,
            "layer_norm_eps": 1e-5 if config.norm_eps is None else config.norm_eps, "pad_token_id": 0,
            "num_labels": config.n_labels,
            "position_embedding_type": "absolute"}


# --- weights --------------------------------------------------------------------------------------
def bert_state_dict_from_hf(items) -> dict[str, torch.Tensor]:
    """(name, tensor) pairs in Hugging Face names -> a state dict for lmlab's BERT heads
    (`bert.`-prefixed encoder keys). Unknown names are refused."""
    state, qkv, unknown = {}, {}, []
    for key, tensor in items:
        name = key.removeprefix("bert.")
        module, _, kind = name.rpartition(".")
        match = _LAYER_KEY.fullmatch(name)
        if name in _SKIPPED:
            continue
        if name == "cls.predictions.bias":
            state["mlm_bias"] = tensor.clone()
        elif module in _TOP:
            state[f"bert.{_TOP[module]}.{kind}"] = tensor.clone()
        elif module in _HEADS:
            state[f"{_HEADS[module]}.{kind}"] = tensor.clone()
        elif match and match.group(2) in _LAYER:
            layer, part, kind = match.groups()
            state[f"bert.blocks.{layer}.{_LAYER[part]}.{kind}"] = tensor.clone()
        elif match and match.group(2).removeprefix("attention.self.") in _QKV:
            layer, part, kind = match.groups()
            qkv.setdefault((layer, kind), {})[part.removeprefix("attention.self.")] = tensor
        else:
            unknown.append(key)
    if unknown:
        raise UserError(f"not BERT weights lmlab knows: unexpected tensors {sorted(unknown)[:5]}")
    for (layer, kind), parts in qkv.items():
        state[f"bert.blocks.{layer}.attn.qkv.{kind}"] = torch.cat([parts[p] for p in _QKV])  # (3C, C) or (3C,)
    return state


def bert_state_dict_to_hf(model: BertModelBase) -> dict[str, torch.Tensor]:
    """An lmlab BERT head model -> Hugging Face tensors (`bert.`-prefixed, contiguous, on the CPU)."""
    to_hf = {f"bert.{lmlab}": f"bert.{hf}" for hf, lmlab in _TOP.items()}
    to_hf.update({lmlab: hf for hf, lmlab in _HEADS.items()})
    for i in range(model.config.n_layer):
        to_hf.update({f"bert.blocks.{i}.{lmlab}": f"bert.encoder.layer.{i}.{hf}" for hf, lmlab in _LAYER.items()})
    hf_state = {}
    for key, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu()
        module, _, kind = key.rpartition(".")
        if key == "mlm_bias":
            hf_state["cls.predictions.bias"] = tensor.contiguous()
        elif module.endswith("attn.qkv"):
            layer = module.split(".")[2]
            for part, piece in zip(_QKV, tensor.chunk(3)):
                hf_state[f"bert.encoder.layer.{layer}.attention.self.{part}.{kind}"] = piece.contiguous()
        else:
            hf_state[f"{to_hf[module]}.{kind}"] = tensor.contiguous()
    return hf_state


# --- folders --------------------------------------------------------------------------------------
def load_hf_wordpiece(folder: str | os.PathLike) -> WordPieceTokenizer:
    """The folder's `tokenizer.json` if there is one, else its `vocab.txt` (lower-cased BERT)."""
    tokenizer = load_hf_tokenizer(folder)
    if not isinstance(tokenizer, WordPieceTokenizer):
        raise UserError(f"{folder}: its tokenizer is {tokenizer.type_name}, not a BERT WordPiece tokenizer")
    return tokenizer


def load_hf_bert(folder: str | os.PathLike, model_class=BertForSequenceClassification, **overrides):
    """A Hugging Face BERT folder -> an lmlab `model_class` (Bert, BertForPreTraining or
    BertForSequenceClassification). Head weights the folder lacks (MiniLM has no MLM/NSP head; no
    pretrained model has a classifier for *your* labels) keep their fresh initialisation; missing
    encoder weights are an error."""
    folder = Path(folder)
    config = bert_config_from_hf(read_hf_config(folder), **overrides)
    state = bert_state_dict_from_hf((k, t) for path in _weight_files(folder) for k, t in _read_safetensors(path))
    encoder = model_class is Bert
    if encoder:
        state = {k.removeprefix("bert."): t for k, t in state.items() if k.startswith("bert.")}
    model = model_class(config)
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as error:
        raise UserError(f"{folder}: weights do not fit config.json ({str(error).splitlines()[-1].strip()})") from None
    missing_encoder = [k for k in missing if encoder or k.startswith("bert.")]
    unused = [k for k in unexpected if not k.startswith(("mlm_", "nsp_", "classifier"))]
    if missing_encoder or unused:
        raise UserError(f"{folder}: weights do not fit lmlab's BERT (missing {missing_encoder[:3]}, "
                        f"unexpected {unused[:3]})")
    return model.eval()


def save_hf_bert(model: BertModelBase, tokenizer: WordPieceTokenizer, folder: str | os.PathLike) -> None:
    """Write config.json, model.safetensors, vocab.txt, tokenizer.json and tokenizer_config.json
    that transformers loads (a classifier's labels are named by their numbers, as lmlab's are)."""
    config = bert_config_to_hf(model.config, _ARCHITECTURES[type(model)])
    if isinstance(model, BertForSequenceClassification):
        config["id2label"] = {str(i): str(i) for i in range(model.config.n_labels)}
        config["label2id"] = {str(i): i for i in range(model.config.n_labels)}
    config["pad_token_id"] = tokenizer.special_tokens.get("[PAD]", 0)
    save_hf_folder(folder, config, bert_state_dict_to_hf(model), tokenizer, model.config.max_position, causal=False)
    vocab = sorted(tokenizer.vocab.items(), key=lambda item: item[1])
    atomic_write_text(Path(folder) / "vocab.txt", "".join(token + "\n" for token, _ in vocab))
