"""Experiment `decoding`: greedy, beam search and sampling on one trained Shakespeare GPT.

Note 001 calls generation a search: the best sequence maximises the product of the next-token
probabilities, greedy decoding keeps one prefix, beam search k, and sampling (temperature, top-k,
top-p) trades that probability for variety. One small character GPT is trained, then every
strategy continues the same validation prompts and is measured five ways:

    distinct-n       unique word n-grams / all word n-grams, pooled over a prompt's samples (variety)
    repetition       share of a continuation's word bigrams that already occurred earlier in it
    self-BLEU        sacrebleu BLEU of each sample against the prompt's other samples (sameness)
    self-perplexity  exp(mean NLL) of the continuation under the model that wrote it (teacher-forced)
    time per token   generation wall time / generated tokens (all prompts in one batch)

Greedy and beam search are deterministic: they decode once and their `samples` copies are identical
(self-BLEU 100). Plus the notes' toy: a two-step distribution where greedy finds 0.30 and beam 0.36.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch import nn

from lmlab.experiments.arms import TrainingSettings, arm_config, train_arm, validation_batch
from lmlab.experiments.lab import Experiment, Lab, Report, markdown_table
from lmlab.experiments.plots import figure, save_figure
from lmlab.experiments.stats import mean_std, spread, verdict
from lmlab.generate.beam import BeamConfig, beam_search
from lmlab.generate.sampling import SamplingConfig, generate
from lmlab.nn.history import TokenHistory
from lmlab.train.checkpoint import RunFolder

STRATEGIES = {  # name -> SamplingConfig (sampled / greedy) or BeamConfig
    "greedy": SamplingConfig(strategy="greedy"),
    **{f"beam {k}": BeamConfig(beams=k, length_penalty=0.0) for k in (1, 2, 4, 8)},
    **{f"beam {k}, lp 0.6": BeamConfig(beams=k, length_penalty=0.6) for k in (2, 4, 8)},
    **{f"temperature {t}": SamplingConfig(temperature=t) for t in (0.7, 1.0, 1.3)},
    **{f"top-k {k}": SamplingConfig(top_k=k) for k in (5, 20)},
    **{f"top-p {p}": SamplingConfig(top_p=p) for p in (0.8, 0.95)},
}


@dataclass
class DecodingSettings(TrainingSettings):
    prompts: int = 4  # validation windows used as prompts (evenly spaced)
    prompt_chars: int = 16  # characters of each prompt
    new_tokens: int = 112  # characters generated (prompt + new_tokens <= block_size: beam needs one cache)
    samples: int = 5  # continuations per prompt of a sampled strategy (seeds 0..samples-1)


PRESETS = {
    "tiny": DecodingSettings(corpus="pydoc", n_layer=1, n_head=2, n_embd=32, block_size=32, batch_size=8, steps=60,
                             eval_every=30, eval_batches=2, seeds=1, prompts=2, prompt_chars=8, new_tokens=24,
                             samples=3),
    "default": DecodingSettings(seeds=1, block_size=128, steps=500, eval_every=100),
}


# ----- metrics: small pure functions -----

def ngrams(words: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]


def distinct_n(texts: list[str], n: int) -> float:
    """Unique word n-grams / all word n-grams, pooled over `texts` (0 when there are none)."""
    grams = [g for text in texts for g in ngrams(text.split(), n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def repetition_rate(text: str, n: int = 2) -> float:
    """Share of the word n-grams of `text` that already occurred earlier in it."""
    seen, repeats, grams = set(), 0, ngrams(text.split(), n)
    for gram in grams:
        repeats += gram in seen
        seen.add(gram)
    return repeats / len(grams) if grams else 0.0


def self_bleu(texts: list[str]) -> float:
    """Mean sacrebleu sentence BLEU of each text against all the others as references."""
    import sacrebleu

    scores = [sacrebleu.sentence_bleu(text, texts[:i] + texts[i + 1:]).score for i, text in enumerate(texts)]
    return sum(scores) / len(scores)


@torch.no_grad()
def continuation_log_probs(model, prompt: torch.Tensor, continuation: torch.Tensor) -> list[float]:
    """Teacher-forced sum of log P(continuation | prompt) per row; prompt (B, T0), continuation (B, T)."""
    ids = torch.cat([prompt, continuation], dim=1)
    logits, _ = model(ids[:, :-1])  # (B, T0 + T - 1, V)
    log_probs = torch.log_softmax(logits[:, prompt.size(1) - 1:].float(), dim=-1)  # predictions of continuation
    return log_probs.gather(-1, continuation.unsqueeze(-1)).squeeze(-1).sum(dim=1).tolist()


# ----- decoding -----

def decode(model, prompt: torch.Tensor, strategy, new_tokens: int, seed: int) -> tuple[torch.Tensor, float]:
    """(continuations (B, new_tokens), seconds) of one strategy; beams are cut at new_tokens (no end token)."""
    start = time.perf_counter()
    if isinstance(strategy, BeamConfig):
        tokens = [h[0].tokens for h in beam_search(model, prompt, new_tokens, strategy)]
        out = torch.tensor(tokens, device=prompt.device)
    else:
        generator = torch.Generator(device=prompt.device).manual_seed(seed)
        out = torch.cat(list(generate(model, prompt, new_tokens, strategy, generator=generator)), dim=1)
    return out, time.perf_counter() - start


def measure_strategies(model, folder, settings: DecodingSettings) -> dict:
    """Every strategy on the same prompts: texts and the five measures, per prompt."""
    prompt = validation_batch(folder, settings.prompt_chars, settings.prompts, model.lm_head.weight.device)[0]
    tokenizer = RunFolder(folder).load_tokenizer()
    results = {}
    for name, strategy in STRATEGIES.items():
        runs = 1 if isinstance(strategy, BeamConfig) or strategy.strategy == "greedy" else settings.samples
        decoded = [decode(model, prompt, strategy, settings.new_tokens, seed) for seed in range(runs)]
        decoded = decoded * (settings.samples // runs)  # deterministic: the same text every time
        texts = [[tokenizer.decode(out[b].tolist()) for out, _ in decoded] for b in range(settings.prompts)]
        log_probs = [continuation_log_probs(model, prompt, out) for out, _ in decoded[:runs]]  # [run][prompt]
        per_prompt = [[lp[b] for lp in log_probs] for b in range(settings.prompts)]
        results[name] = {
            "texts": [t[0] for t in texts],
            "log_prob": [sum(lp) / len(lp) for lp in per_prompt],
            "self_perplexity": [math.exp(-sum(lp) / (len(lp) * settings.new_tokens)) for lp in per_prompt],
            "distinct_1": [distinct_n(t, 1) for t in texts], "distinct_2": [distinct_n(t, 2) for t in texts],
            "repetition": [sum(map(repetition_rate, t)) / len(t) for t in texts],
            "self_bleu": [self_bleu(t) for t in texts],
            "ms_per_token": 1000 * sum(s for _, s in decoded[:runs]) / (runs * settings.prompts * settings.new_tokens)}
    return {"prompts": [tokenizer.decode(row.tolist()) for row in prompt], "strategies": results}


# ----- the notes' toy -----

class ToyModel(nn.Module):
    """Next-token probabilities that depend on the last token only (note 001's example):
    P(A) = 0.4, P(C) = 0.5 first; then P(B | A) = 0.9 and P(D | C) = 0.6."""

    VOCAB = ["<s>", "A", "B", "C", "D"]
    TABLE = [[0.0, 0.4, 0.05, 0.5, 0.05],  # after <s>
             [0.0, 0.0, 0.9, 0.0, 0.1],  # after A
             [0.0, 0.0, 0.5, 0.0, 0.5],  # after B
             [0.0, 0.0, 0.4, 0.0, 0.6],  # after C
             [0.0, 0.0, 0.5, 0.0, 0.5]]  # after D

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("log_table", torch.tensor(self.TABLE).log())

    def new_cache(self, batch_size: int, max_length: int | None = None) -> TokenHistory:
        return _ReorderableHistory(batch_size, 1)

    def forward(self, ids: torch.Tensor, cache=None):
        if cache is not None:
            cache.push(ids)
        return self.log_table[ids], None  # (B, T, V): log-probabilities are logits


class _ReorderableHistory(TokenHistory):
    def reorder(self, rows: torch.Tensor) -> None:
        self.tokens = self.tokens[rows]


def toy() -> dict:
    """Greedy's and beam-2's two-step sequence and its probability on `ToyModel`."""
    model, start = ToyModel(), torch.tensor([[0]])
    found = {"greedy": decode(model, start, SamplingConfig(strategy="greedy"), 2, 0)[0],
             "beam 2": decode(model, start, BeamConfig(beams=2, length_penalty=0.0), 2, 0)[0]}
    return {name: {"sequence": "-".join(ToyModel.VOCAB[t] for t in out[0].tolist()),
                   "probability": math.exp(continuation_log_probs(model, start, out)[0])}
            for name, out in found.items()}


# ----- report -----

def _plot(strategies: dict, path) -> None:
    fig, axes = figure(1, 2)
    for name, r in strategies.items():
        x, y = mean_std(r["self_perplexity"])[0], mean_std(r["distinct_2"])[0]
        axes[0, 0].plot(x, y, "o", label=name)
        axes[0, 0].annotate(name, (x, y), fontsize=6)
    axes[0, 0].set(xlabel="self-perplexity (model's own, lower = more probable)", ylabel="distinct-2 (words)",
                   xscale="log")
    names = list(strategies)
    axes[0, 1].barh(names, [strategies[n]["ms_per_token"] for n in names])
    axes[0, 1].set(xlabel="ms per generated token", title="time")
    save_figure(fig, axes, path)


def _answer(strategies: dict, toy_result: dict) -> list[str]:
    """Sentences from the numbers; the rules are in the comments."""
    mean = {name: {k: mean_std(v)[0] for k, v in r.items() if k not in ("texts", "ms_per_token")}
            for name, r in strategies.items()}
    lowest = min(mean, key=lambda n: mean[n]["self_perplexity"])  # the most probable text, by its writer
    widest = max(mean, key=lambda n: mean[n]["distinct_2"])  # the most varied
    answer = [f"Lowest self-perplexity: {lowest} ({mean[lowest]['self_perplexity']:.2f}); highest distinct-2: "
              f"{widest} ({mean[widest]['distinct_2']:.2f}, self-perplexity {mean[widest]['self_perplexity']:.2f})."]
    same = strategies["greedy"]["texts"] == strategies["beam 1"]["texts"]
    answer.append(f"Beam 1 and greedy give {'identical' if same else 'DIFFERENT'} text.")
    better = [k for k in (2, 4, 8) if mean[f"beam {k}"]["log_prob"] >= mean["greedy"]["log_prob"]]
    answer.append(f"Mean log P(continuation): greedy {mean['greedy']['log_prob']:.1f}, beam 2/4/8 "
                  + "/".join(f"{mean[f'beam {k}']['log_prob']:.1f}" for k in (2, 4, 8))
                  + f"; beam finds a sequence at least as probable as greedy's for widths {better or 'none'}.")
    answer.append(verdict("beam 4", strategies["beam 4"]["repetition"], "temperature 1.0",
                          strategies["temperature 1.0"]["repetition"], "Repetition rate (over prompts)"))
    lp_same = all(strategies[f"beam {k}"]["texts"] == strategies[f"beam {k}, lp 0.6"]["texts"] for k in (2, 4, 8))
    answer.append("The length penalty changes nothing here: no hypothesis ends early (no end token is generated), "
                  "so all have the same length and dividing by lp(|Y|) keeps their order." if lp_same else
                  "The length penalty changes the beams' text (some hypotheses end early).")
    g, b = toy_result["greedy"], toy_result["beam 2"]
    answer.append(f"Notes' toy: greedy finds {g['sequence']} with probability {g['probability']:.2f}, beam search "
                  f"(width 2) {b['sequence']} with {b['probability']:.2f}"
                  + (": greedy misses the better sequence, as the note says." if b["probability"] > g["probability"]
                     else "."))
    return answer


def _tables(numbers: dict) -> list[tuple[str, str]]:
    header = ["strategy", "distinct-1", "distinct-2", "repetition", "self-BLEU", "self-perplexity",
              "ms/token", "sample (prompt 0)"]
    rows = [[name, spread(r["distinct_1"], 2), spread(r["distinct_2"], 2), spread(r["repetition"], 2),
             spread(r["self_bleu"], 1), spread(r["self_perplexity"], 2), f"{r['ms_per_token']:.2f}",
             "`" + " ".join(r["texts"][0].split())[:60].replace("|", "\\|").replace("`", "'") + "`"]
            for name, r in numbers["strategies"].items()]
    toy_rows = [[name, t["sequence"], f"{t['probability']:.2f}"] for name, t in numbers["toy"].items()]
    return [("Strategies (mean ± std over prompts)", markdown_table(header, rows)),
            ("The notes' toy", markdown_table(["search", "sequence", "probability"], toy_rows))]


def run(lab: Lab, settings: DecodingSettings) -> Report:
    if settings.prompt_chars + settings.new_tokens > settings.block_size or settings.samples < 2:
        from lmlab.errors import UserError

        raise UserError("need prompt_chars + new_tokens <= block_size and samples >= 2")
    arm = train_arm(lab, "gpt", arm_config(settings, 0),
                    measure=lambda model, folder: measure_strategies(model, folder, settings))
    numbers = {"val_loss": arm["val_loss"], "prompts": arm["prompts"], "strategies": arm["strategies"], "toy": toy()}
    _plot(numbers["strategies"], lab.path / "decoding.png")
    setup = (f"{settings.describe()} {settings.prompts} validation prompts of {settings.prompt_chars} characters, "
             f"{settings.new_tokens} new characters each; sampled strategies {settings.samples} seeds per prompt. "
             f"Words are whitespace-separated; repetition is over word bigrams; beams have no end token.")
    return Report(setup, numbers, _answer(numbers["strategies"], numbers["toy"]), _tables(numbers),
                  [("decoding.png", "self-perplexity against distinct-2 per strategy; time per generated token")])


EXPERIMENT = Experiment("decoding", "Greedy, beam or sampling: which text is most probable, which most varied, "
                        "and does greedy miss the better sequence?", "001", PRESETS, run,
                        {"tiny": "10 s", "default": "1.5 min"})
