"""Recipe: translation with the encoder-decoder Transformer (`lmlab seq2seq train|eval`, `lmlab translate`).

    DIR/train.SRC + DIR/train.TGT -> tokenizer(s) trained on the training pairs -> encoded pairs
      -> Seq2Seq -> Trainer (the one loop: `model(source, decoder input, targets)`) -> run folder
    run folder + sentences -> beam search -> translations -> sacrebleu's corpus BLEU

One vocabulary shared by both languages (`shared_vocab`, the default: one byte-level BPE learned
on both sides, three-way tied embeddings) or one per language (``--set shared_vocab=false``:
``source_tokenizer.json`` beside the target's ``tokenizer.json``). BLEU is sacrebleu's, on
detokenized text (its default 13a tokenization, cased), the number the WMT tables report.

Presets: ``tiny`` (seconds; tests), ``cpu`` (the default: under an hour on two cores) and
``gpu`` (the base Transformer's shape, 6+6 layers of 512, for a GPU).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Optional

import torch

from lmlab.config import Config, Range, config_from_dict, config_to_dict
from lmlab.data.batching import in_order
from lmlab.data.pairs import PairBatches, collate, encode_pairs, read_parallel
from lmlab.errors import UserError
from lmlab.io import atomic_write_text, read_text
from lmlab.outputs import claim_file, mark_folder
from lmlab.evaluate.metrics import perplexity
from lmlab.generate.beam import BeamConfig, beam_search
from lmlab.models.seq2seq import Seq2Seq, Seq2SeqConfig
from lmlab.nn.masks import PAD
from lmlab.recipes.common import (print_summary, resolve_config, resume_config, run_distributed, saved_config,
                                  saved_run, say)
from lmlab.recipes.lm import make_tokenizer
from lmlab.recipes.options import BeamOptions, Seq2SeqEvalOptions, Seq2SeqTrainOptions, TranslateOptions
from lmlab.runs import SOURCE_TOKENIZER, Run, load_run
from lmlab.tokenizers import Tokenizer
from lmlab.train import distributed
from lmlab.train.checkpoint import RunFolder
from lmlab.train.trainer import TrainConfig, Trainer



@dataclass
class TranslationDataConfig(Config):
    """Which parallel text, which languages, and how to tokenize them."""

    corpus: str = ""  # a folder with train.SRC, train.TGT, val.SRC, val.TGT
    src: str = "en"  # source language: the file extension
    tgt: str = "de"  # target language
    tokenizer: str = "bpe"  # algorithm trained on the training pairs, or a tokenizer.json path
    vocab_size: Optional[Annotated[int, Range(2)]] = 8000  # per tokenizer
    shared_vocab: bool = True  # one tokenizer for both languages (and one embedding table)


@dataclass
class Seq2SeqRunConfig:
    model: Seq2SeqConfig = field(default_factory=Seq2SeqConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: TranslationDataConfig = field(default_factory=TranslationDataConfig)


PRESETS = {
    "tiny": Seq2SeqRunConfig(
        Seq2SeqConfig(n_layer=1, n_head=2, n_embd=32, block_size=32, dropout=0.0),
        TrainConfig(batch_size=16, max_steps=30, lr=3e-3, min_lr=3e-4, warmup_steps=5, eval_every=15,
                    eval_batches=2, checkpoint_every=15, log_every=5),
        TranslationDataConfig(vocab_size=300)),
    "cpu": Seq2SeqRunConfig(
        Seq2SeqConfig(n_layer=3, n_head=4, n_embd=256, block_size=64, dropout=0.1),
        TrainConfig(batch_size=64, max_steps=4000, lr=1e-3, min_lr=5e-5, warmup_steps=400, weight_decay=0.01,
                    beta2=0.98, eval_every=500, eval_batches=16, checkpoint_every=500, log_every=25),
        TranslationDataConfig(vocab_size=8000)),
    "gpu": Seq2SeqRunConfig(
        Seq2SeqConfig(n_layer=6, n_head=8, n_embd=512, block_size=128, dropout=0.1),
        TrainConfig(batch_size=128, max_steps=20000, lr=7e-4, min_lr=7e-4, warmup_steps=4000, schedule="noam",
                    weight_decay=0.0, beta2=0.98, eval_every=1000, eval_batches=8, checkpoint_every=1000),
        TranslationDataConfig(vocab_size=10000)),
}


# --- run folders -----------------------------------------------------------------------------------
def _tokenizers(run: RunFolder, shared: bool) -> tuple[Tokenizer, Tokenizer]:
    target = run.load_tokenizer()
    return (target if shared else run.load_tokenizer(SOURCE_TOKENIZER)), target


def _train_tokenizers(data: TranslationDataConfig, pairs: list[tuple[str, str]], run: RunFolder):
    """Learn the vocabulary on the training pairs (both sides, or each side alone) and save it."""
    sources, targets = [s for s, _ in pairs], [t for _, t in pairs]
    if data.shared_vocab:
        tokenizer = make_tokenizer(data, sources + targets)
        tokenizer.save(run.tokenizer_path)
        tokenizers = (tokenizer, tokenizer)
    else:
        tokenizers = (make_tokenizer(data, sources), make_tokenizer(data, targets))
        tokenizers[0].save(run.path / SOURCE_TOKENIZER)
        tokenizers[1].save(run.tokenizer_path)
    for tokenizer in tokenizers:
        if tokenizer.eot_id is None:
            raise UserError("the tokenizer has no end-of-text token to start and end sentences with: "
                            "use --set tokenizer=bpe (or char, word, unigram, wordpiece)")
    return tokenizers


# --- lmlab seq2seq train -----------------------------------------------------------------------------
def resolve_run(options: Seq2SeqTrainOptions, run: RunFolder) -> tuple[Seq2SeqRunConfig, bool]:
    """(configuration, whether it resumes a saved run)."""
    saved = saved_run(run, options, "seq2seq", "lmlab seq2seq train --resume")
    if saved is None:
        if not options.data:
            raise UserError("--data DIR is required: a folder with train.SRC, train.TGT, val.SRC and val.TGT")
        return resolve_config(PRESETS, options, Seq2SeqTrainOptions.default_preset), False
    config = saved_config(Seq2SeqRunConfig, Seq2SeqConfig, saved, str(run.config_path))
    return resume_config(config, options, str(run.path), saved.get("preset")), True


def train_command(options: Seq2SeqTrainOptions) -> None:
    summary = run_distributed(train, options)
    if summary is not None:
        say(f"done: step {summary['step']}, best validation loss {summary['best_val_loss']:.4f} "
            f"in {summary['seconds']:.0f}s{' (interrupted: continue with --resume)' if summary['interrupted'] else ''}"
            f". BLEU: lmlab seq2seq eval {summary['out']}")
    print_summary(summary, options)


def _new_run(config: Seq2SeqRunConfig, run: RunFolder, preset: str, train_pairs, val_pairs) -> None:
    """Rank 0 of a new run: the tokenizers, then the model's vocabulary sizes, then config.json."""
    mark_folder(run.path, "seq2seq")
    source_tokenizer, target_tokenizer = _train_tokenizers(config.data, train_pairs, run)
    config.model.src_vocab_size, config.model.tgt_vocab_size = source_tokenizer.vocab_size, target_tokenizer.vocab_size
    config.model.share_embeddings = config.model.share_embeddings and config.data.shared_vocab
    config.model.validate()
    run.write_config({"kind": "seq2seq", "family": "seq2seq", "preset": preset, "model": config_to_dict(config.model),
                      "train": config_to_dict(config.train), "data": config_to_dict(config.data),
                      "pairs": {"train": len(train_pairs), "val": len(val_pairs)}})


def train(options: Seq2SeqTrainOptions, context: distributed.Context) -> dict:
    preset = options.preset or Seq2SeqTrainOptions.default_preset
    if options.resume and not options.out:
        raise UserError("--resume continues the run in --out: give --out RUN")
    run = RunFolder(options.out or f"runs/seq2seq-{preset}-{Path(options.data or '').name}-{options.src or 'en'}-"
                                   f"{options.tgt or 'de'}")
    config, resume = resolve_run(options, run)
    data, t = config.data, config.train
    train_pairs = read_parallel(data.corpus, "train", data.src, data.tgt)
    val_pairs = read_parallel(data.corpus, "val", data.src, data.tgt)
    if context.is_main and not resume:
        _new_run(config, run, preset, train_pairs, val_pairs)
    distributed.barrier(context)
    config.model = config_from_dict(Seq2SeqConfig, run.read_config()["model"], str(run.config_path))
    source_tokenizer, target_tokenizer = _tokenizers(run, data.shared_vocab)
    block = config.model.block_size
    train_encoded = encode_pairs(source_tokenizer, target_tokenizer, train_pairs, block)
    val_encoded = encode_pairs(source_tokenizer, target_tokenizer, val_pairs, block)

    torch.manual_seed(t.seed)
    model = Seq2Seq(config.model)
    if context.rank:
        torch.manual_seed(t.seed + context.rank)
    batches = PairBatches(train_encoded, t.batch_size * t.grad_accum * context.world_size, t.seed)
    eval_set = in_order(val_encoded, t.batch_size, collate)[:t.eval_batches][context.rank::context.world_size]
    trainer = Trainer(model, t, run, context=context, eval_batches=lambda: eval_set,
                      train_batches=lambda step: batches.step_batches(step, t.batch_size, t.grad_accum,
                                                                      context.rank, context.world_size))
    if resume:
        trainer.resume()
    if context.is_main:
        say(f"seq2seq {data.src}->{data.tgt}: {model.num_parameters() / 1e6:.2f}M parameters; "
            f"{len(train_pairs):,} training / {len(val_pairs):,} validation pairs; vocabulary "
            f"{source_tokenizer.vocab_size:,}{'' if data.shared_vocab else f' + {target_tokenizer.vocab_size:,}'}; "
            f"{batches.steps_per_epoch} steps per epoch; device {context.device}; run folder {run.path}")
    started = time.perf_counter()
    summary = trainer.fit()
    summary.update(seconds=time.perf_counter() - started, out=str(run.path))
    if context.is_main and not summary["interrupted"]:
        _show_translations(model, source_tokenizer, target_tokenizer, val_pairs[:3])
    return summary


def _show_translations(model, source_tokenizer, target_tokenizer, pairs) -> None:
    model.eval()
    for (source, reference), hypothesis in zip(pairs, translate(
            model, source_tokenizer, target_tokenizer, [s for s, _ in pairs], BeamConfig(beams=1))):
        say(f"  {source}\n  -> {hypothesis}\n     (reference: {reference})")


# --- translating --------------------------------------------------------------------------------------
def translate(model: Seq2Seq, source_tokenizer, target_tokenizer, sentences: list[str], beam: BeamConfig,
              batch_size: int = 64) -> list[str]:
    """Beam-search translations of `sentences`, batched by length, returned in the input order."""
    device = next(model.parameters()).device
    block = model.config.block_size
    sources = [source_tokenizer.encode(s)[:block - 1] + [source_tokenizer.eot_id] for s in sentences]
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    translations: list[str] = [""] * len(sentences)
    eos = target_tokenizer.eot_id
    for start in range(0, len(order), batch_size):
        chosen = order[start:start + batch_size]
        source = collate([(sources[i], [eos]) for i in chosen])[0].to(device)
        max_new_tokens = min(block - 1, 2 * source.size(1) + 10)  # room for a translation a bit longer
        start_tokens = torch.full((len(chosen), 1), eos, device=device)
        best = beam_search(model.conditioned_on(source), start_tokens, max_new_tokens, beam, eos_id=eos)
        for i, hypotheses in zip(chosen, best):
            translations[i] = target_tokenizer.decode(hypotheses[0].tokens)
    return translations


def _beam(options: BeamOptions) -> BeamConfig:
    beam = BeamConfig(beams=options.beams, length_penalty=options.length_penalty)
    beam.validate(prefix="--")
    return beam


def _open(options, command: str) -> Run:
    return load_run(options.run, distributed.resolve_device(options.device), expect="seq2seq", command=command)


def translate_command(options: TranslateOptions) -> None:
    if (options.text is None) == (options.file is None):
        raise UserError("give the text to translate, or --file PATH with one sentence per line")
    beam = _beam(options)
    run = _open(options, "lmlab translate")
    model, source_tokenizer, target_tokenizer = run.model, run.source_tokenizer, run.tokenizer
    if options.file is not None:
        if not Path(options.file).is_file():
            raise UserError(f"--file {options.file}: not found")
        sentences = read_text(options.file).splitlines()
    else:
        sentences = [options.text]
    for source, translation in zip(sentences, translate(model, source_tokenizer, target_tokenizer, sentences, beam)):
        print(json.dumps({"source": source, "translation": translation}, ensure_ascii=False) if options.json
              else translation, flush=True)


# --- lmlab seq2seq eval --------------------------------------------------------------------------------
@torch.no_grad()
def teacher_forced_loss(model: Seq2Seq, encoded, batch_size: int = 64) -> tuple[float, int]:
    """Mean cross-entropy per target token (end-of-sentence included) and the number of tokens."""
    device = next(model.parameters()).device
    total, tokens = 0.0, 0
    for source, decoder_input, targets in in_order(encoded, batch_size, collate):
        logits, _ = model(source.to(device), decoder_input.to(device))
        total += torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), targets.to(device).flatten(),
                                                   ignore_index=PAD, reduction="sum").item()
        tokens += int((targets != PAD).sum())
    return total / max(tokens, 1), tokens


def eval_command(options: Seq2SeqEvalOptions) -> None:
    import sacrebleu

    beam = _beam(options)
    out = claim_file(options.out, options.force) if options.out else None
    run = _open(options, "lmlab seq2seq eval")
    model, source_tokenizer, target_tokenizer, data = run.model, run.source_tokenizer, run.tokenizer, run.config["data"]
    pairs = read_parallel(options.data or data["corpus"], options.split, data["src"], data["tgt"])
    if options.limit is not None:
        if options.limit < 1:
            raise UserError(f"--limit must be >= 1, got {options.limit}")
        pairs = pairs[:options.limit]
    started = time.perf_counter()
    hypotheses = translate(model, source_tokenizer, target_tokenizer, [s for s, _ in pairs], beam)
    seconds = time.perf_counter() - started
    bleu = sacrebleu.metrics.BLEU()
    score = bleu.corpus_score(hypotheses, [[t for _, t in pairs]])
    loss, tokens = teacher_forced_loss(model, encode_pairs(source_tokenizer, target_tokenizer, pairs,
                                                           model.config.block_size))
    if out is not None:
        atomic_write_text(out, "".join(h + "\n" for h in hypotheses))
    result = {"bleu": round(score.score, 2), "signature": str(bleu.get_signature()), "sentences": len(pairs),
              "split": options.split, "beams": beam.beams, "length_penalty": beam.length_penalty,
              "loss": loss, "perplexity": perplexity(loss), "target_tokens": tokens,
              "translation_seconds": round(seconds, 1)}
    if options.json:
        print(json.dumps(result))
    else:
        print(f"{options.split}: BLEU {score.score:.2f} ({score}; {bleu.get_signature()}) over {len(pairs):,} sentences "
              f"with {beam.beams} beams; loss {loss:.4f}, perplexity {perplexity(loss):.2f} "
              f"({loss / math.log(2):.3f} bits/token)")
