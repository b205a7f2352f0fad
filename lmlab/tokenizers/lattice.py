"""The segmentation lattice of a Unigram language model, and the four things done with it.

A Unigram tokenizer gives every piece a log-probability (its score); a segmentation of a text
scores the sum of its pieces' scores. All segmentations of a text form a lattice: ``ends[e]``
lists the pieces that end at character e as ``(start, piece id)``. For "abc" with the pieces
a, b, c, ab and bc::

    ends[1] = [(0, a)]   ends[2] = [(0, ab), (1, b)]   ends[3] = [(1, bc), (2, c)]

- `viterbi`: the best segmentation (dynamic programming over the ends);
- `nbest`: the n best ones;
- `sample`: one segmentation drawn with probability proportional to exp(theta * score), by
  forward filtering and backward sampling: the subword regularisation of Kudo (2018);
- `expected_counts`: how often each piece is used, averaged over all segmentations weighted
  by their probability (forward-backward), the E-step for one word: the reference that
  `unigram_trie` (which trains on every distinct prefix once) is tested against.

Scores are looked up by piece id, ``scores[id]``, so training can change them without
rebuilding lattices. A path is a list of ``(start, end, piece id)``.
"""

from __future__ import annotations

import heapq
import math
import random

Node = tuple[int, int]  # (start, piece id)
Path = list[tuple[int, int, int]]  # [(start, end, piece id), ...]
NOT_A_PREFIX = object()


def prefix_table(pieces) -> dict:
    """The lookup `build_lattice` needs, from ``(id, piece)`` pairs: each piece maps to its id,
    each shorter prefix of a piece to None.

    >>> prefix_table([(7, "ab")])
    {'a': None, 'ab': 7}
    """
    table: dict = {}
    for i, piece in pieces:
        for end in range(1, len(piece)):
            table.setdefault(piece[:end], None)
        table[piece] = i
    return table


def build_lattice(text: str, lookup: dict, unk_id: int) -> list[list[Node]]:
    """All pieces found in `text`. The search from a position stops as soon as `lookup` says no
    piece continues that way. A character that no piece covers gets an unknown node (`unk_id`),
    as in SentencePiece.

    >>> build_lattice("abz", {"a": 1, "b": 2, "ab": 3}, 0)
    [[], [(0, 1)], [(0, 3), (1, 2)], [(2, 0)]]
    """
    ends: list[list[Node]] = [[] for _ in range(len(text) + 1)]
    for start in range(len(text)):
        covered = False
        for end in range(start + 1, len(text) + 1):
            piece = lookup.get(text[start:end], NOT_A_PREFIX)
            if piece is NOT_A_PREFIX:
                break
            if piece is not None:
                ends[end].append((start, piece))
                covered = covered or end == start + 1
        if not covered:
            ends[start + 1].append((start, unk_id))
    return ends


def viterbi(ends: list[list[Node]], scores) -> Path:
    """The highest-scoring path. Ties go to the piece that starts earliest (SentencePiece's rule)."""
    best = [0.0] * len(ends)
    back: list[Node | None] = [None] * len(ends)
    for end in range(1, len(ends)):
        for start, piece in ends[end]:
            total = best[start] + scores[piece]
            if back[end] is None or total > best[end]:
                best[end], back[end] = total, (start, piece)
    path, end = [], len(ends) - 1
    while end > 0:
        start, piece = back[end]
        path.append((start, end, piece))
        end = start
    return path[::-1]


def nbest(ends: list[list[Node]], scores, n: int) -> list[tuple[float, Path]]:
    """The `n` highest-scoring paths with their scores, best first.

    Keeps, for every position, the n best partial paths ending there: each is
    ``(score, start, piece, rank of its prefix among the n best ending at start)``.
    """
    best: list[list[tuple]] = [[(0.0, -1, -1, -1)]] + [[] for _ in range(len(ends) - 1)]
    for end in range(1, len(ends)):
        candidates = [(prefix[0] + scores[piece], start, piece, rank)
                      for start, piece in ends[end] for rank, prefix in enumerate(best[start])]
        best[end] = heapq.nlargest(n, candidates, key=lambda candidate: candidate[0])
    results = []
    for hypothesis in best[-1]:
        path, end, node = [], len(ends) - 1, hypothesis
        while end > 0:
            _, start, piece, rank = node
            path.append((start, end, piece))
            end, node = start, best[start][rank]
        results.append((hypothesis[0], path[::-1]))
    return results


def sample(ends: list[list[Node]], scores, theta: float, rng: random.Random) -> Path:
    """Draw a path with probability proportional to exp(theta * its score).

    Forward: ``alpha[e]`` is the log of the summed weight of all segmentations of text[:e].
    Backward: from the end, choose the last piece in proportion to its share of alpha.
    """
    alpha = [0.0] * len(ends)
    for end in range(1, len(ends)):
        terms = [alpha[start] + theta * scores[piece] for start, piece in ends[end]]
        top = max(terms)
        alpha[end] = top + math.log(sum(math.exp(t - top) for t in terms))
    path, end = [], len(ends) - 1
    while end > 0:
        weights = [math.exp(alpha[start] + theta * scores[piece] - alpha[end]) for start, piece in ends[end]]
        start, piece = rng.choices(ends[end], weights)[0]
        path.append((start, end, piece))
        end = start
    return path[::-1]


def expected_counts(ends: list[list[Node]], probabilities, frequency: float, counts: list[float]) -> float:
    """Add to ``counts[piece]`` the expected uses of each piece in this text, times `frequency`,
    and return P(text) (forward ``alpha``, backward ``beta``, both as plain probabilities).

    Plain probabilities are fast but underflow on long texts: training keeps words short
    (`unigram_train.MAX_WORD_LENGTH`), so P(word) stays far above the smallest float.
    """
    alpha = [1.0] + [0.0] * (len(ends) - 1)  # P(text[:e]), summed over its segmentations
    for end in range(1, len(ends)):
        for start, piece in ends[end]:
            alpha[end] += alpha[start] * probabilities[piece]
    total = alpha[-1]
    beta = [0.0] * (len(ends) - 1) + [1.0]  # P(text[e:])
    for end in range(len(ends) - 1, 0, -1):  # beta[end] is complete: its pieces end further on
        after, weight = beta[end], beta[end] * frequency / total
        for start, piece in ends[end]:
            probability = probabilities[piece]
            beta[start] += probability * after
            counts[piece] += alpha[start] * probability * weight  # P(paths through this piece) / P(text)
    return total
