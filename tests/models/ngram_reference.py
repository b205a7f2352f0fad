"""NLTK's Kneser-Ney fed exactly the n-grams lmlab counts, for cross-checks (tests and benchmarks).

Where the two definitions differ, and what is done about it:

1. Padding. NLTK's ``padded_everygram_pipeline`` pads both ends with n - 1 symbols and counts every
   everygram, also those that end in padding (``("<s>",)``, ``("</s>", "</s>")``). lmlab pads
   only the left with n - 1 ``<s>``, predicts one ``</s>`` and counts the j-grams (j = 1..n) that
   end at a predicted token. `lmlab_ngrams` gives NLTK exactly those.
2. The bottom of the recursion. NLTK's lowest order is the undiscounted continuation unigram
   N1+(. w) / N1+(. .), zero for a word never seen. lmlab follows Jurafsky & Martin (SLP3, eq.
   3.36) and Chen & Goodman: discount it too and give the freed mass to the uniform 1/V, so
   every token of the vocabulary keeps a probability. `JurafskyMartinKneserNey` changes only that
   one method of NLTK's estimator.
3. Discounts. NLTK has one discount (0.1 by default) at every order; lmlab's default is modified
   KN (three discounts per order from the counts of counts). Cross-checks use lmlab's
   ``discount=`` option, the original single-discount KN.
"""

from __future__ import annotations

from nltk.lm.models import InterpolatedLanguageModel
from nltk.lm.smoothing import KneserNey

BOS, EOS = "<s>", "</s>"


def lmlab_ngrams(sentence: list[str], order: int) -> list[tuple[str, ...]]:
    """Every j-gram (j = 1..order) ending at a predicted token of <s>^(n-1) sentence </s>."""
    padded = [BOS] * (order - 1) + list(sentence) + [EOS]
    return [tuple(padded[i - j + 1 : i + 1]) for i in range(order - 1, len(padded)) for j in range(1, order + 1)]


class JurafskyMartinKneserNey(KneserNey):
    """NLTK's KneserNey with a discounted continuation unigram interpolated with 1/V at the bottom."""

    vocab_size = 0  # V of the uniform distribution: set to lmlab's vocabulary size

    def unigram_score(self, word):
        count, total = self._continuation_counts(word)
        if not hasattr(self, "_distinct"):
            self._distinct = len({w for counts in self.counts[2].values() for w, c in counts.items() if c > 0})
        return max(count - self.discount, 0.0) / total + self.discount * self._distinct / total / self.vocab_size


def nltk_kneser_ney(sentences: list[list[str]], order: int, discount: float, vocab_size: int,
                    uniform_floor: bool = True):
    """An NLTK interpolated KN model fitted on the n-grams lmlab counts (see the module docstring)."""
    estimator = JurafskyMartinKneserNey if uniform_floor else KneserNey
    estimator = type("Estimator", (estimator,), {"vocab_size": vocab_size})
    model = InterpolatedLanguageModel(estimator, order, params={"discount": discount, "order": order})
    words = [w for s in sentences for w in s] + [BOS, EOS]
    model.fit((lmlab_ngrams(s, order) for s in sentences), vocabulary_text=words)
    return model
