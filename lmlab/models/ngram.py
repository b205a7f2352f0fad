"""The n-gram language model: counted, not trained, and smoothed.

An n-gram model assumes the next token depends only on the n - 1 before it and estimates
P(w | context) from counts. Counts alone give zero to everything unseen, so the estimate is
*smoothed* (Chen & Goodman 1998 compare them all):

- ``add-k`` (Laplace for k = 1): P(w | c) = (count(c w) + k) / (count(c) + k V).
- ``kneser-ney`` (the default): interpolated Kneser-Ney. Subtract a discount D from every seen
  count and give the freed mass to the next lower order, P(w | c) = max(a(c w) - D, 0) / a(c)
  + gamma(c) P(w | c'), c' = c without its first token, down to the uniform 1/V. Below the top
  order, a(.) is the *continuation count*: in how many different contexts the n-gram appeared,
  not how often ("Francisco" is frequent but follows only "San"). With ``discount`` None the
  discount is *modified* KN's three per order, D1, D2, D3+ for counts 1, 2, 3+, estimated from
  the counts of counts; a number gives the original single discount at every order.
- ``backoff``: Katz-style backoff with the same absolute discounts on raw counts: the discounted
  estimate for a seen n-gram, otherwise alpha(c) P(w | c') with alpha chosen so that every
  context's distribution still sums to 1.

Every token is scored in log space: sums of log-probabilities, never products of
probabilities, which underflow after a few hundred tokens.

Sentences: the model reads one token stream in which `eos_id` (the tokenizer's end-of-text)
ends a sentence or document. Each sentence is padded on the left with n - 1 start symbols <s>
(id = vocab_size, never predicted), and </s> = `eos_id` is predicted like any token, so the
model learns how texts begin and end. A context cut short by a window start (no <s> before it)
falls back to the lower orders that fit.

Storage (measured against a dict of tuples in docs/language-models.md): for each order j, the
distinct j-token sequences as sorted int64 keys `id(first j - 1 tokens) * (V + 1) + last token`,
a trie flattened into arrays, and their counts. Looking a sequence up is one `np.searchsorted`
per token, vectorised over a whole text; the counts are saved as safetensors (no pickle) and
everything else is derived from them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Literal, Optional

import numpy as np
import torch
import torch.nn.functional as F

from lmlab.config import AT_LEAST_ONE, Config, POSITIVE, Range
from lmlab.errors import UserError
from lmlab.models.base import ModelBase, require_vocab_size
from lmlab.nn.history import TokenHistory

INTERPOLATED, BACKOFF = "interpolated", "backoff"


@dataclass
class NGramConfig(Config):
    """An n-gram model: its order, smoothing and the end-of-sentence token."""

    vocab_size: int = 0
    order: Annotated[int, AT_LEAST_ONE] = 5  # n: the prediction sees the previous n - 1 tokens
    smoothing: Literal["kneser-ney", "add-k", "backoff"] = "kneser-ney"
    discount: Optional[Annotated[float, Range(0, 1, low_open=True, high_open=True)]] = None  # None: modified KN's three discounts per order; a number: one discount
    k: Annotated[float, POSITIVE] = 1.0  # add-k's pseudo-count (1 = Laplace)
    eos_id: int = -1  # the token that ends a sentence (-1: none); set from the tokenizer's end-of-text
    block_size: Annotated[int, AT_LEAST_ONE] = 256  # window length when `lmlab eval` scores windows (the model looks back order - 1)



def modified_kn_discounts(counts: np.ndarray) -> np.ndarray:
    """Chen & Goodman's D1, D2, D3+ from the counts of counts n1..n4 (an array of D for 0..3+).

    Y = n1 / (n1 + 2 n2),  D1 = 1 - 2Y n2/n1,  D2 = 2 - 3Y n3/n2,  D3+ = 3 - 4Y n4/n3.
    A corpus too small for some n_i falls back to the single discount Y (0.5 without counts).
    """
    n = np.bincount(np.minimum(counts, 5), minlength=6)[1:5].astype(np.float64)  # n1..n4
    if np.all(n > 0):
        y = n[0] / (n[0] + 2 * n[1])
        discounts = [1 - 2 * y * n[1] / n[0], 2 - 3 * y * n[2] / n[1], 3 - 4 * y * n[3] / n[2]]
        if all(0 < d < i + 1 for i, d in enumerate(discounts)):
            return np.array([0.0, *discounts])
    y = n[0] / (n[0] + 2 * n[1]) if n[0] + n[1] > 0 else 0.5
    return np.array([0.0, y, y, y])


class NGramLM(ModelBase):
    """Counts of every order 1..n and the smoothed distribution they define.

    It answers the calls a neural model answers, so the same recipes train, sample and evaluate
    it: ``model(ids, targets, cache) -> (logits, loss)`` with logits = log-probabilities,
    ``new_cache``, ``check_tokenizer``, ``num_parameters``, ``to``/``eval``/``train``.
    """

    def __init__(self, config: NGramConfig) -> None:
        require_vocab_size(config)
        config.validate()
        self.config = config
        self.V = config.vocab_size
        self.bos = self.V  # <s>
        self.radix = self.V + 1  # token values in keys: 0..V-1 and <s>
        self.device = torch.device("cpu")
        self.keys: list[np.ndarray] = []  # per order j = 0..n: sorted int64 keys of the j-sequences
        self.counts: list[np.ndarray] = []  # per order: how often each sequence ends at a predicted token

    # --- counting ------------------------------------------------------------------------------
    def _padded(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Split at eos, pad each sentence with n - 1 <s>: (tokens, offset of each in its sentence)."""
        ids = np.asarray(ids, dtype=np.int64)
        n, eos = self.config.order, self.config.eos_id
        ends = np.flatnonzero(ids == eos) + 1 if eos >= 0 else np.array([], dtype=np.int64)
        bounds = np.unique(np.concatenate([[0], ends, [len(ids)]]))
        lengths = np.diff(bounds) + n - 1  # padded sentence lengths
        tokens = np.full(int(lengths.sum()), self.bos, dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        offsets = np.arange(len(tokens)) - np.repeat(starts, lengths)
        real = offsets >= n - 1
        tokens[real] = ids
        return tokens, offsets

    def fit(self, ids: np.ndarray) -> "NGramLM":
        """Count every j-gram (j = 1..n) that ends at a predicted token of the stream `ids`."""
        n = self.config.order
        tokens, offsets = self._padded(ids)
        targets = offsets >= n - 1
        previous = np.zeros(len(tokens), dtype=np.int64)  # id of the (j-1)-sequence ending at each position
        self.keys, self.counts = [np.zeros(1, dtype=np.int64)], [np.array([targets.sum()], dtype=np.int64)]
        suffix = [np.zeros(1, dtype=np.int64)]  # each sequence without its first token, in the table below
        for j in range(1, n + 1):
            valid = offsets >= j - 1  # the j tokens ending here lie in one padded sentence
            parents = np.roll(previous, 1)  # the (j-1)-sequence ending one position earlier (j = 1: the empty one)
            if j == 1:  # the keys are the tokens themselves: counting replaces sorting
                table = np.flatnonzero(np.bincount(tokens, minlength=self.radix))
                inverse = np.cumsum(np.bincount(tokens, minlength=self.radix) > 0)[tokens] - 1
            else:
                table, inverse = np.unique(parents[valid] * self.radix + tokens[valid], return_inverse=True)
            current = np.full(len(tokens), -1, dtype=np.int64)
            current[valid] = inverse
            below = np.zeros(len(table), dtype=np.int64)
            if j > 1:  # the (j-1)-sequence ending at the same position is this one's suffix
                below[inverse] = previous[valid]
            suffix.append(below)
            self.keys.append(table)
            self.counts.append(np.bincount(current[targets], minlength=len(table)))
            previous = current
        self._derive(suffix)
        return self

    # --- from counts to probabilities ------------------------------------------------------------
    def _lookup(self, order: int, parents: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """Ids in table `order` of the sequences (parent sequence, token); -1 where absent."""
        keys = self.keys[order]
        wanted = parents * self.radix + tokens
        found = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
        ok = (parents >= 0) & (tokens >= 0) & (keys[found] == wanted) if len(keys) else np.zeros_like(wanted, bool)
        return np.where(ok, found, -1)

    def _derive(self, suffix: list[np.ndarray] | None = None) -> None:
        """Per order: the smoothing's `coef` of each sequence and `lam` of each context.

        Interpolated:  P_j(w | c) = coef_j[c w] + lam_j[c] * P_{j-1}(w | c')   (coef = 0 if unseen)
        Backoff:       P_j(w | c) = coef_j[c w] if seen, else lam_j[c] * P_{j-1}(w | c')
        A context never seen with a successor skips its order (lam = 1, nothing seen).
        `prob_j` is P_j of each sequence's last token given its first j - 1, so a seen n-gram is
        scored by one lookup.
        """
        config, n, V = self.config, self.config.order, self.V
        self.mode = BACKOFF if config.smoothing == "backoff" else INTERPOLATED
        self.levels = [n] if config.smoothing == "add-k" else list(range(1, n + 1))
        self.parent = [None] + [keys // self.radix for keys in self.keys[1:]]
        self.word = [None] + [keys % self.radix for keys in self.keys[1:]]
        if suffix is None:  # loaded counts: find each sequence's suffix (fit knows them from positions)
            suffix = [np.zeros(1, dtype=np.int64), np.zeros(len(self.keys[1]), dtype=np.int64)]
            for j in range(2, n + 1):  # the sequence without its first token, in table j - 1
                suffix.append(self._lookup(j - 1, suffix[j - 1][self.parent[j]], self.word[j]))
        self.suffix = suffix
        self.coef, self.lam, self.seen, self.known, self.log_prob, self.log_lam = ([None] * (n + 1) for _ in range(6))
        lower = None  # prob of the level below, per sequence of that table
        for j in self.levels:
            if config.smoothing == "kneser-ney" and j < n:  # continuation counts N1+(. w)
                above = self.counts[j + 1] > 0
                a = np.bincount(suffix[j + 1][above], minlength=len(self.keys[j]))
            else:
                a = self.counts[j]
            n_contexts = len(self.keys[j - 1])
            total = np.bincount(self.parent[j], weights=a, minlength=n_contexts)
            seen = total > 0
            denominator = np.where(seen, total, 1.0)
            if config.smoothing == "add-k":
                denominator = total + config.k * V
                coef = a / denominator[self.parent[j]]
                lam = config.k * V / denominator
            else:
                table = np.array([0.0, *[config.discount] * 3]) if config.discount else modified_kn_discounts(a)
                d = table[np.minimum(a, 3)]
                coef = (a - d) / denominator[self.parent[j]]
                lam = np.bincount(self.parent[j], weights=d, minlength=n_contexts) / denominator
            below = np.full(len(a), 1.0 / V) if lower is None else lower[suffix[j]]
            if self.mode == BACKOFF:  # alpha(c) = freed mass / lower-order mass of the unseen words
                covered = np.bincount(self.parent[j], weights=np.where(a > 0, below, 0.0), minlength=n_contexts)
                everything_seen = covered > 1 - 1e-12  # no unseen word to give mass to: do not discount
                coef = np.where(everything_seen[self.parent[j]], a / denominator[self.parent[j]], coef)
                lam = np.where(everything_seen, 0.0, lam / np.maximum(1 - covered, 1e-300))
                prob = np.where(a > 0, coef, lam[self.parent[j]] * below)
            else:
                prob = coef + lam[self.parent[j]] * below
            self.coef[j], self.lam[j], self.seen[j], self.known[j] = coef, np.where(seen, lam, 1.0), seen, a > 0
            with np.errstate(divide="ignore"):
                self.log_prob[j], self.log_lam[j] = np.log(prob), np.log(self.lam[j])
            lower = prob

    # --- scoring ---------------------------------------------------------------------------------
    def _contexts(self, sequence: np.ndarray, first: int) -> np.ndarray:
        """For positions first.. of `sequence` (B, P): the n - 1 tokens ending there (B * T, n - 1),
        with <s> up to an eos and -1 where the text before the window is unknown."""
        n = self.config.order
        B, P = sequence.shape
        padded = np.concatenate([np.full((B, n - 1), -1, dtype=np.int64), sequence], axis=1)
        index = np.arange(first, P)[:, None] + np.arange(n - 1)[None, :]  # (T, n-1) into padded
        context = padded[:, index + 1] if n > 1 else np.zeros((B, P - first, 0), dtype=np.int64)
        context = context.reshape(-1, n - 1)
        if self.config.eos_id >= 0 and n > 1:  # everything up to the last eos becomes <s>
            after_eos = np.flip(np.maximum.accumulate(np.flip(context == self.config.eos_id, 1), 1), 1)
            context = np.where(after_eos, self.bos, context)
        return context

    def _context_ids(self, context: np.ndarray) -> list[np.ndarray]:
        """ids[j] = id in table j - 1 of the last j - 1 context tokens (-1 if absent or cut short)."""
        n, N = self.config.order, len(context)
        ids = [None, np.zeros(N, dtype=np.int64)]
        for j in range(2, n + 1):
            chain = np.zeros(N, dtype=np.int64)
            for order, column in enumerate(range(n - j, n - 1), start=1):  # the last j - 1 tokens, left to right
                chain = self._lookup(order, chain, context[:, column])
            ids.append(chain)
        return ids

    def _log_probs_of(self, context: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """log P(token | context) for each row: the longest seen n-gram, times the lams above it."""
        ids = self._context_ids(context)
        log_p = np.full(len(tokens), -math.log(self.V))
        for j in self.levels:
            c = ids[j]
            usable = (c >= 0) & self.seen[j][np.maximum(c, 0)]
            gram = self._lookup(j, c, tokens)
            counted = usable & (gram >= 0) & self.known[j][np.maximum(gram, 0)]
            log_p = np.where(counted, self.log_prob[j][np.maximum(gram, 0)],
                             np.where(usable, self.log_lam[j][np.maximum(c, 0)] + log_p, log_p))
        return log_p

    def distribution(self, context: np.ndarray) -> np.ndarray:
        """P(. | context) over the whole vocabulary for each row of `context` (N, n-1) -> (N, V)."""
        ids = self._context_ids(context)
        N = len(context)
        probs = np.full((N, self.V), 1.0 / self.V)
        for j in self.levels:
            c = ids[j]
            rows = np.flatnonzero((c >= 0) & self.seen[j][np.maximum(c, 0)])
            if not len(rows):
                continue
            keys = self.keys[j]
            first = np.searchsorted(keys, c[rows] * self.radix)  # a context's successors are contiguous
            last = np.searchsorted(keys, (c[rows] + 1) * self.radix)
            lengths = last - first
            pair_rows = np.repeat(rows, lengths)
            entries = np.repeat(first - (np.cumsum(lengths) - lengths), lengths) + np.arange(lengths.sum())
            keep = self.word[j][entries] < self.V  # <s> follows contexts in the tables but is never predicted
            pair_rows, entries = pair_rows[keep], entries[keep]
            words = self.word[j][entries]
            probs[rows] *= self.lam[j][c[rows]][:, None]
            if self.mode == BACKOFF:
                seen = self.known[j][entries]
                probs[pair_rows[seen], words[seen]] = self.coef[j][entries[seen]]
            else:
                probs[pair_rows, words] += self.coef[j][entries]
        return probs

    def _stream(self, ids: np.ndarray, fragment: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(contexts (N, n-1), tokens (N,)) of every predicted token of a stream, padded as in training
        (fragment: with -1, the unknown, instead of <s>)."""
        n = self.config.order
        tokens, offsets = self._padded(ids)
        targets = np.flatnonzero(offsets >= n - 1)
        context = tokens[targets[:, None] - np.arange(n - 1, 0, -1)[None, :]] if n > 1 \
            else np.zeros((len(targets), 0), dtype=np.int64)
        return np.where(context == self.bos, -1, context) if fragment else context, tokens[targets]

    def log_likelihood(self, ids: np.ndarray, fragment: bool = False) -> np.ndarray:
        """log P of every token of a stream (sentences padded with <s>, as in training): (N,).

        ``fragment=True`` scores a piece cut from running text: what came before each sentence is
        unknown rather than its start, so its first tokens fall back to the lower orders, as in
        P(w1) P(w2 | w1) P(w3 | w1 w2) ..."""
        return self._log_probs_of(*self._stream(ids, fragment))

    def matched_orders(self, ids: np.ndarray) -> np.ndarray:
        """For every predicted token of a stream, the longest j <= n such that the j-gram ending at
        it (<s> padding included) was counted in training; 0 for a token never seen: (N,).

        Data sparsity in one number per token: ``mean(matched_orders(test) < j)`` is the fraction
        of the test's j-grams that an order-j model never saw. A seen j-gram's suffixes are seen
        too, so the seen orders of a token are exactly 1..matched."""
        context, tokens = self._stream(ids)
        context_ids, matched = self._context_ids(context), np.zeros(len(tokens), dtype=np.int64)
        for j in range(1, self.config.order + 1):
            gram = self._lookup(j, context_ids[j], tokens)
            matched = np.where((gram >= 0) & (self.counts[j][np.maximum(gram, 0)] > 0), j, matched)
        return matched

    def perplexity(self, ids: np.ndarray) -> float:
        """exp of the mean negative log-likelihood per token of the stream."""
        return math.exp(-self.log_likelihood(ids).mean())

    # --- the neural models' interface ------------------------------------------------------------
    def __call__(self, ids: torch.Tensor, targets: torch.Tensor | None = None, cache: TokenHistory | None = None):
        """ids (B, T) -> (logits (B, T, V) = log-probabilities, loss or None)."""
        T = ids.size(1)
        sequence = ids if cache is None else torch.cat([cache.push(ids), ids], dim=1)
        context = self._contexts(sequence.cpu().numpy().astype(np.int64), sequence.size(1) - T)
        with np.errstate(divide="ignore"):
            log_probs = np.log(self.distribution(context)).reshape(ids.size(0), T, self.V)
        logits = torch.from_numpy(log_probs).float().to(ids.device)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-1)
        return logits, loss

    def new_cache(self, batch_size: int, max_length: int | None = None) -> TokenHistory:
        return TokenHistory(batch_size, self.config.order - 1, self.device)

    def num_parameters(self, include_embeddings: bool = True) -> int:
        """The stored counts: one number per distinct n-gram of every order.

        An override, because the meaning differs: the model has no trainable parameters (and no
        embedding table), and what it stores, and what its size grows with, is its n-gram counts.
        """
        return int(sum((counts > 0).sum() for counts in self.counts[1:]))

    def to(self, device) -> "NGramLM":
        self.device = torch.device(device)
        return self

    def eval(self) -> "NGramLM":
        return self

    def train(self, mode: bool = True) -> "NGramLM":
        return self

    # --- saving ----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        arrays = {}
        for j in range(1, self.config.order + 1):
            arrays[f"keys_{j}"], arrays[f"counts_{j}"] = self.keys[j], self.counts[j]
        return arrays

    def load_state_dict(self, arrays: dict[str, np.ndarray], source: str = "counts") -> None:
        try:
            self.keys = [np.zeros(1, dtype=np.int64)] + [arrays[f"keys_{j}"].astype(np.int64)
                                                         for j in range(1, self.config.order + 1)]
            self.counts = [np.zeros(1, dtype=np.int64)] + [arrays[f"counts_{j}"].astype(np.int64)
                                                           for j in range(1, self.config.order + 1)]
        except KeyError as missing:
            raise UserError(f"{source}: no {missing} array: the counts do not fit the order in config.json") from None
        self.counts[0] = np.array([self.counts[1].sum()])
        self._derive()
