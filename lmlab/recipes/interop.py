"""Recipe: `lmlab export RUN OUT` and `lmlab import HF_FOLDER OUT`, runs to and from Hugging Face folders.

    export: run folder -> (model, tokenizer) -> the transformers class that computes the same function
        GPT with GPT-2's parts        -> GPT2LMHeadModel                (AutoModelForCausalLM)
        GPT with RoPE, RMSNorm, SwiGLU -> LlamaForCausalLM              (AutoModelForCausalLM)
        BERT pretraining run          -> BertForPreTraining             (AutoModelForPreTraining, ...MaskedLM)
        BERT classifier run           -> BertForSequenceClassification  (AutoModelForSequenceClassification)
    import: config.json's model_type -> an lmlab run
        gpt2, llama -> a language-model run (kind lm, family gpt): sample, eval, profile, attention
        bert        -> a BERT pretraining run: `classify train --model bert --init OUT` starts from it

Everything is checked before a file is written: a run of another family (n-gram, LSTM, a bag of
words...) or a configuration no Hugging Face class holds is refused with the reason. The converters
are `lmlab.interop` (GPT-2, Llama, BERT and the tokenizer files); this file only chooses and wires.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from lmlab.config import config_to_dict
from lmlab.errors import UserError
from lmlab.interop.hf import gpt_config_to_hf, load_hf_gpt2, read_hf_config, save_hf_gpt2
from lmlab.interop.hf_bert import bert_config_to_hf, load_hf_bert, load_hf_wordpiece, save_hf_bert
from lmlab.interop.hf_llama import check_llama, load_hf_llama, save_hf_llama
from lmlab.interop.hf_tokenizer import check_exportable, load_hf_tokenizer
from lmlab.models.bert import BertForPreTraining
from lmlab.outputs import claim_folder, folder_kind, kind_name, mark_folder
from lmlab.recipes.classifier_families import classifier_family
from lmlab.recipes.common import say
from lmlab.recipes.families import DataConfig, lm_family
from lmlab.recipes.options import ExportOptions, ImportOptions
from lmlab.runs import Run, load_run
from lmlab.tokenizers import WordPieceTokenizer
from lmlab.train.checkpoint import RunFolder

EXPORT_KIND = "hf-export"  # the marker of an exported folder (`lmlab.outputs`)


@dataclass(frozen=True)
class Layout:
    """The Hugging Face class a run is written as, and how."""

    architecture: str  # the transformers class in config.json
    auto_class: str  # the Auto class that loads it
    save: Callable  # save(model, folder, tokenizer)


def _bert_saver(model, folder, tokenizer) -> None:
    save_hf_bert(model, tokenizer, folder)


GPT2 = Layout("GPT2LMHeadModel", "AutoModelForCausalLM", save_hf_gpt2)
LLAMA = Layout("LlamaForCausalLM", "AutoModelForCausalLM", save_hf_llama)
BERT_PRETRAINING = Layout("BertForPreTraining", "AutoModelForPreTraining", _bert_saver)
BERT_CLASSIFIER = Layout("BertForSequenceClassification", "AutoModelForSequenceClassification", _bert_saver)


# --- lmlab export ------------------------------------------------------------------------------------
def _causal_lm_layout(config) -> Layout:
    """GPT-2's layout when the GPT has GPT-2's parts, Llama's when it has LLaMA's, else refused with both reasons."""
    try:
        gpt_config_to_hf(config)
        return GPT2
    except UserError as gpt2:
        try:
            check_llama(config)
        except UserError as llama:
            raise UserError(f"{gpt2}; {llama}") from None
        return LLAMA


def export_layout(run: Run) -> Layout:
    """The layout of `run`, or a UserError that says why no Hugging Face class can hold it."""
    if run.kind == "lm":
        family = lm_family(run.family)
        if family.name != "gpt":
            raise UserError(f"{run.path}: its {family.display_name} language model has no transformers class; "
                            f"lmlab exports GPT runs (as GPT-2 or Llama) and BERT runs")
        layout = _causal_lm_layout(run.model.config)
    else:
        if run.kind == "classifier" and run.family != "bert":
            name = classifier_family(run.family).display_name
            raise UserError(f"{run.path}: its {name} classifier has no transformers class; lmlab exports BERT "
                            f"classifiers (`classify train --model bert`) and GPT runs")
        layout = BERT_CLASSIFIER if run.kind == "classifier" else BERT_PRETRAINING
        bert_config_to_hf(run.model.config, layout.architecture)  # refuses what Hugging Face's BERT lacks
        if not isinstance(run.tokenizer, WordPieceTokenizer):
            raise UserError(f"{run.path}: a BERT with a {run.tokenizer.type_name} tokenizer cannot be exported "
                            f"(transformers' BERT reads WordPiece)")
    check_exportable(run.tokenizer)
    return layout


def _claim_export(out: Path, force: bool) -> Path:
    """OUT: new, empty, or an earlier export replaced with --force."""
    if out.is_dir() and folder_kind(out) == EXPORT_KIND:
        if not force:
            raise UserError(f"{out} already holds an export: add --force to replace it, or choose another OUT")
        return out
    return claim_folder(out, EXPORT_KIND, force=force, command="lmlab export", flag="OUT")


def export_command(options: ExportOptions) -> None:
    run = load_run(options.run, "cpu", expect=("lm", "bert-pretrain", "classifier"), command="lmlab export")
    layout = export_layout(run)
    out = _claim_export(Path(options.out), options.force)
    layout.save(run.model, out, run.tokenizer)
    say(f"exported {run.path} ({kind_name(run.kind)}) as {layout.architecture} into {out}: "
        f"transformers.{layout.auto_class}.from_pretrained({str(out)!r}) and AutoTokenizer load it")


# --- lmlab import ------------------------------------------------------------------------------------
def _gpt2(folder: Path):
    return "lm", load_hf_gpt2(folder), load_hf_tokenizer(folder)


def _llama(folder: Path):
    return "lm", load_hf_llama(folder), load_hf_tokenizer(folder)


def _bert(folder: Path):
    torch.manual_seed(0)  # the heads a folder lacks (MiniLM has none) start from the same fresh weights
    return "bert-pretrain", load_hf_bert(folder, BertForPreTraining), load_hf_wordpiece(folder)


IMPORTERS = {"gpt2": _gpt2, "llama": _llama, "bert": _bert}  # config.json's model_type -> (kind, model, tokenizer)


def _claim_import(out: Path, force: bool) -> Path:
    found = folder_kind(out) if out.is_dir() else None
    if found is not None:
        raise UserError(f"{out} is {kind_name(found)}: `lmlab import` writes a new run; choose another OUT")
    return claim_folder(out, "lm", force=force, command="lmlab import", flag="OUT", mark=False)


def import_command(options: ImportOptions) -> None:
    folder, out = Path(options.folder), Path(options.out)
    hf_config = read_hf_config(folder)
    model_type = hf_config.get("model_type")
    if model_type not in IMPORTERS:
        raise UserError(f"{folder}: model_type {model_type!r} cannot be imported (lmlab imports "
                        f"{', '.join(IMPORTERS)})")
    _claim_import(out, options.force)  # before minutes of loading
    kind, model, tokenizer = IMPORTERS[model_type](folder)
    model.check_tokenizer(tokenizer)
    run = RunFolder(mark_folder(out, kind, "OUT"))
    record = {"kind": kind, "family": "bert" if kind == "bert-pretrain" else "gpt", "preset": "imported",
              "model": config_to_dict(model.config),
              "imported_from": {"folder": str(folder.resolve()), "model_type": model_type,
                                "architectures": hf_config.get("architectures")}}
    if kind == "lm":  # no corpus of its own: `lmlab eval` asks for --data
        record["data"] = {"corpus": None, "val_fraction": DataConfig().val_fraction}
    run.write_config(record)
    tokenizer.save(run.tokenizer_path)
    run.save_model(model, step=0)
    say(f"imported {folder} ({model_type}, {model.num_parameters() / 1e6:.2f}M parameters, {tokenizer.vocab_size} "
        f"tokens) as {kind_name(kind)} in {out}")
