"""Counting adjacent pairs in a bag of words: the bookkeeping BPE and WordPiece training share.

Both trainers repeat one step: choose a pair of adjacent symbols and merge it into one new
symbol everywhere. Recounting every pair of the corpus after each merge (minbpe's way) costs
the whole corpus per merge. Here each *distinct* word is stored once with its frequency, and
`PairCounts` keeps how often each pair occurs and in which words; a merge rewrites only the
words that contain the pair and reports how each pair's count changed, so the trainer can
update its priority queue with those pairs alone.

>>> pairs = PairCounts([[1, 1, 1, 2], [1, 2]], counts=[10, 3])
>>> pairs.counts[(1, 1)], pairs.counts[(1, 2)]
(20, 13)
>>> pairs.merge((1, 2), 3)  # every "1 2" becomes "3": returns (changes, merges made)
({(1, 1): -10, (1, 2): -13, (1, 3): 10}, 13)
>>> pairs.words
[[1, 1, 3], [3]]
"""

from __future__ import annotations

from collections import defaultdict

Pair = tuple[int, int]


def merge_pair(ids: list[int], pair: Pair, new_id: int) -> list[int]:
    """Replace each occurrence of `pair`, left to right and without overlap, by `new_id`.

    >>> merge_pair([1, 2, 3, 1, 2], (1, 2), 9)
    [9, 3, 9]
    >>> merge_pair([5, 5, 5], (5, 5), 7)
    [7, 5]
    """
    first, second = pair
    merged, i, last = [], 0, len(ids) - 1
    while i <= last:
        if i < last and ids[i] == first and ids[i + 1] == second:
            merged.append(new_id)
            i += 2
        else:
            merged.append(ids[i])
            i += 1
    return merged


class PairCounts:
    """Distinct words as lists of symbol ids, each with a frequency, and their pair statistics.

    ``counts[pair]`` is the number of occurrences of `pair`, each word weighted by its
    frequency; ``where[pair]`` holds the indices of the words that contain it (a superset: a
    word that lost the pair stays listed until the pair is merged, and is skipped then).
    """

    def __init__(self, words: list[list[int]], counts: list[int]) -> None:
        self.words = [list(word) for word in words]
        self.frequency = list(counts)
        self.counts: dict[Pair, int] = defaultdict(int)
        self.where: dict[Pair, set[int]] = defaultdict(set)
        for index, word in enumerate(self.words):
            for pair in zip(word, word[1:]):
                self.counts[pair] += self.frequency[index]
                self.where[pair].add(index)

    def merge(self, pair: Pair, new_id: int) -> tuple[dict[Pair, int], int]:
        """Merge `pair` into `new_id` in every word that has it.

        Returns the net change of every pair count that changed (only pairs that contain
        `new_id` can grow) and how many merges were made (frequency-weighted).
        """
        changes: dict[Pair, int] = defaultdict(int)
        made = 0
        for index in self.where.pop(pair, ()):
            word, frequency = self.words[index], self.frequency[index]
            merged = merge_pair(word, pair, new_id)
            if len(merged) == len(word):  # a stale entry: this word no longer has the pair
                continue
            made += (len(word) - len(merged)) * frequency
            for old in zip(word, word[1:]):
                changes[old] -= frequency
            for new in zip(merged, merged[1:]):
                changes[new] += frequency
                if new_id in new:
                    self.where[new].add(index)
            self.words[index] = merged
        changes = {p: change for p, change in changes.items() if change}
        for p, change in changes.items():
            self.counts[p] += change
            if not self.counts[p]:
                del self.counts[p]
        return changes, made
