"""Experiment `multilingual-segmentation`: are the small languages of a shared vocabulary over-segmented,
and does temperature upsampling fix it?

Note 004 §2.1.2: a subword vocabulary trained on mixed-language data tends to over-segment the
low-resource languages; the remedy is to sample them more. One BPE and one Unigram tokenizer
(same vocabulary size) is trained on Multi30k captions (English, German, French, Czech: the same
images described in each) under three mixes:

    full         every language with `lines` captions (the balanced reference)
    cut          French and Czech cut to `small_share` of that (natural proportions of a skewed corpus)
    upsampled    the cut corpus re-sampled with temperature T = 1 / `alpha`: language l is drawn with
                 probability  q_l = n_l^alpha / sum_k n_k^alpha  (Conneau & Lample 2019, XLM; alpha 0.3,
                 the "T = 1/0.3" of mBERT/XLM-R), its captions repeated (with replacement) to q_l * N

Each tokenizer segments every language's validation captions: tokens per word and per character.
Over-segmentation of a small language is its tokens per word above the full-data reference; the
share of that excess upsampling removes, and what English pays for it (its tokens per word, up
from the cut mix), answer the note.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from lmlab.errors import UserError
from lmlab.experiments.lab import Experiment, Lab, Report, markdown_table
from lmlab.experiments.plots import figure, save_figure
from lmlab.tokenizers import TOKENIZERS

LANGUAGES = ("en", "de", "fr", "cs")
MIXES = ("full", "cut", "upsampled")
ALGORITHMS = {"BPE": "bpe", "Unigram": "unigram"}


@dataclass
class MultilingualSettings:
    seeds: int = 1  # tokenizer training is deterministic; the seed draws the cut and the upsampled captions
    multi30k: str = "../shared/data/multi30k"  # folder with train.{en,de,fr,cs} and val.*; empty: ciphered
    # pydoc text as four synthetic languages (no download)
    lines: int = 12000  # training captions per language in the full mix
    small: str = "fr,cs"  # the languages cut to small_share
    small_share: float = 0.03  # their captions, as a share of `lines`
    alpha: float = 0.3  # upsampling exponent (T = 1 / alpha); 1 = natural proportions
    vocab_size: int = 4000  # each tokenizer's vocabulary (bytes and special tokens included)
    val_lines: int = 1000  # validation captions per language

    def validate(self) -> None:
        if not 0 < self.small_share <= 1 or not 0 < self.alpha <= 1 or min(self.lines, self.val_lines) < 1:
            raise UserError("need 0 < small_share <= 1, 0 < alpha <= 1, lines >= 1 and val_lines >= 1")
        if not set(self.small_languages()) <= set(LANGUAGES) or not self.small_languages():
            raise UserError(f"--set small={self.small}: name one or more of {', '.join(LANGUAGES)}, comma-separated")

    def small_languages(self) -> list[str]:
        return [name for name in self.small.split(",") if name]


PRESETS = {
    "tiny": MultilingualSettings(multi30k="", lines=400, small_share=0.1, vocab_size=600, val_lines=100),
    "default": MultilingualSettings(),
}


# --- the data ------------------------------------------------------------------------------------------
def cipher(text: str, seed: int) -> str:
    """`text` with its lowercase letters permuted by a seeded permutation: another 'language' with
    the same word lengths and frequencies but other character statistics."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    shuffled = random.Random(seed).sample(letters, len(letters))
    return text.translate(str.maketrans(letters, "".join(shuffled)))


def synthetic_languages(lines: int, val_lines: int) -> dict[str, tuple[list[str], list[str]]]:
    """pydoc's lines as English and three ciphers of them as the other languages: (train, val) each."""
    from lmlab.data.corpora import load_corpus

    text = [line.strip() for d in load_corpus("pydoc").documents for line in d.text.splitlines() if len(line) > 20]
    train, val = text[:lines], text[-val_lines:]
    return {name: ([cipher(t, k) for t in train], [cipher(t, k) for t in val]) if k else (train, val)
            for k, name in enumerate(LANGUAGES)}


def multi30k(settings: MultilingualSettings) -> dict[str, tuple[list[str], list[str]]]:
    """Language -> (training captions, validation captions)."""
    if not settings.multi30k:
        return synthetic_languages(settings.lines, settings.val_lines)
    folder = Path(settings.multi30k)
    missing = [f"{split}.{name}" for split in ("train", "val") for name in LANGUAGES if not (folder / f"{split}.{name}").is_file()]
    if missing:
        raise UserError(f"Multi30k not found in {folder} (no {missing[0]}): give --set multi30k=FOLDER with "
                        f"train.{{en,de,fr,cs}} and val.*, or --set multi30k= for synthetic languages")

    def read(split: str, name: str, count: int) -> list[str]:
        return (folder / f"{split}.{name}").read_text(encoding="utf-8").splitlines()[:count]

    return {name: (read("train", name, settings.lines), read("val", name, settings.val_lines)) for name in LANGUAGES}


def temperature_shares(sizes: dict[str, int], alpha: float) -> dict[str, float]:
    """q_l = n_l^alpha / sum_k n_k^alpha: alpha 1 keeps the proportions, alpha -> 0 makes them equal.

    >>> {k: round(v, 3) for k, v in temperature_shares({"big": 100, "small": 1}, 0.5).items()}
    {'big': 0.909, 'small': 0.091}
    """
    weights = {name: n ** alpha for name, n in sizes.items()}
    return {name: w / sum(weights.values()) for name, w in weights.items()}


def mixes(data: dict, settings: MultilingualSettings, seed: int) -> dict[str, dict[str, list[str]]]:
    """Mix -> language -> its training captions in that mix."""
    rng = random.Random(seed)
    full = {name: train for name, (train, _) in data.items()}
    keep = max(1, round(settings.small_share * settings.lines))
    cut = {name: rng.sample(lines, min(keep, len(lines))) if name in settings.small_languages() else lines
           for name, lines in full.items()}
    total = sum(len(lines) for lines in cut.values())
    shares = temperature_shares({name: len(lines) for name, lines in cut.items()}, settings.alpha)
    upsampled = {name: rng.choices(lines, k=round(shares[name] * total)) for name, lines in cut.items()}
    return {"full": full, "cut": cut, "upsampled": upsampled}


# --- the measurement -----------------------------------------------------------------------------------
def segmentation_rates(tokenizer, texts: list[str]) -> dict:
    """Tokens per (whitespace) word and per character of `texts`."""
    tokens = sum(len(tokenizer.encode(text)) for text in texts)
    return {"tokens_per_word": tokens / sum(len(t.split()) for t in texts),
            "tokens_per_char": tokens / sum(len(t) for t in texts)}


def measure_mix(lab: Lab, algorithm: str, mix: str, corpus: dict[str, list[str]], data: dict, settings, seed: int):
    def compute(folder: Path) -> dict:
        texts = [line for lines in corpus.values() for line in lines]
        tokenizer = TOKENIZERS[ALGORITHMS[algorithm]]().train(texts, vocab_size=settings.vocab_size)
        return {"lines": {name: len(lines) for name, lines in corpus.items()},
                **{name: segmentation_rates(tokenizer, val) for name, (_, val) in data.items()}}

    return lab.part(f"{algorithm}-{mix}-seed{seed}", compute)


# --- the report ----------------------------------------------------------------------------------------
def excess_removed(numbers: dict, language: str) -> float:
    """The share of the cut mix's extra tokens per word (over the full mix) that upsampling removes."""
    full, cut, up = (numbers[mix][language]["tokens_per_word"] for mix in MIXES)
    return (cut - up) / (cut - full) if cut > full else float("nan")


def english_cost(numbers: dict) -> float:
    """English tokens per word in the upsampled mix over the cut mix, minus 1."""
    return numbers["upsampled"]["en"]["tokens_per_word"] / numbers["cut"]["en"]["tokens_per_word"] - 1


def _answer(results: dict, settings: MultilingualSettings) -> list[str]:
    answer = []
    for algorithm, numbers in results.items():
        for language in settings.small_languages():
            full, cut, up = (numbers[mix][language]["tokens_per_word"] for mix in MIXES)
            removed = excess_removed(numbers, language)
            state = "over-segmented" if cut > full * 1.05 else "barely over-segmented (within 5% of full data)"
            answer.append(f"{algorithm}, {language} at {settings.small_share:.0%}: {cut:.2f} tokens per word vs "
                          f"{full:.2f} with full data ({state}); upsampled (T = 1/{settings.alpha:g}) {up:.2f}, "
                          f"{removed:.0%} of the excess removed.")
        cost = english_cost(numbers)
        answer.append(f"{algorithm}: English pays {cost:+.1%} tokens per word for it "
                      f"({numbers['cut']['en']['tokens_per_word']:.3f} -> "
                      f"{numbers['upsampled']['en']['tokens_per_word']:.3f}).")
    return answer


def _tables(results: dict) -> list[tuple[str, str]]:
    rows = []
    for algorithm, numbers in results.items():
        for language in LANGUAGES:
            rows.append([algorithm, language] + [numbers[mix]["lines"][language] for mix in MIXES]
                        + [f"{numbers[mix][language]['tokens_per_word']:.3f}" for mix in MIXES]
                        + [f"{numbers[mix][language]['tokens_per_char']:.3f}" for mix in MIXES])
    header = ["tokenizer", "language", "lines full", "cut", "upsampled", "tokens/word full", "cut", "upsampled",
              "tokens/char full", "cut", "upsampled"]
    return [("Training captions per language and tokens per word / character of its validation captions",
             markdown_table(header, rows))]


def _plot(results: dict, path: Path) -> None:
    fig, axes = figure(1, len(results), size=(5.0, 3.6))
    for panel, (algorithm, numbers) in zip(axes[0], results.items()):
        for offset, mix in zip((-0.27, 0.0, 0.27), MIXES):
            panel.bar([i + offset for i in range(len(LANGUAGES))],
                      [numbers[mix][name]["tokens_per_word"] for name in LANGUAGES], 0.27, label=mix)
        panel.set(xticks=range(len(LANGUAGES)), ylabel="tokens per word (validation)", title=algorithm)
        panel.set_xticklabels(LANGUAGES)
    save_figure(fig, axes, path)


def run(lab: Lab, settings: MultilingualSettings) -> Report:
    data = multi30k(settings)
    seed = 0
    corpora = mixes(data, settings, seed)
    results = {algorithm: {mix: measure_mix(lab, algorithm, mix, corpora[mix], data, settings, seed) for mix in MIXES}
               for algorithm in ALGORITHMS}
    _plot(results, lab.path / "multilingual-segmentation.png")
    source = "Multi30k captions" if settings.multi30k else "pydoc lines and three letter-permutation ciphers of them"
    setup = (f"{source}: {settings.lines:,} training lines per language in the full mix; "
             f"{', '.join(settings.small_languages())} cut to {settings.small_share:.0%} of that; upsampled with "
             f"alpha = {settings.alpha:g} (T = 1/{settings.alpha:g}) to the cut mix's total. BPE and Unigram, "
             f"{settings.vocab_size} entries each, trained on each mix; scored on {settings.val_lines} validation "
             f"lines per language (words: split at spaces).")
    return Report(setup, {"results": results}, _answer(results, settings), _tables(results),
                  [("multilingual-segmentation.png", "tokens per word of each language's validation captions, "
                                                     "for a tokenizer trained on each mix")])


EXPERIMENT = Experiment("multilingual-segmentation", "Does a shared vocabulary over-segment the low-resource "
                        "languages, and does temperature upsampling fix it at English's expense?", "004 §2.1.2",
                        PRESETS, run, {"tiny": "10 s", "default": "3.7 min loaded (33 s CPU)"})
