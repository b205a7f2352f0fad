"""Recipe: train, sample and evaluate a language model (`lmlab train | sample | eval`).

    corpus -> split -> tokenizer (trained on the training split) -> ids -> model -> Trainer -> run folder

Each step uses the library; this file only wires them together, chooses presets, and talks to
the user. Presets are named configurations: ``tiny`` (seconds, for tests), ``cpu`` (the default:
a small character-level GPT that writes recognisable Shakespeare-like text in under ten minutes
on two cores) and ``gpt2-small`` (the 124M-parameter GPT-2 shape, for GPUs).

`--model` picks the family (`lmlab.models.registry`): gpt (default), ngram, ffnn, rnn, lstm, gru,
cnn. Every family has its own ``tiny`` and ``cpu`` presets, `--set` is typed against its config
dataclass, and it lands in the same run folder layout (config.json keeps ``model_type``). Three
differences, each in one place below: the n-gram model is counted in one pass instead of trained
(`count_ngram`); recurrent models with ``carry_state`` read contiguous streams
(`StreamSampler`) and carry their hidden state from step to step (truncated BPTT); everything
else goes through the same Trainer.
"""

from __future__ import annotations

import copy
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch

from lmlab.config import apply_overrides, config_from_dict, config_to_dict, preset
from lmlab.data.lm import (StreamSampler, WindowSampler, encode_documents, load_ids, save_ids, sequential_windows,
                           stream_windows)
from lmlab.errors import UserError
from lmlab.evaluate.metrics import language_model_loss, perplexity
from lmlab.generate.beam import BeamConfig, beam_search
from lmlab.generate.sampling import SamplingConfig, generate
from lmlab.generate.streaming import TextStream
from lmlab.models.cnn_lm import CNNLMConfig
from lmlab.models.ffnn_lm import FFNNLMConfig
from lmlab.models.gpt import GPTConfig
from lmlab.models.ngram import NGramConfig, NGramLM
from lmlab.models.registry import MODELS, build_model
from lmlab.models.rnn_lm import RNNLMConfig
from lmlab.tokenizers import TOKENIZERS, Tokenizer
from lmlab.train import distributed
from lmlab.train.checkpoint import RunFolder
from lmlab.train.trainer import TrainConfig, Trainer


@dataclass
class DataConfig:
    """Which text to train on and how to tokenize it."""

    corpus: str = "shakespeare"  # corpus name or path
    val_fraction: float = 0.1  # the last 10% of every document is held out
    tokenizer: str = "bpe"  # algorithm name, or a tokenizer.json path
    vocab_size: Optional[int] = 1024  # for trained subword tokenizers (ignored by char)


@dataclass
class LMRunConfig:
    model: Any = field(default_factory=GPTConfig)  # the family's config dataclass
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)


PRESETS = {
    "tiny": LMRunConfig(
        GPTConfig(block_size=32, n_layer=2, n_head=2, n_embd=32),
        TrainConfig(batch_size=8, max_steps=30, lr=3e-3, min_lr=3e-4, warmup_steps=5, eval_every=15,
                    eval_batches=2, checkpoint_every=15, log_every=5),
        DataConfig(tokenizer="char"),  # seconds, for tests and first looks
    ),
    "cpu": LMRunConfig(
        GPTConfig(block_size=128, n_layer=4, n_head=4, n_embd=128, dropout=0.05),
        TrainConfig(batch_size=32, max_steps=1500, lr=2e-3, min_lr=2e-4, warmup_steps=100, eval_every=250,
                    eval_batches=8, checkpoint_every=250, log_every=25),
    ),
    "gpt2-small": LMRunConfig(
        GPTConfig(block_size=1024, n_layer=12, n_head=12, n_embd=768, dropout=0.0),
        TrainConfig(batch_size=16, grad_accum=4, max_steps=5000, lr=6e-4, min_lr=6e-5, warmup_steps=200,
                    beta2=0.95, eval_every=500, eval_batches=20, checkpoint_every=500),
    ),
}


def _family_presets(tiny, cpu) -> dict[str, LMRunConfig]:
    """A family's `tiny` and `cpu` presets, trained like the GPT presets of the same name."""
    return {name: LMRunConfig(model, copy.deepcopy(PRESETS[name].train), copy.deepcopy(PRESETS[name].data))
            for name, model in (("tiny", tiny), ("cpu", cpu))}


def _rnn_presets(cell: str) -> dict[str, LMRunConfig]:
    return _family_presets(RNNLMConfig(cell=cell, block_size=32, n_embd=32, n_hidden=64, n_layer=1),
                           RNNLMConfig(cell=cell, block_size=128, n_embd=128, n_hidden=256, n_layer=2, dropout=0.05))


FAMILY_PRESETS = {
    "gpt": PRESETS,
    "ngram": _family_presets(NGramConfig(order=3, block_size=32), NGramConfig(order=5, block_size=128)),
    "ffnn": _family_presets(FFNNLMConfig(context=4, block_size=32, n_embd=16, n_hidden=64),
                            FFNNLMConfig(context=8, block_size=128, n_embd=64, n_hidden=512, dropout=0.05)),
    "rnn": _rnn_presets("rnn"),
    "lstm": _rnn_presets("lstm"),
    "gru": _rnn_presets("gru"),
    "cnn": _family_presets(CNNLMConfig(block_size=32, n_embd=32, n_layer=3),
                           CNNLMConfig(block_size=128, n_embd=128, n_layer=6, dropout=0.05)),
}
DISPLAY_NAMES = {"gpt": "GPT", "ngram": "n-gram", "ffnn": "FFNN", "rnn": "RNN", "lstm": "LSTM", "gru": "GRU",
                 "cnn": "CNN"}


def say(message: str) -> None:
    """Human-readable progress goes to stderr; stdout stays for results."""
    print(message, file=sys.stderr, flush=True)


# --- building blocks of the recipe -----------------------------------------------------------------
def make_tokenizer(data: DataConfig, train_texts: list[str]) -> Tokenizer:
    """Train the named algorithm on the training split, or load a tokenizer file as is."""
    if data.tokenizer in TOKENIZERS:
        say(f"training a {data.tokenizer} tokenizer on the training split")
        return TOKENIZERS[data.tokenizer]().train(train_texts, vocab_size=data.vocab_size)
    if Path(data.tokenizer).is_file():
        return Tokenizer.load(data.tokenizer)
    raise UserError(f"--tokenizer {data.tokenizer!r} is neither an algorithm ({', '.join(TOKENIZERS)}) "
                    f"nor an existing tokenizer.json file")


def load_run(path, device: str | torch.device = "cpu"):
    """Reopen a run folder: (model in eval mode, tokenizer, config dict)."""
    run = RunFolder(path)
    config = run.read_config()
    tokenizer = Tokenizer.load(run.tokenizer_path) if run.tokenizer_path.is_file() else None
    if tokenizer is None:
        raise UserError(f"{run.tokenizer_path} is missing: {run.path} is not a complete run folder")
    model = build_model(config.get("model_type", "gpt"), config.get("model"), str(run.config_path))
    model.check_tokenizer(tokenizer)
    if isinstance(model, NGramLM):  # counts, not weights
        model.load_state_dict(run.load_arrays(), str(run.model_path))
    else:
        run.load_model(model)
    return model.to(device).eval(), tokenizer, config


def _configs_from_args(args, model_type: str) -> LMRunConfig:
    config = preset(FAMILY_PRESETS[model_type], args.preset or "cpu")
    config.data.corpus = args.data
    if args.tokenizer is not None and args.tokenizer != config.data.tokenizer:
        config.data.tokenizer, config.data.vocab_size = args.tokenizer, None  # the preset's size was for its own
    if args.vocab_size is not None:
        config.data.vocab_size = args.vocab_size
    apply_overrides({"model": config.model, "train": config.train, "data": config.data}, args.overrides)
    if args.max_steps is not None:
        config.train.max_steps = args.max_steps
    if args.seed is not None:
        config.train.seed = args.seed
    if args.compile:
        config.train.compile = True
    _validate(config, model_type)
    return config


def _validate(config: LMRunConfig, model_type: str) -> None:
    checks = [
        (config.train.max_steps >= 1, "max_steps must be >= 1"),
        (config.train.batch_size >= 1 and config.train.grad_accum >= 1, "batch_size and grad_accum must be >= 1"),
        (config.train.lr > 0, "lr must be > 0"),
        (getattr(config.model, "cell", model_type) == model_type,
         f"--set cell={getattr(config.model, 'cell', '')} contradicts --model {model_type}: "
         f"choose the cell with --model rnn|lstm|gru"),
    ]
    for ok, message in checks:
        if not ok:
            raise UserError(message)
    config.model.validate()


def _run_config_from_file(saved: dict, source: str) -> LMRunConfig:
    model_type = saved.get("model_type", "gpt")
    if model_type not in MODELS:
        raise UserError(f"{source}: unknown model type {model_type!r} (known: {', '.join(MODELS)})")
    return LMRunConfig(config_from_dict(MODELS[model_type][0], saved["model"], source),
                       config_from_dict(TrainConfig, saved["train"], source),
                       config_from_dict(DataConfig, saved["data"], source))


def _prepare_data(config: LMRunConfig, run: RunFolder) -> tuple[Tokenizer, dict]:
    """Rank 0: corpus -> split -> tokenizer -> ids saved in the run folder. Returns (tokenizer, split record)."""
    from lmlab.data.corpora import load_corpus, split_corpus

    corpus = load_corpus(config.data.corpus)
    split = split_corpus(corpus, config.data.val_fraction)
    tokenizer = make_tokenizer(config.data, split.train)
    say(f"tokenizing {split.record['train_chars']:,} training and {split.record['val_chars']:,} "
        f"validation characters ({tokenizer.vocab_size} token types)")
    (run.path / "data").mkdir(parents=True, exist_ok=True)
    save_ids(run.path / "data" / "train.npy", encode_documents(tokenizer, split.train))
    save_ids(run.path / "data" / "val.npy", encode_documents(tokenizer, split.val))
    tokenizer.save(run.tokenizer_path)
    return tokenizer, split.record


# --- lmlab train -------------------------------------------------------------------------------------
def train_command(args) -> None:
    context = distributed.setup(args.device)
    try:
        summary = train(args, context)
    finally:
        distributed.cleanup(context)
    if context.is_main:
        best = summary["best_val_loss"]
        say(f"done: step {summary['step']}"
            f"{f', best validation loss {best:.4f}' if math.isfinite(best) else ''}"
            f"{' (interrupted: continue with --resume)' if summary['interrupted'] else ''}")


def train(args, context: distributed.Context) -> dict:
    chosen = getattr(args, "model", None)
    family = f"{chosen}-" if chosen not in (None, "gpt") else ""
    out = Path(args.out or f"runs/{family}{args.preset or 'cpu'}-{Path(args.data).stem}")
    run = RunFolder(out)
    if args.resume:
        if args.overrides or args.preset or chosen:
            raise UserError("--resume takes its configuration from the run's config.json: drop --model/--preset/--set")
        saved = run.read_config()
        model_type = saved.get("model_type", "gpt")
        if model_type == "ngram":
            raise UserError(f"{out} is an n-gram run: it is counted in one pass, there is nothing to resume")
        config = _run_config_from_file(saved, str(run.config_path))
        if args.max_steps is not None:
            config.train.max_steps = args.max_steps  # extend (or shorten) a finished run
        split_record = saved["data_split"]
    else:
        if run.config_path.exists():
            raise UserError(f"{out} already holds a run: continue it with --resume or choose another --out")
        model_type = chosen or "gpt"
        config = _configs_from_args(args, model_type)
        split_record = None
    if context.is_main and not args.resume:
        tokenizer, split_record = _prepare_data(config, run)
        config.model.vocab_size = tokenizer.vocab_size
        if model_type == "ngram":  # sentences end at the tokenizer's end-of-text
            config.model.eos_id = -1 if tokenizer.eot_id is None else tokenizer.eot_id
        run.write_config({"model_type": model_type, "model": config_to_dict(config.model),
                          "train": config_to_dict(config.train), "data": config_to_dict(config.data),
                          "data_split": split_record})
    distributed.barrier(context)
    tokenizer = Tokenizer.load(run.tokenizer_path)
    config.model.vocab_size = tokenizer.vocab_size
    train_ids, val_ids = load_ids(run.path / "data" / "train.npy"), load_ids(run.path / "data" / "val.npy")

    torch.manual_seed(config.train.seed)  # the same initial weights on every rank
    model = build_model(model_type, config_to_dict(config.model))
    model.check_tokenizer(tokenizer)
    if context.rank:
        torch.manual_seed(config.train.seed + context.rank)  # different dropout masks per rank
    t = config.train
    val_sampler = WindowSampler(val_ids, config.model.block_size, t.seed)
    eval_set = val_sampler.fixed_batches(t.eval_batches, t.batch_size, context.rank, context.world_size)
    if isinstance(model, NGramLM):
        return count_ngram(model, tokenizer, run, train_ids, eval_set, context)
    if getattr(config.model, "carry_state", False):  # truncated BPTT: contiguous streams, carried states
        train_sampler = StreamSampler(train_ids, config.model.block_size,
                                      t.batch_size * t.grad_accum * context.world_size, t.seed)
        train_batches = lambda step: _carried_state_batches(model, train_sampler, step, t, context)  # noqa: E731
    else:
        train_sampler = WindowSampler(train_ids, config.model.block_size, t.seed)
        train_batches = lambda step: train_sampler.step_batches(step, t.batch_size, t.grad_accum,  # noqa: E731
                                                                context.rank, context.world_size)
    trainer = Trainer(model, t, run, train_batches=train_batches, eval_batches=lambda: eval_set, context=context)
    if args.resume:
        trainer.resume()
        if context.is_main:
            say(f"resuming {out} at step {trainer.step} of {t.max_steps}")
    if context.is_main:
        tokens_per_step = t.batch_size * t.grad_accum * context.world_size * config.model.block_size
        field = f", receptive field {model.receptive_field} tokens" if hasattr(model, "receptive_field") else ""
        say(f"{DISPLAY_NAMES[model_type]}: {model.num_parameters() / 1e6:.2f}M parameters "
            f"({model.num_parameters(False) / 1e6:.2f}M without embeddings{field}); "
            f"{len(train_ids):,} training / {len(val_ids):,} validation tokens; "
            f"{tokens_per_step:,} tokens per step; device {context.device}"
            f"{f' x {context.world_size} processes' if context.distributed else ''}; run folder {out}")
    started = time.perf_counter()
    summary = trainer.fit()
    summary["seconds"] = time.perf_counter() - started
    if context.is_main and not summary["interrupted"]:
        say(f"trained in {time.perf_counter() - started:.0f}s. A sample (lmlab sample {out}):")
        model.eval()
        _stream_sample(model, tokenizer, "", 200, SamplingConfig(temperature=0.8), context.device, seed=0,
                       out=sys.stderr)
    return summary


def _carried_state_batches(model, sampler: StreamSampler, step: int, t: TrainConfig, context) -> list:
    """(inputs, targets, state) per micro-batch: each slot's recurrent state continues its streams."""
    if sampler.restarts(step):
        model.reset_carried()  # a new pass over the data: the streams start afresh
    micro = sampler.step_batches(step, t.batch_size, t.grad_accum, context.rank, context.world_size)
    return [(inputs, targets, model.carried_state(slot)) for slot, (inputs, targets) in enumerate(micro)]


def count_ngram(model: NGramLM, tokenizer, run: RunFolder, train_ids, eval_set, context) -> dict:
    """An n-gram model's training: one counting pass, the counts saved, one validation estimate."""
    from lmlab.viz import plot_loss_curves

    started = time.perf_counter()
    model.fit(train_ids)
    seconds = time.perf_counter() - started
    val_loss = sum(model(*batch)[1].item() for batch in eval_set) / len(eval_set)
    if context.is_main:
        run.save_arrays(model.state_dict(), step=1)
        run.append_metrics({"step": 1, "count_seconds": round(seconds, 3), "tokens_seen": len(train_ids),
                            "tokens_per_s": round(len(train_ids) / max(seconds, 1e-9), 1)})
        run.append_metrics({"step": 1, "val_loss": val_loss, "val_perplexity": perplexity(val_loss)})
        plot_loss_curves(run.read_metrics(), run.plot_path)
        say(f"n-gram: counted {model.num_parameters():,} distinct n-grams of orders 1..{model.config.order} "
            f"in {len(train_ids):,} tokens ({seconds:.2f}s); validation loss {val_loss:.4f}, "
            f"perplexity {perplexity(val_loss):.2f}; run folder {run.path}. A sample (lmlab sample {run.path}):")
        _stream_sample(model, tokenizer, "", 200, SamplingConfig(temperature=0.8), context.device,
                       seed=0, out=sys.stderr)
    return {"step": 1, "train_loss": math.nan, "best_val_loss": val_loss, "tokens_seen": len(train_ids),
            "interrupted": False, "seconds": seconds}


# --- lmlab sample ------------------------------------------------------------------------------------
def _stream_sample(model, tokenizer, prompt: str, max_new_tokens: int, sampling: SamplingConfig, device,
                   seed: int | None, out=None) -> str:
    out = out or sys.stdout
    prompt_ids = tokenizer.encode(prompt) if prompt else []
    if not prompt_ids:
        if tokenizer.eot_id is None:
            raise UserError("this tokenizer has no end-of-text token to start from: give --prompt TEXT")
        prompt_ids = [tokenizer.eot_id]  # the start of a new document
    generator = None
    if seed is not None:
        generator = torch.Generator(device=device).manual_seed(seed)
    out.write(prompt)
    out.flush()
    stream, pieces = TextStream(tokenizer, prefix=prompt_ids), []
    ids = torch.tensor([prompt_ids], dtype=torch.long, device=device)
    for token in generate(model, ids, max_new_tokens, sampling, stop_token=tokenizer.eot_id, generator=generator):
        token = int(token)
        if token == tokenizer.eot_id:
            break
        piece = stream.push(token)
        pieces.append(piece)
        out.write(piece)
        out.flush()
    tail = stream.flush()
    out.write(tail + "\n")
    out.flush()
    return "".join(pieces) + tail


def beam_continuation(model, tokenizer, prompt: str, max_new_tokens: int, beam: BeamConfig, device) -> str:
    """`prompt` and its most probable continuation found by beam search (whole, not streamed). Beam
    search does not slide the window: a learned position table stops it at block_size."""
    if not hasattr(model.new_cache(1), "reorder"):
        raise UserError("--strategy beam needs a model whose decoding state can follow the beams: a GPT run")
    prompt_ids = tokenizer.encode(prompt) if prompt else [tokenizer.eot_id]
    if prompt_ids[0] is None:
        raise UserError("this tokenizer has no end-of-text token to start from: give --prompt TEXT")
    if not model.position_embedding.extrapolates:
        block = model.config.block_size
        prompt_ids = prompt_ids[-(block // 2):]
        max_new_tokens = min(max_new_tokens, block - len(prompt_ids))
    ids = torch.tensor([prompt_ids], dtype=torch.long, device=device)
    best = beam_search(model, ids, max_new_tokens, beam, eos_id=tokenizer.eot_id)[0][0]
    return prompt + tokenizer.decode(best.tokens)


def sample_command(args) -> None:
    if args.max_new_tokens < 1:
        raise UserError(f"--max-new-tokens must be >= 1, got {args.max_new_tokens}")
    device = distributed.resolve_device(args.device)
    if args.strategy == "beam":
        beam = BeamConfig(args.beams, args.length_penalty)
        beam.validate()
        model, tokenizer, _ = load_run(args.run, device)
        print(beam_continuation(model, tokenizer, args.prompt, args.max_new_tokens, beam, device), flush=True)
        return
    sampling = SamplingConfig(args.strategy, args.temperature, args.top_k, args.top_p)
    sampling.validate()
    model, tokenizer, _ = load_run(args.run, device)
    _stream_sample(model, tokenizer, args.prompt, args.max_new_tokens, sampling, device, args.seed)


# --- lmlab eval --------------------------------------------------------------------------------------
def evaluation_ids(run: RunFolder, config: dict, tokenizer, data: str | None, split: str):
    """The token ids to evaluate on: the run's own validation ids, or a corpus tokenized now."""
    if data is None and split == "val" and (run.path / "data" / "val.npy").is_file():
        return load_ids(run.path / "data" / "val.npy")
    from lmlab.data.corpora import load_corpus, split_corpus

    corpus = load_corpus(data or config["data"]["corpus"])
    if split == "all":
        texts = [document.text for document in corpus.documents]
    else:
        parts = split_corpus(corpus, config["data"]["val_fraction"])
        texts = parts.val if split == "val" else parts.train
    return encode_documents(tokenizer, texts)


def evaluation_loss(model, ids, block_size: int, device, batch_size: int = 16) -> tuple[float, int]:
    """`lmlab eval`'s protocol, shared by `lmlab compare`: every token once as a target, with as
    much context as the model can use. A model whose state never fills (n-gram, FFNN, CNN, RNNs)
    reads `batch_size` contiguous streams and carries its state from window to window; a
    Transformer, whose KV cache holds block_size positions, scores consecutive windows afresh."""
    cache = model.new_cache(batch_size)
    if cache.max_length is None:
        return language_model_loss(model, stream_windows(ids, block_size, batch_size), device, cache)
    return language_model_loss(model, sequential_windows(ids, block_size, batch_size), device)


def eval_command(args) -> None:
    import json

    device = distributed.resolve_device(args.device)
    model, tokenizer, config = load_run(args.run, device)
    ids = evaluation_ids(RunFolder(args.run), config, tokenizer, args.data, args.split)
    if len(ids) < 2:
        raise UserError("the evaluation text has fewer than two tokens")
    loss, tokens = evaluation_loss(model, ids, model.config.block_size, device)
    result = {"loss": loss, "perplexity": perplexity(loss), "tokens": tokens}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.split} loss {loss:.4f} nats/token, perplexity {perplexity(loss):.3f} over {tokens:,} tokens"
              f" ({loss / math.log(2):.3f} bits/token)")
