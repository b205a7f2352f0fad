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
"""

from __future__ import annotations

import argparse
import json
import platform
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
    started = time.perf_counter()
    model.train(sentences)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "vocab_size": len(model.vocab), "vectors": model.word_vectors()}


def run_gensim(sentences, settings: dict, threads: int) -> dict:
    from gensim.models import Word2Vec as GensimWord2Vec

    from lmlab.embeddings.vectors import WordVectors

    model = GensimWord2Vec(vector_size=settings["dim"], window=settings["window"], negative=settings["negative"],
                           hs=int(settings["hs"]), min_count=settings["min_count"], sample=settings["sample"],
                           sg=int(settings["arch"] == "skipgram"), alpha=settings["alpha"],
                           min_alpha=settings["min_alpha"], workers=threads, seed=settings["seed"], cbow_mean=1)
    model.build_vocab(sentences)
    started = time.perf_counter()
    model.train(sentences, total_examples=model.corpus_count, epochs=settings["epochs"])
    seconds = time.perf_counter() - started
    vectors = WordVectors(list(model.wv.index_to_key), model.wv.vectors.copy())
    own = None
    if (EVAL / "questions-words.txt").is_file():
        own, _ = model.wv.evaluate_word_analogies(str(EVAL / "questions-words.txt"))
    return {"seconds": seconds, "vocab_size": len(model.wv), "vectors": vectors, "gensim_own_analogy": own}


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
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.add_argument("--out", default=str(RESULTS), help="JSON file to write (default: %(default)s)")
    args = parser.parse_args()

    import gensim
    import torch

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
            row = {"arch": arch, "threads": threads}
            for name, runner in (("gensim", run_gensim), ("lmlab", run_lmlab)):
                result = runner(sentences, settings, threads)
                row[name] = {"seconds": result["seconds"], "vocab_size": result["vocab_size"],
                             "words_per_second": words * args.epochs / result["seconds"],
                             **scores(result["vectors"])}
                if result.get("gensim_own_analogy") is not None:
                    row[name]["gensim_own_evaluator_analogy_accuracy"] = result["gensim_own_analogy"]
                log(f"{arch:8} threads {threads} {name:6}: {row[name]['words_per_second']:>10,.0f} words/s "
                    f"({result['seconds']:.1f} s); analogies {row[name].get('analogy_accuracy', float('nan')):.4f} "
                    f"(coverage {row[name].get('analogy_coverage', float('nan')):.3f}); WordSim Spearman "
                    f"{row[name].get('wordsim_spearman') or float('nan'):.3f}")
            row["ratio"] = row["lmlab"]["words_per_second"] / row["gensim"]["words_per_second"]
            rows.append(row)
    report = {"corpus": args.corpus, "lines": len(sentences), "words": words,
              "settings": {k: v for k, v in vars(args).items() if k not in ("json", "out", "threads", "arch", "corpus")},
              "machine": {"python": platform.python_version(), "torch": torch.__version__,
                          "gensim": gensim.__version__, "cpu_count": __import__("os").cpu_count()},
              "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(report))
        return
    print(f"| arch | threads | gensim words/s | lmlab words/s | ratio | analogy acc gensim / lmlab | "
          f"WordSim rho gensim / lmlab |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        g, m = row["gensim"], row["lmlab"]
        print(f"| {row['arch']} | {row['threads']} | {g['words_per_second']:,.0f} | {m['words_per_second']:,.0f} | "
              f"{row['ratio']:.2f} | {g.get('analogy_accuracy', 0):.4f} / {m.get('analogy_accuracy', 0):.4f} | "
              f"{g.get('wordsim_spearman') or 0:.3f} / {m.get('wordsim_spearman') or 0:.3f} |")


if __name__ == "__main__":
    main()
