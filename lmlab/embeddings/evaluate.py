"""Intrinsic evaluation of word vectors: analogy accuracy and WordSim-353 correlation.

**Analogies** (Mikolov et al. 2013, the ``questions-words.txt`` set released with word2vec):
19,544 questions "a b c d" in 14 sections, each beginning with a line ``: name``. The five
first sections (capitals, currencies, cities, family) are *semantic*; the ``gram*`` sections are
*syntactic*. A question is answered correctly when the best word for "a is to b as c is to ?"
(a, b, c excluded; 3CosAdd or 3CosMul, `WordVectors.answer_analogies`) is d. As in word2vec's
``compute-accuracy`` and gensim's ``evaluate_word_analogies``, candidates and questions are
restricted to the ``restrict_vocab`` most frequent words (300,000 by default) and words are
compared lower-cased. A question with a word outside that vocabulary is not *covered*; we report
coverage = covered / all questions and accuracy = correct / covered, per section and for the
semantic, syntactic and total groups.

**Word similarity** (Finkelstein et al. 2002, WordSim-353): 353 word pairs with human scores in
0..10. The score of the vectors is the Spearman rank correlation between the humans' scores and
the cosines of the pairs whose two words are both known (coverage = such pairs / all pairs).
Spearman's rho is Pearson's correlation of the *ranks*, ties sharing their average rank::

    >>> round(spearman([1, 2, 3, 4], [10, 20, 40, 30]), 3)
    0.8
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from lmlab.embeddings.vectors import WordVectors
from lmlab.errors import UserError
from lmlab.io import read_text

DEFAULT_RESTRICT_VOCAB = 300_000


# --- Spearman's rank correlation ----------------------------------------------------------
def average_ranks(values) -> np.ndarray:
    """Ranks 1..n, tied values sharing the mean of the ranks they span: [10, 20, 20, 5] -> [2, 3.5, 3.5, 1]."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=np.float64)
    sorted_values = values[order]
    start = 0
    while start < len(values):  # one step per run of equal values
        end = start
        while end + 1 < len(values) and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        ranks[order[start:end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def pearson(x, y) -> float:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    dx, dy = x - x.mean(), y - y.mean()
    denominator = np.sqrt((dx * dx).sum() * (dy * dy).sum())
    return float((dx * dy).sum() / denominator) if denominator > 0 else 0.0  # a constant list correlates with nothing


def spearman(x, y) -> float:
    """Spearman's rho: Pearson's correlation of the average ranks."""
    if len(x) != len(y):
        raise ValueError(f"{len(x)} vs {len(y)} values")
    return pearson(average_ranks(x), average_ranks(y))


# --- reading the test sets ----------------------------------------------------------------
@dataclass
class AnalogySection:
    name: str
    questions: list[tuple[str, str, str, str]]

    @property
    def semantic(self) -> bool:
        return not self.name.startswith("gram")


def read_analogies(path: str | Path) -> list[AnalogySection]:
    """The sections of a ``questions-words.txt`` file: ``: name`` lines, then ``a b c d`` lines."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"analogy file not found: {path} (questions-words.txt; pass it with --analogies)")
    sections: list[AnalogySection] = []
    for number, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith(":"):
            sections.append(AnalogySection(line[1:].strip(), []))
            continue
        words = line.split()
        if len(words) != 4 or not sections:
            raise UserError(f"{path}:{number}: expected '{': section'}' or four words, got {line.strip()[:60]!r}")
        sections[-1].questions.append(tuple(w.lower() for w in words))
    if not sections:
        raise UserError(f"{path}: no ': section' lines; is this a questions-words.txt analogy file?")
    return sections


def read_wordsim(path: str | Path) -> list[tuple[str, str, float]]:
    """``w1<TAB>w2<TAB>score`` lines (lines starting with # are comments)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"word-similarity file not found: {path} (wordsim353.tsv; pass it with --wordsim)")
    pairs = []
    for number, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        try:
            pairs.append((parts[0].lower(), parts[1].lower(), float(parts[2])))
        except (IndexError, ValueError):
            raise UserError(f"{path}:{number}: expected w1<TAB>w2<TAB>score, got {line.strip()[:60]!r}") from None
    return pairs


# --- the evaluations ----------------------------------------------------------------------
def _group(correct: int, covered: int, total: int) -> dict:
    return {"correct": correct, "covered": covered, "total": total,
            "coverage": covered / total if total else 0.0,
            "accuracy": correct / covered if covered else 0.0}


def evaluate_analogies(vectors: WordVectors, path: str | Path, method: str = "add",
                       restrict_vocab: Optional[int] = DEFAULT_RESTRICT_VOCAB, batch: int = 512) -> dict:
    """Accuracy and coverage per section and for semantic / syntactic / all questions.

    ``vectors`` rows are expected most frequent first (as lmlab and word2vec save them), so the
    top ``restrict_vocab`` words are its first rows.
    """
    limit = min(len(vectors), restrict_vocab or len(vectors))
    known = {word.lower(): i for i, word in reversed(list(enumerate(vectors.words[:limit])))}  # first wins
    sections, groups = {}, {"semantic": [0, 0, 0], "syntactic": [0, 0, 0], "total": [0, 0, 0]}
    for section in read_analogies(path):
        rows = [[known[w] for w in q] for q in section.questions if all(w in known for w in q)]
        correct = 0
        for start in range(0, len(rows), batch):
            block = torch.tensor(rows[start:start + batch], dtype=torch.long)  # (Q, 4)
            answers = vectors.answer_analogies(block[:, 0], block[:, 1], block[:, 2], method, restrict=limit)
            correct += int((answers == block[:, 3]).sum())
        sections[section.name] = _group(correct, len(rows), len(section.questions))
        for name in ("semantic" if section.semantic else "syntactic", "total"):
            for k, value in enumerate((correct, len(rows), len(section.questions))):
                groups[name][k] += value
    return {"method": method, "restrict_vocab": limit, "sections": sections,
            **{name: _group(*counts) for name, counts in groups.items()}}


def evaluate_similarity(vectors: WordVectors, path: str | Path) -> dict:
    """Spearman's rho between human scores and cosines, over the pairs whose words are known."""
    pairs = read_wordsim(path)
    lowered = {}
    for i, word in enumerate(vectors.words):
        lowered.setdefault(word.lower(), i)
    human, model = [], []
    for a, b, score in pairs:
        if a in lowered and b in lowered:
            human.append(score)
            model.append(float(vectors.normed[lowered[a]] @ vectors.normed[lowered[b]]))
    rho = spearman(human, model) if len(human) >= 2 else None  # None: too few known pairs
    return {"spearman": rho, "covered": len(human), "total": len(pairs),
            "coverage": len(human) / len(pairs) if pairs else 0.0}
