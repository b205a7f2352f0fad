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
from dataclasses import asdict, replace
from pathlib import Path


from lmlab.data.corpora import load_corpus
from lmlab.embeddings.evaluate import evaluate_analogies, evaluate_similarity
from lmlab.embeddings.onehot import human_bytes, one_hot_memory
from lmlab.embeddings.vocab import Vocabulary, text_sentences
from lmlab.embeddings.word2vec import Word2Vec, Word2VecConfig
from lmlab.errors import UserError
from lmlab.io import atomic_write
from lmlab.outputs import claim_file, claim_folder, mark_folder
from lmlab.recipes.common import resolve_config, say, text_keys
from lmlab.embeddings.vectors import load_vectors
from lmlab.recipes.text_options import (AnalogyOptions, SimilarOptions, Word2VecEvalOptions, Word2VecTrainOptions,
                                        WordMapOptions)
from lmlab.train.checkpoint import RunFolder
from lmlab.train.distributed import resolve_device

PRESETS = {
    "tiny": Word2VecConfig(dim=16, window=3, negative=3, min_count=1, epochs=2, sample=0.0, alpha=0.05),
    "default": Word2VecConfig(),
}
EVAL_FOLDER_ENV = "LMLAB_EMBEDDING_EVAL"
ANALOGY_FILE, WORDSIM_FILE = "questions-words.txt", "wordsim353.tsv"


class CorpusSentences:
    """The lines of a corpus as word lists, re-iterable: each pass tokenizes afresh (streaming)."""

    def __init__(self, texts: list[str], lowercase: bool = True) -> None:
        self.texts, self.lowercase = texts, lowercase

    def __iter__(self):
        return text_sentences(self.texts, self.lowercase)


# --- lmlab word2vec train -----------------------------------------------------------------------
def train_command(options: Word2VecTrainOptions) -> None:
    from tqdm import tqdm

    if options.resume:
        raise UserError("word2vec train does not resume: training is one streaming pass of minutes, and "
                        "Ctrl-C keeps the vectors trained so far; start again with another --out")
    if options.threads is not None and options.threads < 1:
        raise UserError(f"--threads must be at least 1, got {options.threads}")
    text, assignments = text_keys(options.overrides)  # where --data's records keep their text
    config = resolve_config(PRESETS, replace(options, overrides=assignments),  # --threads N: workers=N
                            Word2VecTrainOptions.default_preset)
    device = resolve_device(options.device)
    data_name = Path(options.data).stem if os.sep in options.data or "." in options.data else options.data
    out = claim_folder(options.out or f"runs/word2vec-{config.arch}-{data_name}", "word2vec", force=options.force,
                       command="lmlab word2vec train", mark=False)
    corpus = load_corpus(options.data, **text)
    sentences = CorpusSentences([doc.text for doc in corpus.documents], config.lowercase)

    vocab = Vocabulary.build(sentences, config.min_count, config.max_vocab)
    if len(vocab) == 0:
        raise UserError(f"no word of {options.data} occurs {config.min_count} times: lower --min-count")
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
        stats = model.train(sentences, max_steps=options.max_steps, progress=bar.update)
    except KeyboardInterrupt:
        interrupted = True
        stats = {"words": model.words_done, "steps": model.steps}
    finally:
        bar.close()

    run = RunFolder(mark_folder(out, "word2vec"))
    run.write_config({"kind": "word2vec", "word2vec": asdict(config),
                      "data": {"corpus": options.data, "source": corpus.source, "documents": len(corpus.documents),
                               **text},
                      "vocab_size": len(vocab), "tokens": vocab.total, "batch_size": model.batch_size,
                      "device": str(device), "max_steps": options.max_steps})
    model.word_vectors().save(out)
    summary = {"run": str(out), "arch": config.arch, "vocab_size": len(vocab), "dim": config.dim,
               **{k: v for k, v in stats.items()}, "interrupted": interrupted, "memory": memory}
    run.append_metrics(summary)
    if interrupted:
        say(f"interrupted: saved the vectors trained so far ({model.words_done:,} words) to {out}")
        raise KeyboardInterrupt
    say(f"trained {stats['words']:,} words in {stats['seconds']:.1f} s ({stats['words_per_second']:,.0f} words/s), "
        f"loss {stats['loss']:.3f}; wrote {out}")
    if options.json:
        print(json.dumps(summary))


# --- queries --------------------------------------------------------------------------------------
def similar_command(options: SimilarOptions) -> None:
    vectors = load_vectors(options.run, "lmlab word2vec similar")
    if options.n < 1:
        raise UserError(f"-n must be at least 1, got {options.n}")
    neighbours = vectors.most_similar(options.word, options.n)
    if options.json:
        print(json.dumps({"word": options.word, "neighbours": [{"word": w, "cosine": c} for w, c in neighbours]}))
        return
    for word, cosine in neighbours:
        print(f"{cosine:7.4f}  {word}")


def analogy_command(options: AnalogyOptions) -> None:
    vectors = load_vectors(options.run, "lmlab word2vec analogy")
    answers = vectors.analogy(options.a, options.b, options.c, n=options.n, method=options.method)
    if options.json:
        print(json.dumps({"a": options.a, "b": options.b, "c": options.c, "method": options.method,
                          "answers": [{"word": w, "score": s} for w, s in answers]}))
        return
    say(f"{options.a} is to {options.b} as {options.c} is to ... (3Cos{options.method.capitalize()})")
    for word, score in answers:
        print(f"{score:7.4f}  {word}")


def _default_eval_files() -> tuple[Path, Path]:
    """The analogy and WordSim files of $LMLAB_EMBEDDING_EVAL when it is set, else the ones lmlab
    fetches once from gensim's test data (`lmlab.data.pretrained.embedding_eval_folder`)."""
    folder = os.environ.get(EVAL_FOLDER_ENV)
    if folder:
        folder = Path(folder).expanduser()
        missing = [name for name in (ANALOGY_FILE, WORDSIM_FILE) if not (folder / name).is_file()]
        if missing:
            raise UserError(f"{EVAL_FOLDER_ENV}={folder} lacks {', '.join(missing)}")
    else:
        from lmlab.data.pretrained import embedding_eval_folder

        folder = embedding_eval_folder()
    return folder / ANALOGY_FILE, folder / WORDSIM_FILE


def eval_command(options: Word2VecEvalOptions) -> None:
    vectors = load_vectors(options.run, "lmlab word2vec eval")
    analogies, wordsim = options.analogies, options.wordsim
    if analogies is None and wordsim is None:
        analogies, wordsim = _default_eval_files()
    report: dict = {"run": str(options.run), "words": len(vectors)}
    if analogies is not None:
        report["analogies"] = evaluate_analogies(vectors, analogies, options.method, options.restrict_vocab)
        report["analogies"]["file"] = str(analogies)
    if wordsim is not None:
        report["wordsim"] = evaluate_similarity(vectors, wordsim)
        report["wordsim"]["file"] = str(wordsim)
    if options.json:
        print(json.dumps(report))
        return
    if "analogies" in report:
        result = report["analogies"]
        print(f"analogies ({result['file']}, 3Cos{options.method.capitalize()}, top {result['restrict_vocab']:,} words)")
        print(f"{'section':32} {'accuracy':>9} {'coverage':>9} {'covered':>8}")
        rows = list(result["sections"].items()) + [(g, result[g]) for g in ("semantic", "syntactic", "total")]
        for name, group in rows:
            print(f"{name:32} {group['accuracy']:9.3f} {group['coverage']:9.3f} {group['covered']:8d}")
    if "wordsim" in report:
        result = report["wordsim"]
        rho = "n/a" if result["spearman"] is None else f"{result['spearman']:.3f}"
        print(f"wordsim ({result['file']}): Spearman {rho} over {result['covered']} of "
              f"{result['total']} pairs (coverage {result['coverage']:.3f})")


def map_command(options: WordMapOptions) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if len(options.words) < 2:
        raise UserError("give at least two words to map")
    out = claim_file(options.out, options.force)
    vectors = load_vectors(options.run, "lmlab word2vec map")
    points = vectors.pca_2d(options.words)  # unknown words raise a UserError naming them
    figure, axes = plt.subplots(figsize=(7, 6))
    axes.scatter(points[:, 0], points[:, 1], s=18)
    for (x, y), word in zip(points, options.words):
        axes.annotate(word, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=10)
    axes.set_title(f"word vectors of {Path(options.run).name}: first two principal components")
    axes.set_xlabel("PC 1")
    axes.set_ylabel("PC 2")
    figure.tight_layout()
    atomic_write(out, lambda tmp: figure.savefig(tmp, format="png", dpi=120))
    plt.close(figure)
    say(f"wrote {out}")

