"""Recipe: train and query word2vec embeddings (`lmlab word2vec train | similar | analogy | eval | map`).

    corpus -> lines -> words (streamed) -> Vocabulary -> Word2Vec (CBOW / skip-gram, negative
    sampling) -> run folder: config.json, vectors.safetensors, vocab.json, metrics.jsonl

The library does the work (`lmlab.embeddings`); this file picks presets, reads the command line,
shows progress and talks to the user. Presets: ``tiny`` (seconds, for tests) and ``default``
(gensim's settings with skip-gram: 100 dimensions, window 5, 5 negatives, 5 epochs).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

import torch

from lmlab.config import apply_overrides, preset
from lmlab.data.corpora import load_corpus
from lmlab.embeddings.evaluate import evaluate_analogies, evaluate_similarity
from lmlab.embeddings.onehot import human_bytes, one_hot_memory
from lmlab.embeddings.vectors import load_vectors
from lmlab.embeddings.vocab import Vocabulary, text_sentences
from lmlab.embeddings.word2vec import Word2Vec, Word2VecConfig
from lmlab.errors import UserError
from lmlab.train.checkpoint import RunFolder
from lmlab.train.distributed import resolve_device

PRESETS = {
    "tiny": Word2VecConfig(dim=16, window=3, negative=3, min_count=1, epochs=2, sample=0.0, alpha=0.05),
    "default": Word2VecConfig(),
}
EVAL_FOLDER_ENV = "LMLAB_EMBEDDING_EVAL"
ANALOGY_FILE, WORDSIM_FILE = "questions-words.txt", "wordsim353.tsv"
# command-line flag -> config field (the flags are shortcuts for --set)
FLAGS = {"arch": "arch", "dim": "dim", "window": "window", "negative": "negative", "min_count": "min_count",
         "epochs": "epochs", "seed": "seed"}


def say(message: str) -> None:
    """Human-readable progress goes to stderr; stdout stays for results."""
    print(message, file=sys.stderr, flush=True)


class CorpusSentences:
    """The lines of a corpus as word lists, re-iterable: each pass tokenizes afresh (streaming)."""

    def __init__(self, texts: list[str], lowercase: bool = True) -> None:
        self.texts, self.lowercase = texts, lowercase

    def __iter__(self):
        return text_sentences(self.texts, self.lowercase)


def config_from_args(args) -> Word2VecConfig:
    config = preset(PRESETS, args.preset or "default")
    for flag, field in FLAGS.items():
        value = getattr(args, flag, None)
        if value is not None:
            setattr(config, field, value)
    apply_overrides({"word2vec": config}, args.overrides)
    config.validate()
    return config


# --- lmlab word2vec train -----------------------------------------------------------------------
def train_command(args) -> None:
    from tqdm import tqdm

    if args.resume:
        raise UserError("word2vec train does not resume: training is one pass of minutes; start again "
                        "(Ctrl-C saves what is trained so far)")
    config = config_from_args(args)
    if args.threads is not None:
        if args.threads < 1:
            raise UserError(f"--threads must be at least 1, got {args.threads}")
        config.workers = args.threads  # batches applied by N lock-free threads; intra-op threads stay 1
    device = resolve_device(args.device)
    data_name = Path(args.data).stem if os.sep in args.data or "." in args.data else args.data
    out = Path(args.out or f"runs/word2vec-{config.arch}-{data_name}")
    if (out / "config.json").exists():
        raise UserError(f"{out} already holds a run: choose another --out")
    corpus = load_corpus(args.data)
    sentences = CorpusSentences([doc.text for doc in corpus.documents], config.lowercase)

    vocab = Vocabulary.build(sentences, config.min_count, config.max_vocab)
    if len(vocab) == 0:
        raise UserError(f"no word of {args.data} occurs {config.min_count} times: lower --min-count")
    memory = one_hot_memory(len(vocab), config.dim)
    say(f"word2vec {config.arch}: {len(vocab):,} words (min_count {config.min_count}), {vocab.total:,} tokens, "
        f"{config.epochs} epochs, dim {config.dim}, device {device}, {config.workers} worker thread(s)")
    say(f"memory of the vocabulary table: one-hot {memory['vocab_size']:,} x {memory['vocab_size']:,} x 4 B = "
        f"{human_bytes(memory['one_hot_bytes'])}; dense {memory['vocab_size']:,} x {config.dim} x 4 B = "
        f"{human_bytes(memory['dense_bytes'])} (one-hot is {memory['ratio']:,.1f}x the dense size)")

    model = Word2Vec(vocab, config, device)
    bar = tqdm(total=vocab.total * config.epochs, unit="word", unit_scale=True, file=sys.stderr,
               desc="training", disable=None, dynamic_ncols=True)
    interrupted = False
    try:
        stats = model.train(sentences, max_steps=args.max_steps, progress=bar.update)
    except KeyboardInterrupt:
        interrupted = True
        stats = {"words": model.words_done, "steps": model.steps}
    finally:
        bar.close()

    run = RunFolder(out)
    run.write_config({"kind": "word2vec", "word2vec": asdict(config),
                      "data": {"corpus": args.data, "source": corpus.source, "documents": len(corpus.documents)},
                      "vocab_size": len(vocab), "tokens": vocab.total, "batch_size": model.batch_size,
                      "device": str(device), "max_steps": args.max_steps})
    model.word_vectors().save(out)
    summary = {"run": str(out), "arch": config.arch, "vocab_size": len(vocab), "dim": config.dim,
               **{k: v for k, v in stats.items()}, "interrupted": interrupted, "memory": memory}
    run.append_metrics(summary)
    if interrupted:
        say(f"interrupted: saved the vectors trained so far ({model.words_done:,} words) to {out}")
        raise KeyboardInterrupt
    say(f"trained {stats['words']:,} words in {stats['seconds']:.1f} s ({stats['words_per_second']:,.0f} words/s), "
        f"loss {stats['loss']:.3f}; wrote {out}")
    if args.json:
        print(json.dumps(summary))


# --- queries --------------------------------------------------------------------------------------
def similar_command(args) -> None:
    vectors = load_vectors(args.run)
    if args.n < 1:
        raise UserError(f"-n must be at least 1, got {args.n}")
    neighbours = vectors.most_similar(args.word, args.n)
    if args.json:
        print(json.dumps({"word": args.word, "neighbours": [{"word": w, "cosine": c} for w, c in neighbours]}))
        return
    for word, cosine in neighbours:
        print(f"{cosine:7.4f}  {word}")


def analogy_command(args) -> None:
    vectors = load_vectors(args.run)
    answers = vectors.analogy(args.a, args.b, args.c, n=args.n, method=args.method)
    if args.json:
        print(json.dumps({"a": args.a, "b": args.b, "c": args.c, "method": args.method,
                          "answers": [{"word": w, "score": s} for w, s in answers]}))
        return
    say(f"{args.a} is to {args.b} as {args.c} is to ... (3Cos{args.method.capitalize()})")
    for word, score in answers:
        print(f"{score:7.4f}  {word}")


def _default_eval_file(name: str) -> Path | None:
    """$LMLAB_EMBEDDING_EVAL/name when the variable is set and the file is there, else None."""
    folder = os.environ.get(EVAL_FOLDER_ENV)
    if folder and (Path(folder).expanduser() / name).is_file():
        return Path(folder).expanduser() / name
    return None


def eval_command(args) -> None:
    analogies, wordsim = args.analogies, args.wordsim
    if analogies is None and wordsim is None:
        analogies, wordsim = _default_eval_file(ANALOGY_FILE), _default_eval_file(WORDSIM_FILE)
        if analogies is None and wordsim is None:
            raise UserError(f"no evaluation files found: pass --analogies {ANALOGY_FILE} and/or --wordsim "
                            f"{WORDSIM_FILE} (or set {EVAL_FOLDER_ENV} to the folder holding them)")
    vectors = load_vectors(args.run)
    report: dict = {"run": str(args.run), "words": len(vectors)}
    if analogies is not None:
        report["analogies"] = evaluate_analogies(vectors, analogies, args.method, args.restrict_vocab)
        report["analogies"]["file"] = str(analogies)
    if wordsim is not None:
        report["wordsim"] = evaluate_similarity(vectors, wordsim)
        report["wordsim"]["file"] = str(wordsim)
    if args.json:
        print(json.dumps(report))
        return
    if "analogies" in report:
        result = report["analogies"]
        print(f"analogies ({result['file']}, 3Cos{args.method.capitalize()}, top {result['restrict_vocab']:,} words)")
        print(f"{'section':32} {'accuracy':>9} {'coverage':>9} {'covered':>8}")
        rows = list(result["sections"].items()) + [(g, result[g]) for g in ("semantic", "syntactic", "total")]
        for name, group in rows:
            print(f"{name:32} {group['accuracy']:9.3f} {group['coverage']:9.3f} {group['covered']:8d}")
    if "wordsim" in report:
        result = report["wordsim"]
        rho = "n/a" if result["spearman"] is None else f"{result['spearman']:.3f}"
        print(f"wordsim ({result['file']}): Spearman {rho} over {result['covered']} of "
              f"{result['total']} pairs (coverage {result['coverage']:.3f})")


def map_command(args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if len(args.words) < 2:
        raise UserError("give at least two words to map")
    vectors = load_vectors(args.run)
    points = vectors.pca_2d(args.words)  # unknown words raise a UserError naming them
    figure, axes = plt.subplots(figsize=(7, 6))
    axes.scatter(points[:, 0], points[:, 1], s=18)
    for (x, y), word in zip(points, args.words):
        axes.annotate(word, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=10)
    axes.set_title(f"word vectors of {Path(args.run).name}: first two principal components")
    axes.set_xlabel("PC 1")
    axes.set_ylabel("PC 2")
    figure.tight_layout()
    out = Path(args.out)
    if out.parent and not out.parent.exists():
        raise UserError(f"folder {out.parent} does not exist: create it or choose another --out")
    figure.savefig(out, dpi=120)
    plt.close(figure)
    say(f"wrote {out}")

