"""Experiment `subword-regularization`: does sampling the segmentation in training make a model robust to typos?

Note 004 §2.1.2: the choice between ``es t`` and ``e st`` is fragile; subword regularisation
samples different segmentations during training. Four arms of one classifier on SST-2 (lowercased
sentences, the same vocabulary size), read through `lmlab classify train --set tokenizer=...`:

    BPE                deterministic BPE pieces
    BPE-dropout        BPE, each merge skipped with probability `bpe_dropout`, resampled every epoch
    Unigram            the best (Viterbi) Unigram segmentation
    Unigram sampling   a segmentation drawn with P ~ P(pieces)^alpha (`sample_alpha`), every epoch

Each trained classifier (its last weights, not the best-on-dev ones, so that dev does not select
the model it scores) is scored on the dev set as it is (clean) and with typos (`add_typos`: a
seeded edit -- swap, delete, double or replace a letter -- in a share `typo_rate` of the words of
three letters or more). The gap clean - noisy is what subword regularisation should shrink.
Pieces per word show the mechanism: typos cut words into more, rarer pieces, and so does sampling,
so a model trained on sampled segmentations has seen such fragments.

A small language model (a GPT on Shakespeare, BPE pieces, trained with and without
`bpe_dropout`) adds the other half: bits per character on clean and on noisy validation text.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from lmlab.data.batching import in_order
from lmlab.data.classification import Example, collate, encode_words, read_labelled, split_file, to_examples
from lmlab.data.lm import load_ids, sequential_windows
from lmlab.errors import UserError
from lmlab.experiments.arms import TrainingSettings, arm_config, load_arm
from lmlab.experiments.lab import Experiment, Lab, Report, markdown_table
from lmlab.experiments.plots import figure, save_figure
from lmlab.experiments.stats import mean_std, spread, verdict
from lmlab.experiments.sentiment_toy import synthetic_sentiment
from lmlab.recipes import classify, lm
from lmlab.recipes.classifier_families import classifier_family
from lmlab.recipes.families import lm_family
from lmlab.recipes.options import ClassifyTrainOptions
from lmlab.tokenizers.sampling import sampling
from lmlab.train.checkpoint import RunFolder

ARMS = {"BPE": "bpe", "BPE-dropout": "bpe", "Unigram": "unigram", "Unigram sampling": "unigram"}  # arm -> tokenizer
SAMPLED = {"BPE-dropout": "BPE", "Unigram sampling": "Unigram"}  # sampled arm -> its deterministic twin
EDITABLE = re.compile(r"\b[^\W\d_]{3,}\b")  # a word of 3+ letters (no digits): the ones typos hit


@dataclass
class SubwordSettings(TrainingSettings):
    sst2: str = "../shared/data/sst2"  # GLUE SST-2 folder (train.tsv, dev.tsv); empty: a synthetic sentiment set
    train_sentences: int = 20000  # SST-2 training sentences used (a seeded sample)
    classifier: str = "textcnn"  # the `lmlab classify` family trained on the pieces
    epochs: int = 3  # classifier epochs
    classifier_batch: int = 64
    classifier_lr: float = 2e-3
    vocab_size: int = 2000  # classifier tokenizers' vocabulary (BPE and Unigram alike)
    bpe_dropout: float = 0.1  # BPE-dropout's merge-skip probability (Provilkov et al. use 0.1)
    sample_alpha: float = 0.2  # Unigram sampling's alpha (Kudo uses 0.1-0.5)
    typo_rate: float = 0.3  # share of the 3+ letter words given one typo in the noisy text
    lm_vocab_size: int = 1000  # the language models' BPE vocabulary
    lm_chars: int = 20000  # validation characters the language models are scored on


PRESETS = {
    "tiny": SubwordSettings(sst2="", train_sentences=400, classifier="bow", epochs=4, classifier_batch=16,
                            classifier_lr=0.05, vocab_size=400, corpus="pydoc", n_layer=1, n_embd=32,
                            block_size=32, batch_size=8, steps=20, eval_every=10, eval_batches=2, seeds=1,
                            lm_vocab_size=400, lm_chars=2000),
    "default": SubwordSettings(train_sentences=10000, n_layer=2, n_embd=128, block_size=64, steps=200, seeds=3),
}


# --- the noise ----------------------------------------------------------------------------------------
def typo(word: str, rng: random.Random) -> str:
    """One keyboard slip in `word`: swap two neighbours, delete, double, or replace one letter."""
    kind = rng.choice(("swap", "delete", "double", "replace"))
    if kind == "swap":
        i = rng.randrange(len(word) - 1)
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    i = rng.randrange(len(word))
    if kind == "delete":
        return word[:i] + word[i + 1:]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    return word[:i] + rng.choice([c for c in "abcdefghijklmnopqrstuvwxyz" if c != word[i].lower()]) + word[i + 1:]


def add_typos(text: str, rate: float, seed: int) -> str:
    """`text` with one `typo` in each word of 3+ letters with probability `rate` (seeded, pure);
    short words, numbers and punctuation are left as they are."""
    rng = random.Random(seed)
    return EDITABLE.sub(lambda m: typo(m.group(), rng) if rng.random() < rate else m.group(), text)


# --- the data ------------------------------------------------------------------------------------------
def write_tsv(path: Path, examples: list[Example]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("sentence\tlabel\n" + "".join(f"{e.text}\t{e.label}\n" for e in examples), encoding="utf-8")


def sst2_examples(settings: SubwordSettings) -> tuple[list[Example], list[Example]]:
    """(train, dev): a seeded sample of SST-2's training sentences and all of dev (or the synthetic set)."""
    if not settings.sst2:
        return synthetic_sentiment(settings.train_sentences, seed=0), synthetic_sentiment(200, seed=1)
    folder = Path(settings.sst2)
    if not (folder / "train.tsv").is_file() or not (folder / "dev.tsv").is_file():
        raise UserError(f"SST-2 not found in {folder}: give --set sst2=FOLDER with GLUE's train.tsv and dev.tsv, "
                        f"or --set sst2= for a synthetic sentiment set")
    train, dev = (to_examples(read_labelled(split_file(folder, split)), folder, None) for split in ("train", "dev"))
    train = random.Random(0).sample(train, min(settings.train_sentences, len(train)))
    return train, dev


# --- the classifiers -----------------------------------------------------------------------------------
def accuracy(model, tokenizer, examples: list[Example], device) -> float:
    batches = in_order(encode_words(tokenizer, examples, 128), 128, collate)
    predictions, _, _ = classify.predict_batches(model, batches, device)
    return sum(p == e.label for p, e in zip(predictions, examples)) / len(examples)


def pieces_per_word(tokenizer, examples: list[Example]) -> float:
    return sum(len(tokenizer.encode(e.text.lower())) for e in examples) / sum(len(e.text.split()) for e in examples)


def classifier_arm(lab: Lab, name: str, settings: SubwordSettings, seed: int, data: Path, noisy: list) -> dict:
    """Train one classifier arm with `lmlab classify train` and score it clean and noisy."""
    kind = ARMS[name]
    dropout = settings.bpe_dropout if name == "BPE-dropout" else 0.0
    alpha = settings.sample_alpha if name == "Unigram sampling" else 0.0

    def compute(folder: Path) -> dict:
        overrides = [f"tokenizer={kind}", f"data.vocab_size={settings.vocab_size}", f"epochs={settings.epochs}",
                     f"batch_size={settings.classifier_batch}", f"lr={settings.classifier_lr}",
                     f"bpe_dropout={dropout}", f"sample_alpha={alpha}", "log_every=1000"]
        options = ClassifyTrainOptions(model=settings.classifier, data=str(data), out=str(folder), seed=seed,
                                       preset="default", overrides=overrides, device=str(lab.device))
        summary = classify.train(options, lab.context)
        run = RunFolder(folder)
        config = run.read_config(expect="classifier")
        model = classifier_family(config["family"]).build(config["model"])
        run.load_model(model)  # the last weights: dev does not pick the model it scores
        model, tokenizer = model.to(lab.device).eval(), run.load_tokenizer()
        clean_examples = to_examples(read_labelled(split_file(data, "dev")), data, None)
        clean, noisy_accuracy = (accuracy(model, tokenizer, ex, lab.device) for ex in (clean_examples, noisy))
        with sampling(tokenizer, settings.bpe_dropout if kind == "bpe" else 0.0,
                      settings.sample_alpha if kind == "unigram" else 0.0, seed=seed) as sampler:
            sampled = pieces_per_word(sampler, clean_examples)
        return {"clean": clean, "noisy": noisy_accuracy, "gap": clean - noisy_accuracy, "seconds": summary["seconds"],
                "pieces_per_word": {"clean": pieces_per_word(tokenizer, clean_examples),
                                    "noisy": pieces_per_word(tokenizer, noisy), "sampled": sampled}}

    return lab.part(f"classifier-{name.replace(' ', '-')}-seed{seed}", compute)


# --- the language models -------------------------------------------------------------------------------
@torch.no_grad()
def bits_per_char(model, tokenizer, text: str, block_size: int, batch_size: int = 16) -> float:
    """Bits per character of `text` under a language model: total NLL of every token but the first
    (in bits) over the characters those tokens spell. Comparable across tokenizers."""
    ids = tokenizer.encode(text)
    total, device = 0.0, next(model.parameters()).device
    for inputs, targets in sequential_windows(torch.tensor(ids).numpy(), block_size, batch_size):
        logits, _ = model(inputs.to(device))
        total += F.cross_entropy(logits.flatten(0, 1).float(), targets.to(device).flatten(), ignore_index=-1,
                                 reduction="sum").item()
    return total / math.log(2) / (len(text) - len(tokenizer.decode(ids[:1])))


def lm_arm(lab: Lab, name: str, settings: SubwordSettings, seed: int) -> dict:
    def compute(folder: Path) -> dict:
        config = arm_config(settings, seed)
        config.data.tokenizer, config.data.vocab_size = "bpe", settings.lm_vocab_size
        config.data.bpe_dropout = settings.bpe_dropout if name == "BPE-dropout" else 0.0
        summary = lm.fit(lm_family("gpt"), config, folder, lab.context)
        if summary["interrupted"]:
            raise KeyboardInterrupt
        model, tokenizer = load_arm(folder, lm_family("gpt"), lab.device), RunFolder(folder).load_tokenizer()
        text = tokenizer.decode(load_ids(folder / "data" / "val.npy").tolist())[:settings.lm_chars]
        noisy = add_typos(text, settings.typo_rate, seed=seed)
        return {"clean_bpc": bits_per_char(model, tokenizer, text, settings.block_size),
                "noisy_bpc": bits_per_char(model, tokenizer, noisy, settings.block_size),
                "seconds": summary["seconds"]}

    return lab.part(f"lm-{name}-seed{seed}", compute)


# --- the report ----------------------------------------------------------------------------------------
def _values(runs: list[dict], key: str) -> list[float]:
    return [run[key] for run in runs]


def _answer(arms: dict, lms: dict, settings: SubwordSettings) -> list[str]:
    answer = []
    for sampled, plain in SAMPLED.items():
        a, b = arms[sampled], arms[plain]
        answer.append(verdict(sampled, _values(a, "gap"), plain, _values(b, "gap"),
                              "Accuracy lost to typos (clean - noisy, lower is more robust)"))
        answer.append(verdict(sampled, [1 - x for x in _values(a, "clean")], plain, [1 - x for x in _values(b, "clean")],
                              "Clean error rate (1 - accuracy)"))
    ppw = {name: runs[0]["pieces_per_word"] for name, runs in arms.items()}
    answer.append("Pieces per word (dev, seed 0): " + "; ".join(
        f"{plain} {ppw[plain]['clean']:.2f} clean, {ppw[plain]['noisy']:.2f} with typos, "
        f"{ppw[plain]['sampled']:.2f} sampled" for plain in SAMPLED.values())
        + ": typos cut words into more pieces, and sampling shows the model such fragments in training.")
    for measure, what in (("clean_bpc", "Language model, bits per character on clean text"),
                          ("noisy_bpc", "Language model, bits per character on text with typos")):
        answer.append(verdict("BPE-dropout", _values(lms["BPE-dropout"], measure), "BPE", _values(lms["BPE"], measure),
                              what))
    return answer


def _tables(arms: dict, lms: dict) -> list[tuple[str, str]]:
    rows = [[name, spread(_values(runs, "clean")), spread(_values(runs, "noisy")), spread(_values(runs, "gap")),
             f"{runs[0]['pieces_per_word']['clean']:.2f}", f"{runs[0]['pieces_per_word']['noisy']:.2f}",
             f"{runs[0]['pieces_per_word']['sampled']:.2f}", f"{mean_std(_values(runs, 'seconds'))[0]:.0f}"]
            for name, runs in arms.items()]
    header = ["arm", "clean accuracy", "noisy accuracy", "gap", "pieces/word clean", "noisy", "sampled", "seconds"]
    lm_rows = [[name, spread(_values(runs, "clean_bpc")), spread(_values(runs, "noisy_bpc")),
                f"{mean_std(_values(runs, 'seconds'))[0]:.0f}"] for name, runs in lms.items()]
    return [("Classifier on dev, clean and with typos (mean ± std over seeds; pieces per word: seed 0)",
             markdown_table(header, rows)),
            ("Language model, bits per character of validation text", markdown_table(
                ["arm", "clean", "with typos", "seconds"], lm_rows))]


def _plot(arms: dict, lms: dict, path: Path) -> None:
    fig, axes = figure(1, 3, size=(4.4, 3.6))
    names = list(arms)
    for offset, measure in ((-0.2, "clean"), (0.2, "noisy")):
        means = [mean_std(_values(arms[n], measure)) for n in names]
        axes[0, 0].bar([i + offset for i in range(len(names))], [m for m, _ in means], 0.4,
                       yerr=[s for _, s in means], label=measure)
    axes[0, 0].set(xticks=range(len(names)), ylabel="dev accuracy", title="classifier")
    axes[0, 0].set_xticklabels(names, rotation=20, fontsize=8)
    low = min(min(_values(runs, "noisy")) for runs in arms.values())
    axes[0, 0].set_ylim(max(0.0, low - 0.05), 1.0)
    gaps = [mean_std(_values(arms[n], "gap")) for n in names]
    axes[0, 1].bar(range(len(names)), [m for m, _ in gaps], yerr=[s for _, s in gaps], color="tab:red")
    axes[0, 1].set(xticks=range(len(names)), ylabel="clean - noisy accuracy", title="accuracy lost to typos")
    axes[0, 1].set_xticklabels(names, rotation=20, fontsize=8)
    for offset, measure in ((-0.2, "clean_bpc"), (0.2, "noisy_bpc")):
        means = [mean_std(_values(lms[n], measure)) for n in lms]
        axes[0, 2].bar([i + offset for i in range(len(lms))], [m for m, _ in means], 0.4, yerr=[s for _, s in means],
                       label=measure.replace("_bpc", ""))
    axes[0, 2].set(xticks=range(len(lms)), ylabel="bits per character", title="GPT on Shakespeare, BPE")
    axes[0, 2].set_xticklabels(list(lms), fontsize=8)
    save_figure(fig, axes, path)


def run(lab: Lab, settings: SubwordSettings) -> Report:
    train, dev = sst2_examples(settings)
    data = lab.path / "data"
    write_tsv(data / "train.tsv", train)
    write_tsv(data / "dev.tsv", dev)
    noisy = [Example(add_typos(e.text, settings.typo_rate, seed=i), e.label) for i, e in enumerate(dev)]
    arms = {name: [classifier_arm(lab, name, settings, seed, data, noisy) for seed in range(settings.seeds)]
            for name in ARMS}
    lms = {name: [lm_arm(lab, name, settings, seed) for seed in range(settings.seeds)] for name in ("BPE", "BPE-dropout")}
    _plot(arms, lms, lab.path / "subword-regularization.png")
    source = f"SST-2 ({len(train):,} training sentences sampled, {len(dev)} dev)" if settings.sst2 else \
        f"a synthetic sentiment set ({len(train)} training, {len(dev)} dev sentences)"
    setup = (f"Classifier: `{settings.classifier}` over lowercased pieces of a {settings.vocab_size}-entry BPE or "
             f"Unigram tokenizer trained on the training sentences; {settings.epochs} epochs, batch "
             f"{settings.classifier_batch}, lr {settings.classifier_lr:g}, on {source}, seeds 0..{settings.seeds - 1}. "
             f"BPE-dropout p = {settings.bpe_dropout:g}, Unigram sampling alpha = {settings.sample_alpha:g}, both "
             f"resampled every epoch. Noisy dev: one typo in {settings.typo_rate:.0%} of the words of 3+ letters "
             f"(seeded). Language models: {settings.describe().replace('(characters)', f'(BPE {settings.lm_vocab_size})')} "
             f"BPE-dropout arm: the training split read once with p = {settings.bpe_dropout:g}; scored on "
             f"{settings.lm_chars:,} validation characters, clean and with the same typo rate.")
    return Report(setup, {"classifier": arms, "lm": lms}, _answer(arms, lms, settings), _tables(arms, lms),
                  [("subword-regularization.png", "dev accuracy clean and with typos, the accuracy lost to typos, "
                                                  "and the language models' bits per character (mean ± std)")])


EXPERIMENT = Experiment("subword-regularization", "Does sampling segmentations in training (BPE-dropout, Unigram "
                        "sampling) make a model robust to typos, and what does it cost on clean text?",
                        "004 §2.1.2", PRESETS, run, {"tiny": "17 s", "default": "14.9 min loaded (5.4 min CPU)"})
