"""Open any run folder: `load_run(path)` reads config.json's `kind` and rebuilds what the run made.

    kind            written by                 model                              tokenizers
    lm              lmlab train                the family's (GPT, n-gram, ...)    tokenizer.json
    seq2seq         lmlab seq2seq train        Seq2Seq                            source and target
    classifier      lmlab classify train       the family's, best dev weights     tokenizer.json
    bert-pretrain   lmlab bert pretrain        BertForPreTraining                 tokenizer.json
    word2vec        lmlab word2vec train       WordVectors                        (its vocabulary)

A language-model run written by `lmlab quantize` says so in config.json (``"quantized": {"dtype":
"int8" | "bf16", ...}``): its weights are loaded as bf16, or as int8
(`lmlab.nn.quantize.use_int8_kernels`).

Every command that takes a RUN opens it here and names the kinds it accepts, so a run of another
kind is refused with one line that says what it is and what the command needs. Runs written
before the `kind` key existed still open (`lmlab.train.checkpoint.with_kind`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmlab import __version__
from lmlab.config import config_from_dict
from lmlab.embeddings.vectors import WordVectors
from lmlab.errors import UserError
from lmlab.models.seq2seq import Seq2Seq, Seq2SeqConfig
from lmlab.outputs import kind_name
from lmlab.recipes.classifier_families import classifier_family
from lmlab.recipes.encoder_families import encoder_family
from lmlab.recipes.families import lm_family
from lmlab.train.checkpoint import RunFolder

SOURCE_TOKENIZER = "source_tokenizer.json"  # a translation run with separate vocabularies; the target's is
# tokenizer.json


@dataclass
class Run:
    path: Path
    kind: str  # "lm", "seq2seq", "classifier", "bert-pretrain", "word2vec"
    config: dict  # config.json, with kind and family
    model: Any  # in eval mode on the device asked for
    tokenizer: Any = None  # the (target) tokenizer
    source_tokenizer: Any = None  # translation runs: the source side's (the same object when shared)

    @property
    def family(self) -> str | None:
        return self.config.get("family")


def _language_model(folder: RunFolder, config: dict):
    family = lm_family(config["family"], str(folder.config_path))
    model = family.build(config["model"], str(folder.config_path))
    tokenizer = folder.load_tokenizer()
    model.check_tokenizer(tokenizer)
    if family.training == "counted":  # counts, not weights
        model.load_state_dict(folder.load_arrays(), str(folder.model_path))
    elif "quantized" in config:  # `lmlab quantize`: bf16, or int8 dequantized on load
        folder.load_compressed(model, config["quantized"]["dtype"])
    else:
        folder.load_model(model)
    return model, tokenizer, None


def _translation_model(folder: RunFolder, config: dict):
    model = Seq2Seq(config_from_dict(Seq2SeqConfig, config["model"], str(folder.config_path)))
    target = folder.load_tokenizer()
    source = target if config["data"]["shared_vocab"] else folder.load_tokenizer(SOURCE_TOKENIZER)
    model.check_tokenizers(source, target)
    folder.load_model(model)
    return model, target, source


def _classifier(folder: RunFolder, config: dict):
    model = classifier_family(config["family"], str(folder.config_path)).build(config["model"],
                                                                              str(folder.config_path))
    tokenizer = folder.load_tokenizer()
    model.check_tokenizer(tokenizer)
    best = RunFolder(folder.path / "best")
    (best if best.model_path.is_file() else folder).load_model(model)
    return model, tokenizer, None


def _pretrained_encoder(folder: RunFolder, config: dict):
    model = encoder_family(config["family"], str(folder.config_path)).build(config["model"], str(folder.config_path))
    tokenizer = folder.load_tokenizer()
    model.check_tokenizer(tokenizer)
    folder.load_model(model)
    return model, tokenizer, None


def _word_vectors(folder: RunFolder, config: dict):
    return WordVectors.load(folder.path), None, None


LOADERS = {"lm": _language_model, "seq2seq": _translation_model, "classifier": _classifier,
           "bert-pretrain": _pretrained_encoder, "word2vec": _word_vectors}


def load_run(path, device="cpu", expect: str | tuple[str, ...] | None = None, command: str = "this command") -> Run:
    """The run in `path`, rebuilt; `expect` names the kinds the caller accepts (None: any)."""
    folder = RunFolder(path)
    config = folder.read_config(expect, command)
    if config["kind"] not in LOADERS:
        raise UserError(f"{folder.config_path}: unknown kind {config['kind']!r}; lmlab {__version__} opens "
                        f"{', '.join(LOADERS)}")
    try:
        model, tokenizer, source_tokenizer = LOADERS[config["kind"]](folder, config)
    except (KeyError, TypeError, AttributeError) as error:  # a section or key missing, or of the wrong type
        raise UserError(f"{folder.config_path}: not a complete config of {kind_name(config['kind'])} "
                        f"({type(error).__name__}: {str(error)[:100]})") from None
    if hasattr(model, "to"):
        model = model.to(device).eval()
    return Run(folder.path, config["kind"], config, model, tokenizer, source_tokenizer)

