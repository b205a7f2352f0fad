"""Kneser-Ney n-gram models, lmlab vs NLTK's `nltk.lm`: fit time, evaluation time, perplexity.

Tiny Shakespeare (../shared/data/tinyshakespeare/input.txt), lower-cased words and punctuation
(lmlab's word pattern), one sentence per non-empty line; the first 90% of the lines train, the
rest test; test words never seen in training become <unk>. Orders 3 and 5, interpolated
Kneser-Ney with NLTK's single discount 0.1 on both sides.

- fit: lmlab `NGramLM.fit` on the id stream (best of 5) vs NLTK's own pipeline,
  `padded_everygram_pipeline` + `KneserNeyInterpolated.fit` (best of 2).
- evaluation: lmlab scores every test token at once (`log_likelihood`). NLTK scores one n-gram per
  call and its Kneser-Ney walks every stored n-gram of the next order for each lower-order
  probability, so it is timed on the first `--nltk-tokens` test tokens and the per-token time is
  compared (the full-test NLTK time in the table is that per-token time x the test tokens).
- perplexity: on those same tokens, lmlab vs NLTK fitted on exactly lmlab's n-grams, with the one
  definitional difference (the bottom of the recursion) aligned: tests/models/ngram_reference.py
  explains all three differences. "NLTK stock" is NLTK's own definition, for reference.

    python benchmarks/ngram.py
    python benchmarks/ngram.py --orders 3 --nltk-tokens 500
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "models"))  # ngram_reference: NLTK fed lmlab's n-grams

DATA = ROOT.parent / "shared" / "data" / "tinyshakespeare" / "input.txt"
RESULTS = ROOT / "benchmarks" / "results" / "ngram.json"


def load_sentences(path: Path) -> tuple[list[list[str]], list[list[str]]]:
    from lmlab.tokenizers.word import WORD_PATTERN

    lines = [WORD_PATTERN.findall(line.lower()) for line in path.read_text(encoding="utf-8").splitlines()]
    lines = [words for words in lines if words]
    cut = int(0.9 * len(lines))
    train, test = lines[:cut], lines[cut:]
    known = {w for s in train for w in s}
    return train, [[w if w in known else "<unk>" for w in s] for s in test]


def timed(function, *args, repeats: int = 1):
    """(value, the best wall time of `repeats` calls): the least disturbed by other work."""
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        value = function(*args)
        best = min(best, time.perf_counter() - started)
    return value, best


def run_order(order: int, train, test, nltk_tokens: int) -> dict:
    from nltk.lm import KneserNeyInterpolated
    from nltk.lm.preprocessing import padded_everygram_pipeline
    from ngram_reference import nltk_kneser_ney

    from lmlab.models.ngram import NGramConfig, NGramLM

    words = sorted({w for s in train for w in s}) + ["</s>", "<unk>"]
    index = {w: i for i, w in enumerate(words)}
    encode = lambda sentences: np.array([index[w] for s in sentences for w in [*s, "</s>"]])  # noqa: E731
    train_ids, test_ids = encode(train), encode(test)
    config = NGramConfig(vocab_size=len(words), order=order, discount=0.1, eos_id=index["</s>"])

    ours, fit_seconds = timed(NGramLM(config).fit, train_ids, repeats=5)
    log_p, eval_seconds = timed(ours.log_likelihood, test_ids, repeats=5)
    modified = NGramLM(NGramConfig(vocab_size=len(words), order=order, eos_id=index["</s>"])).fit(train_ids)

    def nltk_fit():
        model = KneserNeyInterpolated(order, discount=0.1)
        model.fit(*padded_everygram_pipeline(order, train))
        return model

    stock, nltk_fit_seconds = timed(nltk_fit, repeats=2)
    aligned = nltk_kneser_ney(train, order, discount=0.1, vocab_size=len(words))

    # the first `nltk_tokens` predicted test tokens, with their contexts as lmlab pads them
    tokens = []
    for sentence in test:
        padded = ["<s>"] * (order - 1) + sentence + ["</s>"]
        tokens += [(padded[i], tuple(padded[i - order + 1 : i])) for i in range(order - 1, len(padded))]
    sample = tokens[:nltk_tokens]
    started = time.perf_counter()
    aligned_log_p = [math.log(aligned.score(w, c)) for w, c in sample]
    nltk_per_token = (time.perf_counter() - started) / len(sample)
    stock_scores = [stock.score(w if w != "<unk>" else "<UNK>", c) for w, c in sample]
    stock_ppl = math.exp(-np.mean(np.log(stock_scores))) if min(stock_scores) > 0 else math.inf
    ours_ppl_sample = math.exp(-log_p[: len(sample)].mean())
    aligned_ppl = math.exp(-np.mean(aligned_log_p))
    return {
        "order": order, "train_tokens": len(train_ids), "test_tokens": len(test_ids), "vocab": len(words),
        "ngrams_stored": ours.num_parameters(),
        "fit_seconds": {"lmlab": fit_seconds, "nltk": nltk_fit_seconds},
        "eval_seconds_per_token": {"lmlab": eval_seconds / len(test_ids), "nltk": nltk_per_token},
        "nltk_tokens_timed": len(sample),
        "fit_speedup": nltk_fit_seconds / fit_seconds,
        "eval_speedup": nltk_per_token / (eval_seconds / len(test_ids)),
        "perplexity_on_sample": {"lmlab": ours_ppl_sample, "nltk_same_definition": aligned_ppl,
                                 "nltk_stock": stock_ppl},
        "perplexity_relative_difference": abs(ours_ppl_sample - aligned_ppl) / aligned_ppl,
        "perplexity_full_test": {"kn_discount_0.1": math.exp(-log_p.mean()),
                                 "modified_kn": modified.perplexity(test_ids)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, nargs="+", default=[3, 5])
    parser.add_argument("--nltk-tokens", type=int, default=300, help="test tokens NLTK scores (it is slow)")
    args = parser.parse_args()
    if not DATA.is_file():
        sys.exit(f"{DATA} is absent: this benchmark needs the shared Tiny Shakespeare file")
    train, test = load_sentences(DATA)
    rows = [run_order(order, train, test, args.nltk_tokens) for order in args.orders]
    import nltk

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"python": platform.python_version(), "nltk": nltk.__version__, "rows": rows},
                                  indent=2) + "\n")
    print(f"Tiny Shakespeare words: {rows[0]['train_tokens']:,} training tokens, {rows[0]['test_tokens']:,} test "
          f"tokens, vocabulary {rows[0]['vocab']:,}; interpolated KN, discount 0.1; nltk {nltk.__version__}\n")
    print("| order | fit lmlab (s) | fit NLTK (s) | fit speed-up | eval lmlab (s, all tokens) "
          "| eval NLTK (s, extrapolated) | eval speed-up | ppl lmlab | ppl NLTK same definition | ppl NLTK stock "
          "| ppl modified KN (full test) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        n = r["test_tokens"]
        print(f"| {r['order']} | {r['fit_seconds']['lmlab']:.3f} | {r['fit_seconds']['nltk']:.2f} "
              f"| {r['fit_speedup']:,.0f}x | {r['eval_seconds_per_token']['lmlab'] * n:.3f} "
              f"| {r['eval_seconds_per_token']['nltk'] * n:,.0f} | {r['eval_speedup']:,.0f}x "
              f"| {r['perplexity_on_sample']['lmlab']:.4f} | {r['perplexity_on_sample']['nltk_same_definition']:.4f} "
              f"| {r['perplexity_on_sample']['nltk_stock']:.4f} | {r['perplexity_full_test']['modified_kn']:.2f} |")
    print(f"\n(perplexities on the first {rows[0]['nltk_tokens_timed']} test tokens, the ones NLTK scored; "
          f"full numbers in {RESULTS.relative_to(ROOT)})")


if __name__ == "__main__":
    main()
