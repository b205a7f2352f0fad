"""word2vec, lmlab vs gensim: training words/s, analogy accuracy, WordSim-353 Spearman.

Both train on exactly the same sentences: the lines of the corpus (`lmlab.data.corpora`,
Shakespeare's 42 works by default), lower-cased and split into words by `lmlab.embeddings.vocab.tokenize`,
with the same settings: architecture, dimension, window, negatives, epochs, min_count,
subsampling threshold, learning rates, and the same number of threads (`workers` for both: lock-free
threads sharing the matrices; lmlab's PyTorch intra-op threads are 1). Only training is timed (the vocabulary is built first, for both);
words/s is corpus words x epochs / training seconds, the same numerator for both.

Both sets of vectors are scored by the same lmlab evaluator (`lmlab.embeddings.evaluate`:
questions-words.txt analogies with 3CosAdd over the 300,000 most frequent words, WordSim-353
Spearman); gensim's own `evaluate_word_analogies` on gensim's vectors is printed beside it as a
check of that evaluator. The evaluation files come from ../shared/data/embedding-eval.

    python benchmarks/word2vec.py                       # skip-gram and CBOW, 1 and 2 threads
    python benchmarks/word2vec.py --arch skipgram --threads 1 --json
    python benchmarks/word2vec.py --arch skipgram --threads 1 --hs --negative 0   # hierarchical softmax
    python benchmarks/word2vec.py --repeats 3    # on a shared machine: gensim, lmlab, gensim, lmlab, ...

On a shared machine other jobs slow both libraries by changing amounts: ``--repeats N`` runs the
two sides alternately N times and reports the median words/s of each (the ratio is of the medians),
with the mean quality over the runs, the process CPU seconds of each run (one thread: insensitive to
other jobs' use of the core, unlike wall time) and the load average before the first run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT.parent / "shared" / "data" / "embedding-eval"
RESULTS = ROOT / "benchmarks" / "results" / "word2vec.json"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_sentences(corpus: str) -> list[list[str]]:
    from lmlab.data.corpora import load_corpus
    from lmlab.embeddings.vocab import text_sentences

    return list(text_sentences(doc.text for doc in load_corpus(corpus).documents))


def scores(vectors) -> dict:
    from lmlab.embeddings.evaluate import evaluate_analogies, evaluate_similarity

    result = {}
    if (EVAL / "questions-words.txt").is_file():
        analogies = evaluate_analogies(vectors, EVAL / "questions-words.txt")
        result["analogy_accuracy"] = analogies["total"]["accuracy"]
        result["analogy_coverage"] = analogies["total"]["coverage"]
        result["analogy_semantic"] = analogies["semantic"]["accuracy"]
        result["analogy_syntactic"] = analogies["syntactic"]["accuracy"]
    if (EVAL / "wordsim353.tsv").is_file():
        wordsim = evaluate_similarity(vectors, EVAL / "wordsim353.tsv")
        result["wordsim_spearman"] = wordsim["spearman"]
        result["wordsim_coverage"] = wordsim["coverage"]
    return result


def run_lmlab(sentences, settings: dict, threads: int) -> dict:
    import torch

    from lmlab.embeddings.vocab import Vocabulary
    from lmlab.embeddings.word2vec import Word2Vec, Word2VecConfig

    torch.set_num_threads(1)  # lmlab's parallelism is `workers` threads (Hogwild), not intra-op threads
    config = Word2VecConfig(workers=threads, hs=settings["hs"], arch=settings["arch"], dim=settings["dim"], window=settings["window"],
                            negative=settings["negative"], min_count=settings["min_count"],
                            sample=settings["sample"], epochs=settings["epochs"], alpha=settings["alpha"],
                            min_alpha=settings["min_alpha"], seed=settings["seed"],
                            batch_size=settings["batch_size"])
    model = Word2Vec(Vocabulary.build(sentences, config.min_count), config)
    started, cpu = time.perf_counter(), time.process_time()
    model.train(sentences)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu, "vocab_size": len(model.vocab), "vectors": model.word_vectors()}


def run_gensim(sentences, settings: dict, threads: int) -> dict:
    from gensim.models import Word2Vec as GensimWord2Vec

    from lmlab.embeddings.vectors import WordVectors

    model = GensimWord2Vec(vector_size=settings["dim"], window=settings["window"], negative=settings["negative"],
                           hs=int(settings["hs"]), min_count=settings["min_count"], sample=settings["sample"],
                           sg=int(settings["arch"] == "skipgram"), alpha=settings["alpha"],
                           min_alpha=settings["min_alpha"], workers=threads, seed=settings["seed"], cbow_mean=1)
    model.build_vocab(sentences)
    started, cpu = time.perf_counter(), time.process_time()
    model.train(sentences, total_examples=model.corpus_count, epochs=settings["epochs"])
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    vectors = WordVectors(list(model.wv.index_to_key), model.wv.vectors.copy())
    own = None
    if (EVAL / "questions-words.txt").is_file():
        own, _ = model.wv.evaluate_word_analogies(str(EVAL / "questions-words.txt"))
    return {"seconds": seconds, "cpu_seconds": cpu, "vocab_size": len(model.wv), "vectors": vectors,
            "gensim_own_analogy": own}


def summarise(runs: list[dict], words: int, epochs: int) -> dict:
    """One side's runs: median words/s, every run's words/s and CPU seconds, mean quality."""
    speeds = [words * epochs / run["seconds"] for run in runs]
    summary = {"words_per_second": statistics.median(speeds), "runs_words_per_second": speeds,
               "runs_cpu_seconds": [run["cpu_seconds"] for run in runs], "vocab_size": runs[0]["vocab_size"]}
    qualities = [scores(run["vectors"]) for run in runs]
    for key in qualities[0]:
        summary[key] = statistics.mean(q[key] for q in qualities if q.get(key) is not None)
    own = [run["gensim_own_analogy"] for run in runs if run.get("gensim_own_analogy") is not None]
    if own:
        summary["gensim_own_evaluator_analogy_accuracy"] = statistics.mean(own)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="shakespeare", help="corpus name or path (default: %(default)s)")
    parser.add_argument("--arch", default="skipgram,cbow", help="comma-separated (default: %(default)s)")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts (default: %(default)s)")
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--negative", type=int, default=5, help="noise words; 0 with --hs: hierarchical softmax only")
    parser.add_argument("--hs", action="store_true", help="hierarchical softmax (Huffman tree), for both")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--sample", type=float, default=1e-3)
    parser.add_argument("--alpha", type=float, default=0.025)
    parser.add_argument("--min-alpha", type=float, default=0.0001)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=None,
                        help="lmlab's examples per update (default: Word2VecConfig's, 512 on a CPU); gensim has none")
    parser.add_argument("--repeats", type=int, default=1,
                        help="run gensim and lmlab alternately this many times; medians are reported")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.add_argument("--out", default=str(RESULTS), help="JSON file to write (default: %(default)s)")
    args = parser.parse_args()

    import gensim
    import torch

    load_before = os.getloadavg()[0]
    sentences = load_sentences(args.corpus)
    words = sum(map(len, sentences))
    log(f"{args.corpus}: {len(sentences):,} lines, {words:,} words")
    rows = []
    for arch in args.arch.split(","):
        settings = {"arch": arch, "dim": args.dim, "window": args.window, "negative": args.negative,
                    "epochs": args.epochs, "hs": args.hs, "min_count": args.min_count, "sample": args.sample,
                    "alpha": args.alpha, "min_alpha": args.min_alpha, "seed": args.seed,
                    "batch_size": args.batch_size}
        for threads in map(int, args.threads.split(",")):
            row, runs = {"arch": arch, "threads": threads}, {"gensim": [], "lmlab": []}
            for _ in range(args.repeats):
                for name, runner in (("gensim", run_gensim), ("lmlab", run_lmlab)):
                    runs[name].append(runner(sentences, settings, threads))
                    log(f"{arch:8} threads {threads} {name:6}: {words * args.epochs / runs[name][-1]['seconds']:>10,.0f} "
                        f"words/s ({runs[name][-1]['seconds']:.1f} s, CPU {runs[name][-1]['cpu_seconds']:.1f} s)")
            for name in runs:
                row[name] = summarise(runs[name], words, args.epochs)
                log(f"{arch:8} threads {threads} {name:6}: median {row[name]['words_per_second']:>10,.0f} words/s; "
                    f"analogies {row[name].get('analogy_accuracy', float('nan')):.4f} "
                    f"(coverage {row[name].get('analogy_coverage', float('nan')):.3f}); WordSim Spearman "
                    f"{row[name].get('wordsim_spearman') or float('nan'):.3f}")
            row["ratio"] = row["lmlab"]["words_per_second"] / row["gensim"]["words_per_second"]
            rows.append(row)
    report = {"corpus": args.corpus, "lines": len(sentences), "words": words,
              "settings": {k: v for k, v in vars(args).items() if k not in ("json", "out", "threads", "arch", "corpus")},
              "load_average_after": os.getloadavg()[0],
              "machine": {"python": platform.python_version(), "torch": torch.__version__,
                          "gensim": gensim.__version__, "cpu_count": os.cpu_count(),
                          "load_average_before": load_before},
              "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(report))
        return
    print("| arch | threads | gensim words/s | lmlab words/s | ratio | CPU-seconds ratio | "
          "analogy acc gensim / lmlab | WordSim rho gensim / lmlab |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        g, m = row["gensim"], row["lmlab"]
        cpu_ratio = statistics.median(g["runs_cpu_seconds"]) / statistics.median(m["runs_cpu_seconds"])
        print(f"| {row['arch']} | {row['threads']} | {g['words_per_second']:,.0f} | {m['words_per_second']:,.0f} | "
              f"{row['ratio']:.2f} | {cpu_ratio:.2f} | {g.get('analogy_accuracy', 0):.4f} / "
              f"{m.get('analogy_accuracy', 0):.4f} | {g.get('wordsim_spearman') or 0:.3f} / "
              f"{m.get('wordsim_spearman') or 0:.3f} |")

if __name__ == "__main__":
    main()
