"""A rule-based sentiment scorer: a lexicon, negation and intensifier rules, a tuned threshold.

The five steps of the classic recipe (VADER: Hutto & Gilbert, 2014):

1. **Features from a lexicon.** Each word gets a valence from a table ``word -> score``: VADER's
   (-4 .. 4, rated by people), AFINN's (-5 .. 5), or one *induced* from labelled sentences, the
   smoothed log-odds of a word in positive against negative sentences (`induce_lexicon`).
2. **Rules.** A booster right before a word ("very", "extremely") adds `boost` in the direction
   of its valence, a dampener ("slightly") takes it away. A valence within `negation_window`
   words after a negation ("not", "never", "n't", "without") is multiplied by -0.74: flipped
   and damped. With "but" in the sentence, the words before it count half and the words after
   it 1.5 times (the clause after "but" carries the opinion).
3. **A score.** The sum of the adjusted valences, squashed into (-1, 1) by VADER's compound
   normalisation x / sqrt(x^2 + 15).
4. **A threshold.** Positive when the score is above a threshold chosen to maximise accuracy on
   the training sentences (`tune_threshold`); 0 would assume the lexicon is unbiased.
5. **Error analysis.** `lmlab classify errors` sorts the mistakes by cause: negation, words the
   lexicon does not know, contrast ("but") - `lmlab.evaluate.errors`.

>>> score = lambda *words: sum(VALENCE_EXAMPLE.get(w, 0.0) for w in words)
>>> score("good"), round(score("good") * NEGATION_SCALAR, 2)  # "good" and "not good"
(1.9, -1.41)

Everything the rules need is a tensor over the word tokenizer's vocabulary (valence, boost,
is-negation, is-contrast, and the threshold), saved in model.safetensors, so the scorer runs
as one batched forward pass like every other classifier.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Annotated
from pathlib import Path

import torch
import torch.nn.functional as F

from lmlab.config import AT_LEAST_ONE, Config, NON_NEGATIVE
from lmlab.errors import UserError
from lmlab.models.text_classifier import TextClassifier

# Word lists, as lmlab's word tokenizer cuts text (lowercased): "isn't" -> "isn", "'", "t", so
# the "t" of "n't" is the negation cue.
NEGATIONS = frozenset("""not no never nothing nobody none nor neither nowhere without cannot hardly
    barely t nt ain aint isnt dont doesnt didnt wasnt werent cant couldnt wont wouldnt shouldnt""".split())
BOOSTERS = {**dict.fromkeys("""very really extremely incredibly absolutely completely totally utterly
    remarkably so most more too truly highly deeply especially exceptionally particularly purely
    thoroughly enormously hugely""".split(), 0.293),
            **dict.fromkeys("slightly somewhat barely little marginally occasionally partly kinda".split(), -0.293)}
CONTRASTS = frozenset({"but"})  # the rule's contrast word (VADER's); error analysis also looks for "however", ...
NEGATION_SCALAR = -0.74  # VADER's N_SCALAR
COMPOUND_ALPHA = 15.0  # VADER's normalisation constant
VALENCE_EXAMPLE = {"good": 1.9, "bad": -2.5}  # VADER's values, for the docstring


@dataclass
class LexiconConfig(Config):
    """The rule-based scorer: where its lexicon comes from and the constants of its rules."""

    vocab_size: int = 0  # word tokenizer entries (set from the tokenizer)
    n_labels: int = 2  # binary only: negative (0) / positive (1)
    lexicon: str = "auto"  # a VADER/AFINN file; "induce" (from train); "vader" (fetched); "auto": VADER, else induce
    min_count: Annotated[int, AT_LEAST_ONE] = 5  # induced lexicon: words seen at least this often in training
    negation_window: Annotated[int, NON_NEGATIVE] = 3  # a negation cue flips the valence of the next this-many words
    negation_scalar: float = NEGATION_SCALAR
    contrast_before: Annotated[float, NON_NEGATIVE] = 0.5  # weight of the words before "but"
    contrast_after: Annotated[float, NON_NEGATIVE] = 1.5  # ... and after it


def read_lexicon(path: str | Path) -> dict[str, float]:
    """``word<TAB>score[<TAB>...]`` per line (VADER and AFINN); multi-word entries are skipped."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"lexicon {path} not found: give a VADER or AFINN file (word<TAB>score), or "
                        f"--set lexicon=induce")
    lexicon = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split("\t")
        if len(parts) < 2 or " " in parts[0].strip():
            continue
        try:
            lexicon[parts[0].strip().lower()] = float(parts[1])
        except ValueError:
            continue
    if not lexicon:
        raise UserError(f"{path}: no 'word<TAB>score' lines: not a VADER or AFINN lexicon")
    return lexicon


def induce_lexicon(sentences: list[list[str]], labels: list[int], min_count: int = 5,
                   smoothing: float = 1.0) -> dict[str, float]:
    """Valence = smoothed log-odds of the word in positive vs negative sentences.

        valence(w) = log (c+(w) + k) / (N+ + kV)  -  log (c-(w) + k) / (N- + kV)

    with c+(w) the count of w in positive sentences, N+ all positive words, V the vocabulary
    and k the add-k smoothing. Words seen fewer than `min_count` times are left out (valence 0).
    """
    positive, negative = Counter(), Counter()
    for words, label in zip(sentences, labels):
        (positive if label == 1 else negative).update(words)
    vocabulary = [w for w in positive.keys() | negative.keys() if positive[w] + negative[w] >= min_count]
    size = len(vocabulary)
    n_pos, n_neg = sum(positive.values()), sum(negative.values())
    lexicon = {}
    for word in vocabulary:
        lexicon[word] = (math.log((positive[word] + smoothing) / (n_pos + smoothing * size))
                         - math.log((negative[word] + smoothing) / (n_neg + smoothing * size)))
    return lexicon


def tune_threshold(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """The threshold t maximising the accuracy of ``score > t``, midway between two scores.

    Sorted by score, cutting before position i calls everything from i on positive, so
    accuracy(i) = (negatives before i + positives from i on) / N: two cumulative sums.
    """
    order = scores.argsort()
    s, y = scores[order], labels[order].float()
    negatives_before = torch.cat([torch.zeros(1), torch.cumsum(1 - y, 0)])  # (N + 1,)
    positives_from = torch.cat([torch.flip(torch.cumsum(torch.flip(y, [0]), 0), [0]), torch.zeros(1)])
    correct = negatives_before + positives_from
    # a cut is only possible between different scores (or before the first / after the last)
    edges = torch.cat([torch.tensor([True]), s[1:] > s[:-1], torch.tensor([True])])
    best = int(torch.where(edges, correct, torch.full_like(correct, -1)).argmax())
    if best == 0:
        return s[0].item() - 1e-3
    if best == len(s):
        return s[-1].item() + 1e-3
    return (s[best - 1].item() + s[best].item()) / 2


class LexiconClassifier(TextClassifier):
    """Scores a sentence with the lexicon and the rules; label 1 when the score beats the threshold."""

    trained_by_gradients = False

    def __init__(self, config: LexiconConfig) -> None:
        super().__init__()
        if config.n_labels != 2:
            raise UserError("the lexicon scorer is binary: labels must be 0 (negative) and 1 (positive)")
        self.config = config
        V = config.vocab_size
        self.register_buffer("valence", torch.zeros(V))  # (V,) the lexicon, indexed by word id
        self.register_buffer("boost", torch.zeros(V))  # (V,) booster (+) / dampener (-) increments
        self.register_buffer("negation", torch.zeros(V, dtype=torch.bool))  # (V,) negation cues
        self.register_buffer("contrast", torch.zeros(V, dtype=torch.bool))  # (V,) "but"
        self.register_buffer("threshold", torch.zeros(()))

    def set_lexicon(self, lexicon: dict[str, float], word_to_id: dict[str, int]) -> int:
        """Fill the tensors from a lexicon and the rule word lists; returns the lexicon words in the vocabulary."""
        found = 0
        for word, index in word_to_id.items():
            if word in lexicon and word not in NEGATIONS and word not in CONTRASTS:
                self.valence[index] = lexicon[word]
                found += 1
            self.boost[index] = BOOSTERS.get(word, 0.0)
            self.negation[index] = word in NEGATIONS
            self.contrast[index] = word in CONTRASTS
        return found

    def num_parameters(self, include_embeddings: bool = True) -> int:
        """Lexicon entries in use (the valences) plus the threshold: nothing is trained by gradient.

        An override, because the meaning differs: the lexicon's numbers are buffers, not
        parameters, and the count that says how big the model is is the number of scored words.
        """
        return int((self.valence != 0).sum()) + 1

    def is_known(self, ids: torch.Tensor) -> torch.Tensor:
        """Words that carry a valence: the lexicon can score them (rule words alone cannot)."""
        return self.valence[ids] != 0

    def score(self, ids: torch.Tensor) -> torch.Tensor:
        """ids (B, T) -> compound score (B,) in (-1, 1), before the threshold."""
        c = self.config
        ids, mask = self.split_padding(ids)
        valence = self.valence[ids] * mask  # (B, T) step 1: look up
        before = F.pad(self.boost[ids] * mask, (1, 0))[:, :-1]  # (B, T) the booster of the previous word
        valence = valence + torch.sign(valence) * before  # step 2a: intensifiers
        cues = (self.negation[ids] & mask).float()  # (B, T)
        recent = sum(F.pad(cues, (k, 0))[:, :-k] for k in range(1, c.negation_window + 1))  # cues in the window
        valence = torch.where(recent > 0, valence * c.negation_scalar, valence)  # step 2b: negation
        buts = (self.contrast[ids] & mask).long()  # (B, T)
        after = (torch.cumsum(buts, 1) - buts) > 0  # (B, T) strictly after the first "but"
        weight = torch.where(after, c.contrast_after, c.contrast_before)
        weight = torch.where(buts.any(1, keepdim=True), weight, torch.ones_like(weight))  # step 2c: contrast
        total = (valence * weight).sum(1)  # (B,) step 3: the score ...
        return total / torch.sqrt(total * total + COMPOUND_ALPHA)  # ... squashed to (-1, 1)

    def forward(self, ids, segments=None, labels=None):
        margin = self.score(ids) - self.threshold  # (B,) step 4: above the threshold is positive
        logits = torch.stack([torch.zeros_like(margin), margin], dim=-1)  # (B, 2)
        return logits, self.loss(logits, labels)

    @torch.no_grad()
    def fit(self, batches) -> dict:
        """Step 4: tune the threshold on the training batches (ids, segments, labels)."""
        scores, labels = [], []
        for ids, _, y in batches:
            scores.append(self.score(ids))
            labels.append(y)
        scores, labels = torch.cat(scores), torch.cat(labels)
        self.threshold.fill_(tune_threshold(scores, labels))
        accuracy = ((scores > self.threshold).long() == labels).float().mean().item()
        return {"threshold": self.threshold.item(), "train_accuracy": accuracy}
