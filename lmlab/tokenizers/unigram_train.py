"""Training a Unigram tokenizer: SentencePiece's seed, EM and prune loop.

1. **Seed**: every substring of the training words (up to 16 characters) that occurs at least
   twice, the ``seed_size`` most useful ones (frequency x length), and every character; scores
   start as log relative frequencies.
2. **EM**: the E-step computes, for every piece, its expected count over all segmentations of
   all words (forward-backward, on one prefix tree of all the words' lattices: `unigram_trie`);
   the M-step makes the scores the new log-probabilities. SentencePiece's variant is used: drop
   pieces expected less than 0.5 times and score with the digamma function, digamma(count) -
   digamma(total), which pushes rare pieces further down (a Bayesian prior, not count / total).
3. **Prune**: for each piece, how much the corpus log-likelihood would fall if it were removed
   and its uses re-segmented with the best alternative; keep the pieces whose loss is largest,
   75% of them per round. Characters are always kept, so every word stays segmentable.
4. Repeat 2-3 until at most 1.1 x the target size is left; keep the best-scoring pieces.

Training words are the text as the tokenizer sees it (``▁`` for spaces) cut before each ``▁``,
around whitespace, and between letters, digits and other symbols (SentencePiece splits by
Unicode script and number). So a piece never holds whitespace, nor ``▁`` but as its first
character, nor letters and punctuation together:

>>> training_words("▁To▁be,\\n▁or▁2B")
['▁To', '▁be', ',', '\\n', '▁or', '▁2', 'B']
>>> [len(word) for word in training_words("▁" + "ha" * 20)]  # cut at MAX_WORD_LENGTH characters
[32, 9]
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Iterable

import regex

from lmlab.tokenizers.base import garbage_collector_paused, progress_bar
from lmlab.tokenizers.sentencepiece_normalizer import SPACE
from lmlab.tokenizers.unigram_trie import PrefixLattice

MAX_WORD_LENGTH = 32  # longer runs (rare: CJK, "hahaha...") are cut, so probabilities cannot underflow


def _runs(longest: int) -> str:
    """A run of letters (with their marks), of digits or of other symbols, 1 to `longest` long."""
    return "|".join(f"{kind}{{1,{longest}}}" for kind in (r"[\p{L}\p{M}]", r"\p{N}", r"[^\s\p{L}\p{M}\p{N}\u2581]"))


# "▁" and a run, a run, a lone "▁", a whitespace character: at most MAX_WORD_LENGTH characters
TRAINING_WORD = regex.compile(rf"\u2581(?:{_runs(MAX_WORD_LENGTH - 1)})|{_runs(MAX_WORD_LENGTH)}|\u2581|\s")

SHRINKING_FACTOR = 0.75
EM_STEPS_PER_ROUND = 2
MIN_EXPECTED_COUNT = 0.5


def training_words(escaped: str) -> list[str]:
    return TRAINING_WORD.findall(escaped)


def count_training_words(escaped_texts: Iterable[str]) -> dict[str, int]:
    """The `training_words` of all texts, counted. No word crosses a ``▁``, so the stretches
    between them are counted first and each distinct one split once (the regular expression is
    the slow part); a stretch of ASCII letters is one word and needs no splitting at all."""
    heads = []  # the text before each text's first "▁" (empty with a dummy prefix)
    stretches = []  # what follows each "▁", up to the next
    for escaped in escaped_texts:
        head, space, rest = escaped.partition(SPACE)
        heads.append(head)
        if space:
            stretches += rest.split(SPACE)
    words: dict[str, int] = {}
    for stretch, count in Counter(stretches).items():
        if stretch.isascii() and stretch.isalpha() and len(stretch) < MAX_WORD_LENGTH:
            words[SPACE + stretch] = words.get(SPACE + stretch, 0) + count
        else:
            for word in training_words(SPACE + stretch):
                words[word] = words.get(word, 0) + count
    for head, count in Counter(filter(None, heads)).items():
        for word in training_words(head):
            words[word] = words.get(word, 0) + count
    return words


@garbage_collector_paused()
def train_pieces(words: dict[str, int], size: int, max_piece_length: int, seed_size: int,
                 progress: bool) -> list[tuple[str, float]]:
    """`size` ``(piece, score)`` pairs learned from `words` (word -> frequency), best first.

    Pieces are numbered by their place in the seed; a piece that is dropped gets the score
    -inf, and the prefix tree of the words' lattices (`unigram_trie`), built once from the
    seed, loses its edges.
    """
    characters: Counter[str] = Counter()
    for word, frequency in words.items():
        for char in word:
            characters[char] += frequency
    vocab, scores = seed_pieces(words, characters, max_piece_length, seed_size)
    tree = PrefixLattice(words, {piece: i for i, piece in enumerate(vocab)})
    word_nodes = [(tree.node[word], frequency) for word, frequency in words.items()]
    desired = max(int(size * 1.1), len(characters))  # characters are never pruned
    rounds = max(1, math.ceil(math.log(max(len(vocab), desired) / desired) / -math.log(SHRINKING_FACTOR)) + 1)
    with progress_bar(rounds, "Unigram EM rounds", progress) as bar:
        while True:
            for _ in range(EM_STEPS_PER_ROUND):
                counts, alpha = expectation(tree, word_nodes, scores)
                scores = maximization(counts, len(characters))
                tree.keep([score > -math.inf for score in scores])
            alive = sum(score > -math.inf for score in scores)
            bar.set_postfix(pieces=alive, log_likelihood=f"{mean_log_likelihood(alpha, word_nodes):.4g}")
            bar.update()
            if alive <= desired:
                break
            scores = prune(vocab, scores, tree, word_nodes, characters, max(desired, int(alive * SHRINKING_FACTOR)))
            tree.keep([score > -math.inf for score in scores])
    return finalize(vocab, scores, characters, size)


def seed_pieces(words: dict[str, int], characters: Counter, max_length: int,
                seed_size: int) -> tuple[list[str], list[float]]:
    """Every character, and the `seed_size` repeated substrings with the largest frequency x
    length; scores are log relative frequencies.

    Like SentencePiece (whose suffix array lists the branching nodes of a suffix tree), only
    substrings that are not always followed by the same character are seeded: if "Rome" always
    comes as "Romeo", "Romeo" is the candidate.
    """
    counts, extended = substring_counts(words, max_length)
    frequent = [s for s, count in counts.items() if count > 1 and count > extended.get(s, 0)]
    frequent.sort()  # ties in frequency x length go in alphabetical order (the sort is stable)
    frequent.sort(key=lambda s: -counts[s] * len(s))
    vocab = sorted(characters) + frequent[:seed_size]
    counts.update(characters)  # the substrings counted have two characters or more
    log_total = math.log(sum(counts[s] for s in vocab))
    return vocab, [math.log(counts[s]) - log_total for s in vocab]


def substring_counts(words: dict[str, int], max_length: int) -> tuple[dict[str, int], dict[str, int]]:
    """How often each substring of 2 to `max_length` characters occurs in `words` (times their
    frequency), and how often its most frequent one-character extension does.

    Each occurrence of a substring begins one of the longest substrings that start at a
    position: count those, then add each substring's count to its prefix one character shorter,
    longest first (a walk up the tree of substrings), so each distinct substring is met once.
    """
    counts: dict[str, int] = {}
    for word, frequency in words.items():
        for start in range(len(word) - 1):
            longest = word[start:start + max_length]
            counts[longest] = counts.get(longest, 0) + frequency
    by_length: list[list[str]] = [[] for _ in range(max_length + 1)]
    for substring in counts:
        by_length[len(substring)].append(substring)
    extended: dict[str, int] = {}  # substring -> count of its most frequent one-character extension
    for length in range(max_length, 2, -1):
        shorter = by_length[length - 1]
        for substring in by_length[length]:
            prefix, count = substring[:-1], counts[substring]
            before = counts.get(prefix)
            if before is None:
                counts[prefix] = extended[prefix] = count
                shorter.append(prefix)
            else:
                counts[prefix] = before + count
                if count > extended.get(prefix, 0):
                    extended[prefix] = count
    return counts, extended


def expectation(tree: PrefixLattice, word_nodes: list, scores: list[float]) -> tuple[list[float], list[float]]:
    """E-step: the expected uses of every piece, and the tree's alpha (P of each word)."""
    probabilities = [math.exp(score) for score in scores]
    counts = [0.0] * len(scores)
    alpha = tree.expected_counts(word_nodes, probabilities, counts)
    return counts, alpha


def mean_log_likelihood(alpha: list[float], word_nodes: list) -> float:
    """The log-likelihood per word, from `expectation`'s alpha."""
    return (sum(frequency * math.log(alpha[v]) for v, frequency in word_nodes)
            / sum(frequency for _, frequency in word_nodes))


def maximization(counts: list[float], characters: int) -> list[float]:
    """M-step: keep pieces expected at least 0.5 times (and all characters, the first
    `characters` pieces); digamma scores."""
    kept = [max(count, MIN_EXPECTED_COUNT) if count >= MIN_EXPECTED_COUNT or i < characters else 0.0
            for i, count in enumerate(counts)]
    log_total = digamma(sum(kept))
    return [digamma(count) - log_total if count else -math.inf for count in kept]


def prune(vocab: list[str], scores: list[float], tree: PrefixLattice, word_nodes: list, characters: Counter,
          target: int) -> list[float]:
    """Keep the characters and, of the other pieces, those whose removal would cost the most
    log-likelihood, `target` pieces in all; the others get the score -inf."""
    best, back = tree.best_edges(scores)
    uses = tree.frequency_uses(word_nodes, back, len(vocab))  # frequency-weighted uses in the best segmentations
    alive = [i for i, score in enumerate(scores) if score > -math.inf]
    candidates = [i for i in alive if vocab[i] not in characters and uses[i]]
    alternatives = best_alternatives([vocab[i] for i in candidates], {vocab[i]: i for i in alive}, scores,
                                     (tree, best, back))
    total, words_total = sum(uses), sum(frequency for _, frequency in word_nodes)
    kept, losses = [i for i in alive if vocab[i] in characters], []
    for i, (score, alternative) in zip(candidates, alternatives):
        if score > scores[i]:  # the piece is not even the best way to write itself
            continue
        # Without the piece its uses go to the alternative's pieces: the total grows by uses * (len - 1).
        log_total_after = math.log(total + uses[i] * (len(alternative) - 1))
        log_p_alternative = sum(math.log(uses[p] + uses[i]) - log_total_after for p in alternative)
        loss = uses[i] / words_total * (math.log(uses[i]) - math.log(total) - log_p_alternative)
        losses.append((-loss, vocab[i], i))
    losses.sort()
    kept_set = set(kept + [i for _, _, i in losses[:max(0, target - len(kept))]])
    return [score if i in kept_set else -math.inf for i, score in enumerate(scores)]


def best_alternatives(texts: list[str], pieces: dict[str, int], scores: list[float],
                      words: tuple) -> list[tuple[float, list[int]]]:
    """For each of `texts` (pieces of `pieces`, none a single character), its best segmentation
    without the piece itself, and that segmentation's score. A text that begins a word is a node
    of the words' tree, whose Viterbi pass `words` (tree, best, back) is done; the others get a
    prefix tree of their own."""
    words_tree = words[0]
    own_tree = PrefixLattice([text for text in texts if text not in words_tree.node], pieces)
    own = (own_tree, *own_tree.best_edges(scores))
    found = []
    for text in texts:
        tree, best, back = words if text in words_tree.node else own
        found.append(tree.alternative(best, back, scores, tree.node[text]))
    return found


def finalize(vocab: list[str], scores: list[float], characters: Counter, size: int) -> list[tuple[str, float]]:
    """The characters (the most frequent, if there are too many), then the best-scoring pieces."""
    alive = [i for i, score in enumerate(scores) if score > -math.inf]
    index = {vocab[i]: i for i in alive}
    chosen = [index[c] for c in sorted(characters, key=lambda c: (-characters[c], c))[:size]]
    others = sorted((i for i in alive if vocab[i] not in characters), key=lambda i: (-scores[i], vocab[i]))
    chosen += others[:size - len(chosen)]
    return sorted(((vocab[i], scores[i]) for i in chosen), key=lambda piece: (-piece[1], piece[0]))


def digamma(x: float) -> float:
    """The derivative of log Gamma: shift x above 6 with psi(x) = psi(x + 1) - 1/x, then the
    asymptotic series ln x - 1/(2x) - 1/(12x^2) + 1/(120x^4) - 1/(252x^6)."""
    result = 0.0
    while x < 6:
        result -= 1 / x
        x += 1
    inverse_square = 1 / (x * x)
    return (result + math.log(x) - 0.5 / x
            - inverse_square * (1 / 12 - inverse_square * (1 / 120 - inverse_square / 252)))
