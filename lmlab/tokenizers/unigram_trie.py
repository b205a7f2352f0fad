"""The lattices of all training words at once, as one prefix tree: Unigram training's E-step and
Viterbi with every shared prefix computed once.

`lattice` works on one text: its forward pass finds alpha[e] = P(text[:e]) for every end e. But
alpha of a prefix does not depend on the rest of the word, and training words share prefixes
("▁the", "▁then", "▁there"). So here every distinct prefix of every word is one node, computed
once, and a word is the node of its whole text. An edge ``u -> v`` with piece p says that v's text
is u's text followed by p's. On Tiny Shakespeare, 14,000 distinct words have 105,000 positions but
38,000 distinct prefixes, and 381,000 lattice nodes become 176,000 edges.

- forward (`forward`): alpha(v) = sum over edges u -> v of alpha(u) P(p), as in
  `lattice.expected_counts`;
- backward (`expected_counts`): the per-word beta, summed over the words it serves, becomes
  gamma(v) = sum over the words w that start with v's text of frequency(w) / P(w) x P(rest of w);
  so gamma(v) = frequency(v) / P(v) (if v is a word) + sum over edges v -> x of P(p) gamma(x), and
  the expected uses of an edge's piece, summed over all words through it, are alpha(u) P(p) gamma(v);
- Viterbi (`best_edges`): best(v) = max over edges u -> v of best(u) + score(p), the best
  segmentation of every word at once (ties go to the piece that starts earliest, as in
  `lattice.viterbi`).

>>> tree = PrefixLattice(["ab", "abc"], {"a": 0, "b": 1, "c": 2, "ab": 3})
>>> tree.node
{'': 0, 'a': 1, 'ab': 2, 'abc': 3}
>>> tree.edges[2]  # "ab" is "" + ab or "a" + b
[(0, 3), (1, 1)]
>>> best, back = tree.best_edges([-1.0, -1.0, -1.0, -1.5])
>>> tree.frequency_uses([(2, 5), (3, 1)], back, 4)  # ab 5 times, abc once: ab|c
[0.0, 0.0, 1.0, 6.0]
>>> tree.alternative(best, back, [-1.0, -1.0, -1.0, -1.5], 2)  # ab without the piece ab: a|b
(-2.0, [0, 1])
"""

from __future__ import annotations

import math
from typing import Iterable

Edge = tuple[int, int]  # (node the piece starts from, piece id)
CUT_AT = 0.25  # `keep` removes dead pieces' edges once this share of the pieces is dead


class PrefixLattice:
    """Every prefix of `texts` as a node (node 0 is the empty one), each with its in-edges: the
    pieces of `pieces` (text -> id) that end it, longest first."""

    def __init__(self, texts: Iterable[str], pieces: dict[str, int]) -> None:
        longest = max(map(len, pieces), default=0)
        self.node = {"": 0}  # prefix -> node, numbered as met: a node comes after its own prefixes
        self.edges: list[list[Edge]] = [[]]
        for text in texts:
            path = [0]  # the nodes of text[:0], text[:1], ...
            for end in range(1, len(text) + 1):
                prefix = text[:end]
                v = self.node.get(prefix)
                if v is None:
                    v = self.node[prefix] = len(self.edges)
                    self.edges.append(in_edges(prefix, path, pieces, longest))
                path.append(v)
        self.living = len(pieces)  # the pieces whose edges the tree holds

    def keep(self, alive: list[bool]) -> None:
        """Drop the edges of the pieces whose ``alive[piece]`` is false, once they are `CUT_AT`
        of those kept at the last cut: a few dead edges cost less to carry than to remove."""
        living = sum(alive)
        if living > (1 - CUT_AT) * self.living:
            return
        self.edges = [[edge for edge in edges if alive[edge[1]]] for edges in self.edges]
        self.living = living

    def forward(self, probabilities: list[float]) -> list[float]:
        """alpha(v) = P(v's text), summed over its segmentations."""
        alpha = [1.0] * len(self.edges)
        for v in range(1, len(self.edges)):  # an edge starts at a prefix, numbered before
            total = 0.0
            for u, piece in self.edges[v]:
                total += alpha[u] * probabilities[piece]
            alpha[v] = total
        return alpha

    def expected_counts(self, words: list[tuple[int, float]], probabilities: list[float],
                        counts: list[float]) -> list[float]:
        """Add to ``counts[piece]`` its expected uses in the `words` (``(node, frequency)``),
        each weighted by its frequency; return alpha (``alpha[node]`` is P(word))."""
        alpha = self.forward(probabilities)
        gamma = [0.0] * len(self.edges)
        for v, frequency in words:
            gamma[v] += frequency / alpha[v]
        # Last first: gamma[v] is complete when read, as v's out-edges go to its extensions, numbered after.
        for edges, outside in zip(reversed(self.edges), reversed(gamma)):
            for u, piece in edges:
                weight = probabilities[piece] * outside
                gamma[u] += weight
                counts[piece] += alpha[u] * weight
        return alpha

    def best_edges(self, scores: list[float]) -> tuple[list[float], list[Edge | None]]:
        """best(v), the score of v's best segmentation, and its last edge (None for the root)."""
        best, back = [0.0] * len(self.edges), [None] * len(self.edges)
        for v in range(1, len(self.edges)):
            best[v], back[v] = best_edge(self.edges[v], best, scores)
        return best, back

    def frequency_uses(self, words: list[tuple[int, float]], back: list[Edge | None], size: int) -> list[float]:
        """How often each of `size` pieces is used in the best segmentations of the `words`
        (``(node, frequency)``), times their frequencies; `back` comes from `best_edges`."""
        through = [0.0] * len(self.edges)  # frequency of the words whose best segmentation passes v
        for v, frequency in words:
            through[v] += frequency
        uses = [0.0] * size
        for v in range(len(self.edges) - 1, 0, -1):
            if through[v]:
                u, piece = back[v]
                uses[piece] += through[v]
                through[u] += through[v]
        return uses

    def path(self, back: list[Edge | None], v: int) -> list[int]:
        """The pieces of v's best segmentation, first to last, from `best_edges`' back edges."""
        pieces = []
        while v:
            v, piece = back[v]
            pieces.append(piece)
        return pieces[::-1]

    def alternative(self, best: list[float], back: list[Edge | None], scores: list[float],
                    v: int) -> tuple[float, list[int]]:
        """The best segmentation of v's text (a piece) that does not use the piece itself, and
        its score, from `best_edges`: the piece is v's first edge, the one from the root."""
        top, (u, piece) = best_edge(self.edges[v][1:], best, scores)
        return top, self.path(back, u) + [piece]


def in_edges(text: str, path: list[int], pieces: dict[str, int], longest: int) -> list[Edge]:
    """The pieces that end `text`, as ``(node of what comes before, piece)``, longest first;
    ``path[k]`` is the node of ``text[:k]``."""
    return [(path[start], piece) for start in range(max(0, len(text) - longest), len(text))
            if (piece := pieces.get(text[start:])) is not None]


def best_edge(edges: list[Edge], best: list[float], scores: list[float]) -> tuple[float, Edge | None]:
    """The edge that ends the best path, and its score; ties go to the first, the earliest start."""
    top, argmax = -math.inf, None
    for edge in edges:
        total = best[edge[0]] + scores[edge[1]]
        if argmax is None or total > top:
            top, argmax = total, edge
    return top, argmax
