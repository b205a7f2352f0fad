"""Experiment `ngram-order`: what a longer context buys an n-gram model, and what it costs.

Note 004 (§3.2.3-3.2.5) says a unigram model cannot tell "I like eating apples" from "apples like
eating I", that a larger n captures more context but meets data sparsity (most long n-grams were
never seen), that n stops growing around 7, and that n-gram models are cheap and fast. One word
tokenizer and one split of the corpus; for every order n = 1..max_order, three smoothings of the
same counts (`lmlab.models.ngram`): modified Kneser-Ney, add-1 (Laplace) and add-k with a small k.
Measured per order:

- **perplexity** of the whole validation stream (documents end at end-of-text, as in training);
- **unseen n-grams**: the fraction of validation tokens whose n-gram (the token and the n - 1
  before it, <s> padding included) never occurs in the training counts (`NGramLM.matched_orders`);
- **size**: the distinct n-grams of orders 1..n the model stores, and the bytes of its arrays;
- **speed**: counting time, and validation tokens scored per second (one vectorised pass);
- **order-blindness**: validation lines scored in their own word order and shuffled (the example
  sentence: its first and last words swapped, as the notes swap 我 and 苹果), each scored as a
  fragment of running text, P(w1) P(w2 | w1) ... as the notes write it. A unigram model
  multiplies the same probabilities in another order, so the two scores are exactly equal.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from lmlab.data.corpora import load_corpus, split_corpus
from lmlab.data.lm import encode_documents
from lmlab.errors import UserError
from lmlab.experiments.lab import Experiment, Lab, Report, markdown_table
from lmlab.experiments.plots import figure, save_figure
from lmlab.models.ngram import NGramConfig, NGramLM
from lmlab.tokenizers import TOKENIZERS


@dataclass
class NGramOrderSettings:
    """The corpus, the orders and the sentences of `ngram-order` (counting is deterministic)."""

    seeds: int = 1  # shuffles of each validation line (seeds 0..seeds-1); the counts have no seed
    corpus: str = "shakespeare"
    tokenizer: str = "word"  # word (the notes' unit) or char
    vocab_size: int = 10_000  # the word tokenizer keeps the most frequent words, the rest is <unk>
    max_order: int = 7  # orders 1..max_order
    small_k: float = 0.01  # the pseudo-count of the add-k arm (add-1 is the other one)
    lines: int = 500  # validation lines of at least `min_words` words scored in order and shuffled
    min_words: int = 4
    sentence: str = "I like to eat an apple"  # the notes' example, scored as written and with its ends swapped

    def validate(self) -> None:
        if min(self.seeds, self.max_order, self.lines, self.min_words - 1) < 1 or self.small_k <= 0:
            raise UserError("seeds, max_order and lines must be >= 1, min_words >= 2 and small_k > 0")
        if self.tokenizer not in TOKENIZERS:
            raise UserError(f"tokenizer {self.tokenizer!r}: choose one of {', '.join(TOKENIZERS)}")


PRESETS = {
    "tiny": NGramOrderSettings(corpus="pydoc", vocab_size=2000, max_order=4, lines=40),
    "default": NGramOrderSettings(),
}


def smoothings(settings: NGramOrderSettings) -> dict[str, dict]:
    """Arm name -> the NGramConfig fields of that smoothing."""
    return {"Kneser-Ney": {"smoothing": "kneser-ney"}, "add-1": {"smoothing": "add-k", "k": 1.0},
            f"add-{settings.small_k:g}": {"smoothing": "add-k", "k": settings.small_k}}


def swap_ends(words: list[str]) -> list[str]:
    """The notes' shuffle: first and last words exchanged ("apples like eating I")."""
    return [words[-1], *words[1:-1], words[0]] if len(words) > 1 else list(words)


def shuffled(ids: list[int], rng: np.random.Generator) -> list[int]:
    """A permutation of `ids` that differs from it (when the draw gives the same order: a rotation by
    one, which differs from any sequence of two or more distinct tokens)."""
    order = [ids[i] for i in rng.permutation(len(ids))]
    return order if order != ids else ids[1:] + ids[:1]


def log_prob(model: NGramLM, ids: list[int]) -> float:
    """log P of a line as a fragment of running text, P(w1) P(w2 | w1) ... (no <s>, no </s>),
    summed exactly (`math.fsum`: the order of the terms cannot change the sum, so the same terms
    in another order give the same score)."""
    return math.fsum(model.log_likelihood(np.asarray(ids, dtype=np.int64), fragment=True).tolist())


def validation_lines(val_texts: list[str], tokenizer, settings: NGramOrderSettings) -> list[list[int]]:
    """Up to `lines` evenly spaced validation lines of at least `min_words` tokens, encoded, with
    their distinct tokens at least two (so that a shuffle can differ)."""
    lines = [ids for text in val_texts for line in text.splitlines()
             if len(ids := tokenizer.encode(line.strip())) >= settings.min_words and len(set(ids)) > 1]
    if not lines:
        raise UserError(f"no validation line has {settings.min_words} or more tokens: lower min_words")
    step = max(1, len(lines) // settings.lines)
    return lines[::step][:settings.lines]


def prepare(settings: NGramOrderSettings) -> dict:
    """Corpus -> split -> tokenizer trained on the training split -> id streams, lines, the example."""
    split = split_corpus(load_corpus(settings.corpus))
    tokenizer = TOKENIZERS[settings.tokenizer]().train(split.train, vocab_size=settings.vocab_size)
    words = settings.sentence.split()
    return {"tokenizer": tokenizer, "train": encode_documents(tokenizer, split.train),
            "val": encode_documents(tokenizer, split.val), "lines": validation_lines(split.val, tokenizer, settings),
            "sentence": tokenizer.encode(settings.sentence),
            "swapped": tokenizer.encode(" ".join(swap_ends(words))), "swapped_text": " ".join(swap_ends(words))}


def measure_model(model: NGramLM, data: dict, settings: NGramOrderSettings) -> dict:
    """Perplexity, scoring speed, and the line and example scores of one counted model."""
    started = time.perf_counter()
    log_likelihood = model.log_likelihood(data["val"])
    seconds = time.perf_counter() - started
    pairs = [(log_prob(model, line), log_prob(model, shuffled(line, np.random.default_rng((seed, index)))))
             for seed in range(settings.seeds) for index, line in enumerate(data["lines"])]
    return {"perplexity": math.exp(-log_likelihood.mean()), "score_seconds": seconds,
            "tokens_per_s": len(log_likelihood) / max(seconds, 1e-9),
            "prefers_real_order": sum(real > other for real, other in pairs) / len(pairs),
            "ties": sum(real == other for real, other in pairs) / len(pairs),
            "largest_difference": max(abs(real - other) for real, other in pairs),
            "sentence": log_prob(model, data["sentence"]), "swapped": log_prob(model, data["swapped"])}


def measure_order(order: int, data: dict, settings: NGramOrderSettings) -> dict:
    """Every smoothing at one order: the counts (once), what they cost, and each smoothing's scores."""
    arms, counted, eot = {}, None, data["tokenizer"].eot_id
    for name, fields in smoothings(settings).items():
        config = NGramConfig(vocab_size=data["tokenizer"].vocab_size, order=order,
                             eos_id=-1 if eot is None else eot, **fields)
        started = time.perf_counter()
        model = NGramLM(config).fit(data["train"])
        seconds = time.perf_counter() - started
        arms[name] = {"count_seconds": seconds, **measure_model(model, data, settings)}
        if counted is None:  # the counts do not depend on the smoothing
            matched = model.matched_orders(data["val"])
            counted = {"unseen": float(np.mean(matched < order)), "ngrams": model.num_parameters(),
                       "megabytes": sum(a.nbytes for a in model.state_dict().values()) / 1e6}
    return {**counted, "arms": arms}


def _plot(orders: dict, path) -> None:
    fig, axes = figure(1, 4, size=(4.2, 3.4))
    n = [int(order) for order in orders]
    for name in next(iter(orders.values()))["arms"]:
        axes[0, 0].plot(n, [o["arms"][name]["perplexity"] for o in orders.values()], "o-", label=name)
        axes[0, 3].plot(n, [o["arms"][name]["tokens_per_s"] / 1e6 for o in orders.values()], "o-", label=name)
    axes[0, 0].set(xlabel="order n", ylabel="validation perplexity", yscale="log")
    axes[0, 1].plot(n, [100 * o["unseen"] for o in orders.values()], "o-", color="C3")
    axes[0, 1].set(xlabel="order n", ylabel="% of validation n-grams unseen in training", ylim=(-2, 102))
    axes[0, 2].plot(n, [o["ngrams"] / 1e6 for o in orders.values()], "o-", color="C4")
    axes[0, 2].set(xlabel="order n", ylabel="stored n-grams of orders 1..n (millions)")
    axes[0, 3].set(xlabel="order n", ylabel="scoring speed (million tokens/s)")
    save_figure(fig, axes, path)


def _tables(orders: dict, example: dict) -> list[tuple[str, str]]:
    names = list(next(iter(orders.values()))["arms"])
    rows, sentence = [], []
    for order, o in orders.items():
        kn = o["arms"]["Kneser-Ney"]
        rows.append([int(order), *(f"{o['arms'][name]['perplexity']:,.1f}" for name in names),
                     f"{100 * o['unseen']:.1f}%", f"{o['ngrams']:,}", f"{o['megabytes']:.1f}",
                     f"{kn['count_seconds']:.2f}", f"{kn['tokens_per_s']:,.0f}",
                     f"{100 * kn['prefers_real_order']:.1f}%", f"{kn['largest_difference']:.3g}"])
        sentence.append([int(order), f"{kn['sentence']:.3f}", f"{kn['swapped']:.3f}",
                         f"{kn['sentence'] - kn['swapped']:+.3f}"])
    header = ["n", *(f"perplexity, {name}" for name in names), "unseen n-grams", "stored n-grams", "MB",
              "count s", "scored tokens/s", "real order preferred", "largest log P gap"]
    return [("Orders 1..n (count s, tokens/s and the line shuffles: Kneser-Ney)", markdown_table(header, rows)),
            (f"The example, Kneser-Ney: log P(\"{example['sentence']}\") and log P(\"{example['swapped']}\")",
             markdown_table(["n", "as written", "ends swapped", "difference"], sentence))]


def _blindness(kn: dict, pairs: int) -> str:
    """The order-blindness sentence: the unigram's ties, and how often the bigram prefers the real order."""
    same = kn[1]["ties"] == 1 and kn[1]["largest_difference"] == 0
    sentence = ("Order-blindness: the unigram model gives a line and its shuffle "
                + ("exactly the same log-probability" if same else
                   f"different log-probabilities (largest gap {kn[1]['largest_difference']:.3g})")
                + f" on all {pairs} shuffled validation lines")
    if 2 not in kn:
        return sentence + "."
    return sentence + f"; the bigram model prefers the real order on {100 * kn[2]['prefers_real_order']:.0f}% of them."


def _answer(orders: dict, numbers: dict, settings: NGramOrderSettings) -> list[str]:
    """Sentences from the numbers; each rule is in the sentence it makes."""
    kn = {int(n): o["arms"]["Kneser-Ney"] for n, o in orders.items()}
    add = {name: {int(n): o["arms"][name]["perplexity"] for n, o in orders.items()}
           for name in smoothings(settings) if name != "Kneser-Ney"}
    top, best = settings.max_order, min(kn, key=lambda n: kn[n]["perplexity"])
    smallest, largest = orders["1"], orders[str(top)]
    unseen = ", ".join(f"{100 * o['unseen']:.0f}% at n = {n}" for n, o in orders.items())
    flat = min(n for n in kn if kn[n]["perplexity"] <= 1.01 * kn[best]["perplexity"])  # within 1% of the best
    sparse = orders[str(top)]["unseen"] > 0.5
    return [
        (f"Kneser-Ney perplexity falls from {kn[1]['perplexity']:.1f} (n = 1) to {kn[flat]['perplexity']:.1f} at "
         f"n = {flat} and then stays within 1% of its lowest ({kn[best]['perplexity']:.1f} at n = {best}, "
         f"{kn[top]['perplexity']:.1f} at n = {top}): orders above {flat} buy almost nothing on this corpus."
         if flat < top else f"Kneser-Ney perplexity still falls at n = {top}: {kn[1]['perplexity']:.1f} (n = 1) -> "
                            f"{kn[top]['perplexity']:.1f}."),
        f"Validation n-grams never seen in training: {unseen}. "
        + ("That is data sparsity: most long contexts are new, and Kneser-Ney falls back to the orders below."
           if sparse else f"Even at n = {top} most of them were seen: this text is not yet sparse at that order."),
        "Add-k has no lower order to fall back to, so an unseen context gives every word 1/V: "
        + "; ".join(f"{name} perplexity {ppl[1]:,.0f} at n = 1, lowest {min(ppl.values()):,.0f} at n = "
                    f"{min(ppl, key=ppl.get)}, {ppl[top]:,.0f} at n = {top}" for name, ppl in add.items())
        + f" (V = {numbers['vocab_size']:,}).",
        f"Cost: the order-{top} model stores {largest['ngrams']:,} n-grams ({largest['megabytes']:.0f} MB, "
        f"{largest['ngrams'] / smallest['ngrams']:.0f}x the unigram's {smallest['ngrams']:,}), counted in "
        f"{kn[top]['count_seconds']:.1f} s from {numbers['train_tokens']:,} tokens; it scores "
        f"{kn[top]['tokens_per_s']:,.0f} tokens/s, the unigram {kn[1]['tokens_per_s']:,.0f}.",
        _blindness(kn, numbers["lines"] * settings.seeds),
        f"\"{numbers['sentence']}\" vs \"{numbers['swapped']}\": log P {kn[1]['sentence']:.3f} vs "
        f"{kn[1]['swapped']:.3f} for the unigram, {kn[top]['sentence']:.3f} vs {kn[top]['swapped']:.3f} at n = {top}."]


def run(lab: Lab, settings: NGramOrderSettings) -> Report:
    data = prepare(settings)
    orders = {str(order): lab.part(f"order{order}", lambda folder, order=order: measure_order(order, data, settings))
              for order in lab.progress(range(1, settings.max_order + 1), "orders", settings.max_order)}
    numbers = {"orders": orders, "vocab_size": data["tokenizer"].vocab_size, "train_tokens": len(data["train"]),
               "val_tokens": len(data["val"]), "lines": len(data["lines"]), "sentence": settings.sentence,
               "swapped": data["swapped_text"]}
    _plot(orders, lab.path / "ngram-order.png")
    setup = (f"`{settings.corpus}` split 90/10 by document; a {settings.tokenizer} tokenizer of "
             f"{numbers['vocab_size']:,} types trained on the training split ({numbers['train_tokens']:,} training, "
             f"{numbers['val_tokens']:,} validation tokens, out-of-vocabulary words as `<unk>`). For n = 1.."
             f"{settings.max_order}: one count of the training stream, smoothed three ways. Perplexity and unseen "
             f"n-grams over the whole validation stream; {numbers['lines']} validation lines of >= "
             f"{settings.min_words} tokens, each scored as a fragment of running text (the context before its "
             f"first word unknown: P(w1) P(w2 | w1) ..., no </s>) as written and in "
             f"{settings.seeds} random permutation(s). Times are wall-clock on this machine.")
    return Report(setup, numbers, _answer(orders, numbers, settings), _tables(orders, numbers),
                  [("ngram-order.png", "validation perplexity, unseen n-grams, stored n-grams and scoring speed "
                                       "against the order n")])


EXPERIMENT = Experiment("ngram-order", "What does a longer n-gram buy and cost: perplexity, unseen n-grams, size and "
                        "speed; is the unigram blind to word order?", "004 §3.2.3-3.2.5", PRESETS, run,
                        {"tiny": "5 s", "default": "1.1 min loaded"})
