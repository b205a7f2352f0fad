"""Recipe: train, sample and evaluate a language model (`lmlab train | sample | eval`).

    corpus -> split -> tokenizer (trained on the training split) -> ids -> model -> Trainer -> run folder

Each step uses the library; this file only wires them together and talks to the user. The
families and their presets are records in `lmlab.recipes.families` (``tiny``: seconds, for tests;
``cpu``: the default, a small GPT that writes recognisable Shakespeare-like text in under ten
minutes on two cores; ``gpt2-small``: the 124M-parameter GPT-2 shape, for GPUs). Every family
lands in the same run folder layout (config.json: ``kind: lm`` and the ``family``). Two
differences, each in one place below: a counted family (the n-gram model) is fitted in one pass
instead of trained (`count_ngram`); recurrent models with ``carry_state`` read contiguous streams
(`StreamSampler`) and carry their hidden state from step to step (truncated BPTT).
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Callable

import torch

from lmlab.config import config_to_dict
from lmlab.data.lm import (StreamSampler, WindowSampler, encode_documents, load_ids, save_ids, sequential_windows,
                           stream_windows)
from lmlab.errors import UserError
from lmlab.evaluate.metrics import language_model_loss, perplexity
from lmlab.generate.beam import BeamConfig, beam_search
from lmlab.generate.sampling import SamplingConfig, generate
from lmlab.generate.streaming import TextStream
from lmlab.outputs import mark_folder
from lmlab.recipes.common import (print_summary, resolve_config, resume_config, run_distributed, saved_config,
                                  saved_run, say, sections)
from lmlab.recipes.families import DEFAULT_FAMILY, DataConfig, LMFamily, LMRunConfig, lm_family
from lmlab.recipes.options import EvalOptions, LMTrainOptions, SampleOptions
from lmlab.runs import load_run
from lmlab.tokenizers import TOKENIZERS, Tokenizer
from lmlab.tokenizers.sampling import sampling
from lmlab.train import distributed
from lmlab.train.checkpoint import RunFolder
from lmlab.train.memory import check_fits
from lmlab.train.trainer import TrainConfig, Trainer


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


def _adjust_tokenizer(config: LMRunConfig, options: LMTrainOptions) -> None:
    """A tokenizer other than the preset's starts from its own default size, not the preset's."""
    if options.tokenizer is not None and options.vocab_size is None:
        config.data.vocab_size = None


def _check_cell(config: LMRunConfig, family: LMFamily) -> None:
    cell = getattr(config.model, "cell", family.name)
    if cell != family.name:
        raise UserError(f"--set cell={cell} contradicts --model {family.name}: choose the cell with "
                        f"--model rnn|lstm|gru")


def _default_out(options: LMTrainOptions) -> Path:
    family = f"{options.model}-" if options.model not in (None, DEFAULT_FAMILY) else ""
    return Path(f"runs/{family}{options.preset or LMTrainOptions.default_preset}-{Path(options.data or 'shakespeare').stem}")


def resolve_run(options: LMTrainOptions, out: Path) -> tuple[LMFamily, LMRunConfig, dict | None]:
    """(family, configuration, the saved config.json when resuming) for `lmlab train`."""
    run = RunFolder(out)
    saved = saved_run(run, options, "lm", "lmlab train --resume")
    if saved is None:
        family = lm_family(options.model or DEFAULT_FAMILY)
        config = resolve_config(family.presets, options, LMTrainOptions.default_preset, adjust=_adjust_tokenizer)
        _check_cell(config, family)
        return family, config, None
    family = lm_family(saved["family"], str(run.config_path))
    if "distill" in saved:  # its loss needs the teacher
        raise UserError(f"--resume: {out} is a distilled student: continue it with `lmlab distill "
                        f"{saved['distill']['teacher']} --out {out} --resume`")
    if options.model and options.model != family.name:
        raise UserError(f"--resume: --model {options.model} contradicts {out}, a {family.display_name} run")
    if family.training == "counted":
        raise UserError(f"{out} is an {family.display_name} run: it is counted in one pass, there is nothing "
                        f"to resume")
    config = resume_config(saved_config(LMRunConfig, family.config_class, saved, str(run.config_path)), options,
                           str(out), saved.get("preset"))
    return family, config, saved


def _prepare_data(config: LMRunConfig, run: RunFolder) -> tuple[Tokenizer, dict]:
    """Rank 0: corpus -> split -> tokenizer -> ids saved in the run folder. Returns (tokenizer, split record)."""
    from lmlab.data.corpora import load_corpus, split_corpus

    corpus = load_corpus(config.data.corpus, config.data.text_field, config.data.text_column)
    split = split_corpus(corpus, config.data.val_fraction)
    mark_folder(run.path, "lm")
    tokenizer = make_tokenizer(config.data, split.train)
    say(f"tokenizing {split.record['train_chars']:,} training and {split.record['val_chars']:,} "
        f"validation characters ({tokenizer.vocab_size} token types)")
    (run.path / "data").mkdir(parents=True, exist_ok=True)
    with sampling(tokenizer, config.data.bpe_dropout, config.data.sample_alpha, seed=config.train.seed):
        save_ids(run.path / "data" / "train.npy", encode_documents(tokenizer, split.train))
    save_ids(run.path / "data" / "val.npy", encode_documents(tokenizer, split.val))
    tokenizer.save(run.tokenizer_path)
    return tokenizer, split.record


# --- lmlab train -------------------------------------------------------------------------------------
def train_command(options: LMTrainOptions) -> None:
    finish_training(run_distributed(train, options), options)


def finish_training(summary: dict | None, options) -> None:
    """A training command's last line on rank 0 (the step, the best validation loss), and --json's summary."""
    if summary is not None:
        best = summary["best_val_loss"]
        say(f"done: step {summary['step']}"
            f"{f', best validation loss {best:.4f}' if math.isfinite(best) else ''}"
            f"{' (interrupted: continue with --resume)' if summary['interrupted'] else ''}")
    print_summary(summary, options)


def train(options: LMTrainOptions, context: distributed.Context) -> dict:
    """`lmlab train`: resolve the configuration (or reopen the run), then `fit` it."""
    out = Path(options.out) if options.out else _default_out(options)
    family, config, saved = resolve_run(options, out)
    if family.training != "counted" and saved is None:  # before any file is written
        shape = {**config_to_dict(config.model), "vocab_size": config.data.vocab_size or 256}
        check_fits(lambda: family.build(shape), context.device)
    return fit(family, config, out, context, preset=options.preset or LMTrainOptions.default_preset,
               resume=saved is not None)


def fit(family: LMFamily, config: LMRunConfig, out: Path, context: distributed.Context, preset: str = "",
        resume: bool = False, watch: Callable[[torch.nn.Module, int], None] | None = None,
        training_loss: Callable | None = None) -> dict:
    """Prepare the data (a new run), build the model, train it into `out`; the summary of `Trainer.fit`.
    `watch(model, step)` is called before the first step (step 0) and after every optimizer step:
    the lab reads the model while it trains. `training_loss(model, batch)` replaces the model's own
    loss for the gradient (`lmlab distill`). Every section of `config` is saved in config.json."""
    run = RunFolder(out)
    if context.is_main and not resume:
        tokenizer, split_record = _prepare_data(config, run)
        config.model.vocab_size = tokenizer.vocab_size
        if family.training == "counted":  # sentences end at the tokenizer's end-of-text
            config.model.eos_id = -1 if tokenizer.eot_id is None else tokenizer.eot_id
        run.write_config({"kind": "lm", "family": family.name, "preset": preset,
                          **{name: config_to_dict(part) for name, part in sections(config).items()},
                          "data_split": split_record})
    distributed.barrier(context)
    tokenizer = run.load_tokenizer()
    config.model.vocab_size = tokenizer.vocab_size
    train_ids, val_ids = (load_ids(run.path / "data" / name, tokenizer.vocab_size)
                          for name in ("train.npy", "val.npy"))

    torch.manual_seed(config.train.seed)  # the same initial weights on every rank
    model = family.build(config_to_dict(config.model))
    model.check_tokenizer(tokenizer)
    if context.rank:
        torch.manual_seed(config.train.seed + context.rank)  # different dropout masks per rank
    t = config.train
    val_sampler = WindowSampler(val_ids, config.model.block_size, t.seed)
    eval_set = val_sampler.fixed_batches(t.eval_batches, t.batch_size, context.rank, context.world_size)
    if family.training == "counted":
        return count_ngram(model, tokenizer, run, train_ids, eval_set, context, t.logger)
    if getattr(config.model, "carry_state", False):  # truncated BPTT: contiguous streams, carried states
        train_sampler = StreamSampler(train_ids, config.model.block_size,
                                      t.batch_size * t.grad_accum * context.world_size, t.seed)
        train_batches = lambda step: _carried_state_batches(model, train_sampler, step, t, context)  # noqa: E731
    else:
        train_sampler = WindowSampler(train_ids, config.model.block_size, t.seed)
        train_batches = lambda step: train_sampler.step_batches(step, t.batch_size, t.grad_accum,  # noqa: E731
                                                                context.rank, context.world_size)
    on_step_end = (lambda step, loss: watch(model, step)) if watch is not None else None  # noqa: E731
    trainer = Trainer(model, t, run, train_batches=train_batches, eval_batches=lambda: eval_set, context=context,
                      on_step_end=on_step_end, training_loss=training_loss)
    if resume:
        trainer.resume()
        if context.is_main:
            say(f"resuming {out} at step {trainer.step} of {t.max_steps}")
    if context.is_main:
        _describe(family, model, config, len(train_ids), len(val_ids), context, out)
    if watch is not None and trainer.step == 0:
        watch(model, 0)
    started = time.perf_counter()
    summary = trainer.fit()
    summary["seconds"] = time.perf_counter() - started
    if context.is_main and not summary["interrupted"]:
        say(f"trained in {summary['seconds']:.0f}s. A sample (lmlab sample {out}):")
        model.eval()
        stream_sample(model, tokenizer, "", 200, SamplingConfig(temperature=0.8), context.device, seed=0,
                      out=sys.stderr)
    return summary


def _describe(family: LMFamily, model, config: LMRunConfig, train_tokens: int, val_tokens: int, context,
              out: Path) -> None:
    t = config.train
    tokens_per_step = t.batch_size * t.grad_accum * context.world_size * config.model.block_size
    field = f", receptive field {model.receptive_field} tokens" if hasattr(model, "receptive_field") else ""
    say(f"{family.display_name}: {model.num_parameters() / 1e6:.2f}M parameters "
        f"({model.num_parameters(False) / 1e6:.2f}M without embeddings{field}); "
        f"{train_tokens:,} training / {val_tokens:,} validation tokens; "
        f"{tokens_per_step:,} tokens per step; device {context.device}"
        f"{f' x {context.world_size} processes' if context.distributed else ''}; run folder {out}")


def _carried_state_batches(model, sampler: StreamSampler, step: int, t: TrainConfig, context) -> list:
    """(inputs, targets, state) per micro-batch: each slot's recurrent state continues its streams."""
    if sampler.restarts(step):
        model.reset_carried()  # a new pass over the data: the streams start afresh
    micro = sampler.step_batches(step, t.batch_size, t.grad_accum, context.rank, context.world_size)
    return [(inputs, targets, model.carried_state(slot)) for slot, (inputs, targets) in enumerate(micro)]


def count_ngram(model, tokenizer, run: RunFolder, train_ids, eval_set, context, logger: str) -> dict:
    """An n-gram model's training: one counting pass, the counts saved, one validation estimate."""
    from lmlab.train.tensorboard import write_records
    from lmlab.viz import plot_loss_curves

    started = time.perf_counter()
    model.fit(train_ids)
    seconds = time.perf_counter() - started
    val_loss = sum(model(*batch)[1].item() for batch in eval_set) / len(eval_set)
    if context.is_main:
        run.save_arrays(model.state_dict(), step=1)
        records = [{"step": 1, "count_seconds": round(seconds, 3), "tokens_seen": len(train_ids),
                    "tokens_per_s": round(len(train_ids) / max(seconds, 1e-9), 1)},
                   {"step": 1, "val_loss": val_loss, "val_perplexity": perplexity(val_loss)}]
        for record in records:
            run.append_metrics(record)
        if logger == "tensorboard":
            write_records(run.path, records)
        plot_loss_curves(run.read_metrics(), run.plot_path)
        say(f"n-gram: counted {model.num_parameters():,} distinct n-grams of orders 1..{model.config.order} "
            f"in {len(train_ids):,} tokens ({seconds:.2f}s); validation loss {val_loss:.4f}, "
            f"perplexity {perplexity(val_loss):.2f}; run folder {run.path}. A sample (lmlab sample {run.path}):")
        stream_sample(model, tokenizer, "", 200, SamplingConfig(temperature=0.8), context.device,
                      seed=0, out=sys.stderr)
    return {"step": 1, "train_loss": math.nan, "best_val_loss": val_loss, "tokens_seen": len(train_ids),
            "interrupted": False, "seconds": seconds}


# --- lmlab sample ------------------------------------------------------------------------------------
def stream_sample(model, tokenizer, prompt: str, max_new_tokens: int, sampling: SamplingConfig, device,
                  seed: int | None, out=None) -> str:
    """Generate from `prompt` (or the start of a document), writing the text to `out` as it comes."""
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


def sample_command(options: SampleOptions) -> None:
    if options.max_new_tokens < 1:
        raise UserError(f"--max-new-tokens must be >= 1, got {options.max_new_tokens}")
    device = distributed.resolve_device(options.device)
    if options.strategy == "beam":
        beam = BeamConfig(options.beams, options.length_penalty)
        beam.validate(prefix="--")
        run = load_run(options.run, device, expect="lm", command="lmlab sample")
        if not lm_family(run.family).attention:
            raise UserError("--strategy beam needs a model whose decoding state can follow the beams: a GPT run")
        print(beam_continuation(run.model, run.tokenizer, options.prompt, options.max_new_tokens, beam, device),
              flush=True)
        return
    sampling = SamplingConfig(options.strategy, options.temperature, options.top_k, options.top_p)
    sampling.validate(prefix="--")
    run = load_run(options.run, device, expect="lm", command="lmlab sample")
    stream_sample(run.model, run.tokenizer, options.prompt, options.max_new_tokens, sampling, device, options.seed)


# --- lmlab eval --------------------------------------------------------------------------------------
def evaluation_ids(run: RunFolder, config: dict, tokenizer, data: str | None, split: str):
    """The token ids to evaluate on: the run's own validation ids, or a corpus tokenized now."""
    if data is None and split == "val" and (run.path / "data" / "val.npy").is_file():
        return load_ids(run.path / "data" / "val.npy", tokenizer.vocab_size)
    from lmlab.data.corpora import load_corpus, split_corpus

    saved = config["data"]  # runs from before text_field and text_column read plain text only
    source = data or saved["corpus"]
    if source is None:  # an imported run (`lmlab import`)
        raise UserError(f"{run.path} was imported and has no corpus of its own: give --data CORPUS|PATH")
    corpus = load_corpus(source, saved.get("text_field", "text"), saved.get("text_column", "text"))
    if split == "all":
        texts = [document.text for document in corpus.documents]
    else:
        parts = split_corpus(corpus, saved["val_fraction"])
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


def eval_command(options: EvalOptions) -> None:
    device = distributed.resolve_device(options.device)
    run = load_run(options.run, device, expect="lm", command="lmlab eval")
    ids = evaluation_ids(RunFolder(run.path), run.config, run.tokenizer, options.data, options.split)
    if len(ids) < 2:
        raise UserError("the evaluation text has fewer than two tokens")
    loss, tokens = evaluation_loss(run.model, ids, run.model.config.block_size, device)
    result = {"loss": loss, "perplexity": perplexity(loss), "tokens": tokens}
    if options.json:
        print(json.dumps(result))
    else:
        print(f"{options.split} loss {loss:.4f} nats/token, perplexity {perplexity(loss):.3f} over {tokens:,} tokens"
              f" ({loss / math.log(2):.3f} bits/token)")
