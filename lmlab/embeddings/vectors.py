"""Trained word vectors: similarity, nearest neighbours, analogies, saving and loading.

Word vectors are a list of words and a (N, D) matrix. Everything one asks of them is about
*directions*, so most methods work on the unit-length (L2-normalised) rows:

- cosine similarity cos(a, b) = a.b / (|a| |b|); the dot product a.b is also offered;
- ``most_similar(word, n)``: the n words of highest cosine with the word;
- analogies "a is to b as c is to ?" (Mikolov et al. 2013, "Linguistic Regularities in
  Continuous Space Word Representations"), with the two objectives of Levy & Goldberg 2014,
  "Linguistic Regularities in Sparse and Explicit Word Representations" (CoNLL)::

      3CosAdd:  argmax_x  cos(x, b) - cos(x, a) + cos(x, c)        (= cos(x, b - a + c) ranking)
      3CosMul:  argmax_x  cos'(x, b) * cos'(x, c) / (cos'(x, a) + eps),  cos' = (cos + 1) / 2

  with a, b and c themselves excluded from the answers, and eps = 0.001.

Files: in an lmlab run folder the vectors are ``vectors.safetensors`` (key ``vectors``) next to
``vocab.json`` (the words in row order, their counts, a format version). The plain word2vec text
format is also read and written: a header line ``N D``, then one line per word,
``word v1 ... vD``. `load_vectors` takes either.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from lmlab.errors import UserError
from lmlab.io import atomic_write, atomic_write_json, read_text
from lmlab.train.checkpoint import RunFolder

VECTORS_FORMAT_VERSION = 1
VECTORS_FILE = "vectors.safetensors"
VOCAB_FILE = "vocab.json"
MUL_EPSILON = 1e-3


class WordVectors:
    """Words and their vectors; row i of ``vectors`` belongs to ``words[i]``.

    >>> wv = WordVectors(["king", "queen", "apple"], torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]))
    >>> [word for word, _ in wv.most_similar("king", 1)]
    ['queen']
    """

    def __init__(self, words: list[str], vectors: torch.Tensor, counts: Optional[np.ndarray] = None) -> None:
        vectors = torch.as_tensor(vectors, dtype=torch.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise ValueError(f"{len(words)} words but vectors of shape {tuple(vectors.shape)}")
        self.words = list(words)
        self.vectors = vectors  # (N, D)
        self.counts = None if counts is None else np.asarray(counts, dtype=np.int64)
        self.index = {word: i for i, word in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise ValueError("the word list has duplicates")
        self._normed: Optional[torch.Tensor] = None

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    @property
    def normed(self) -> torch.Tensor:
        """(N, D) the rows scaled to unit length (a zero row stays zero)."""
        if self._normed is None:
            self._normed = self.vectors / self.vectors.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return self._normed

    def id(self, word: str) -> int:
        """The row of a word; an unknown word is a `UserError` naming it."""
        if word not in self.index:
            raise UserError(f"word {word!r} is not in the vocabulary ({len(self)} words): try another word "
                            f"or lower min_count")
        return self.index[word]

    def vector(self, word: str) -> torch.Tensor:
        return self.vectors[self.id(word)]

    # --- similarity -----------------------------------------------------------------------
    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two words, in [-1, 1]."""
        return float(self.normed[self.id(a)] @ self.normed[self.id(b)])

    def dot(self, a: str, b: str) -> float:
        """The raw dot product (grows with vector length, which grows with frequency)."""
        return float(self.vectors[self.id(a)] @ self.vectors[self.id(b)])

    def _top(self, scores: torch.Tensor, n: int, exclude: list[int]) -> list[tuple[str, float]]:
        scores = scores.clone()
        scores[exclude] = -torch.inf
        values, rows = torch.topk(scores, min(n, len(scores) - len(set(exclude))))
        return [(self.words[i], float(v)) for v, i in zip(values.tolist(), rows.tolist())]

    def most_similar(self, word: str, n: int = 10, restrict: Optional[int] = None) -> list[tuple[str, float]]:
        """The n nearest words by cosine (the word itself excluded), as (word, cosine) pairs."""
        i = self.id(word)
        table = self.normed[:restrict] if restrict else self.normed
        return self._top(table @ self.normed[i], n, [i] if i < len(table) else [])

    # --- analogies ------------------------------------------------------------------------
    def analogy_scores(self, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, method: str = "add",
                       restrict: Optional[int] = None) -> torch.Tensor:
        """(Q, N') scores of every candidate x for Q questions given as row ids (Q,) each.

        Candidates are the first ``restrict`` rows (the most frequent words when the rows are
        sorted by count); a, b and c are *not* excluded here (see `answer_analogies`).
        """
        table = self.normed[:restrict] if restrict else self.normed  # (N', D)
        cos_a, cos_b, cos_c = (self.normed[q] @ table.T for q in (a, b, c))  # (Q, N') each
        if method == "add":
            return cos_b - cos_a + cos_c
        if method == "mul":
            shift = lambda cos: (cos + 1) / 2  # noqa: E731  -- cosines moved into [0, 1]
            return shift(cos_b) * shift(cos_c) / (shift(cos_a) + MUL_EPSILON)
        raise UserError(f"analogy method must be add (3CosAdd) or mul (3CosMul), got {method!r}")

    def answer_analogies(self, a, b, c, method: str = "add", restrict: Optional[int] = None) -> torch.Tensor:
        """(Q,) the best row for each question "a : b :: c : ?", a, b and c excluded."""
        a, b, c = (torch.as_tensor(q, dtype=torch.long) for q in (a, b, c))
        scores = self.analogy_scores(a, b, c, method, restrict)
        rows = torch.arange(len(a))
        for q in (a, b, c):
            inside = q < scores.shape[1]
            scores[rows[inside], q[inside]] = -torch.inf
        return scores.argmax(dim=1)

    def analogy(self, a: str, b: str, c: str, n: int = 5, method: str = "add") -> list[tuple[str, float]]:
        """"a is to b as c is to ?": the n best answers and their scores.

        ``analogy("man", "king", "woman")`` should give "queen" for good vectors.
        """
        ids = [self.id(word) for word in (a, b, c)]
        scores = self.analogy_scores(*(torch.tensor([i]) for i in ids), method=method)[0]
        return self._top(scores, n, ids)

    # --- two dimensions, for maps -----------------------------------------------------------
    def pca_2d(self, words: list[str]) -> np.ndarray:
        """(n, 2) the words' vectors projected on their first two principal components."""
        rows = self.vectors[[self.id(w) for w in words]].double()
        centred = rows - rows.mean(0)
        _, _, vt = torch.linalg.svd(centred, full_matrices=False)
        return (centred @ vt[:2].T).numpy()

    # --- files ----------------------------------------------------------------------------
    def save(self, folder: str | Path) -> None:
        """Write ``vectors.safetensors`` and ``vocab.json`` into a folder, each atomically."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        vocab = {"format_version": VECTORS_FORMAT_VERSION, "words": self.words,
                 "counts": None if self.counts is None else self.counts.tolist()}
        atomic_write(folder / VECTORS_FILE, lambda tmp: save_file(
            {"vectors": self.vectors.contiguous()}, str(tmp), metadata={"format_version": str(VECTORS_FORMAT_VERSION)}))
        atomic_write_json(folder / VOCAB_FILE, vocab, ensure_ascii=False)

    @classmethod
    def load(cls, folder: str | Path) -> "WordVectors":
        """Read a folder written by `save` (an lmlab word2vec run folder)."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        folder = Path(folder)
        vectors_path, vocab_path = folder / VECTORS_FILE, folder / VOCAB_FILE
        for path in (vectors_path, vocab_path):
            if not path.is_file():
                raise UserError(f"{path} is missing: {folder} is not an lmlab word2vec run folder "
                                f"(train one with `lmlab word2vec train`)")
        try:
            vocab = json.loads(vocab_path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise UserError(f"{vocab_path}: corrupt vocabulary file ({error})") from None
        if not isinstance(vocab, dict) or vocab.get("format_version") != VECTORS_FORMAT_VERSION:
            raise UserError(f"{vocab_path}: not an lmlab vocabulary of format {VECTORS_FORMAT_VERSION}")
        try:
            vectors = load_file(str(vectors_path))["vectors"]
        except (SafetensorError, OSError, KeyError) as error:
            raise UserError(f"{vectors_path}: not a readable word-vector file ({error})") from None
        if vectors.ndim != 2 or vectors.shape[0] != len(vocab["words"]):
            raise UserError(f"{vectors_path}: {tuple(vectors.shape)} vectors do not match the "
                            f"{len(vocab['words'])} words of {vocab_path}")
        return cls(vocab["words"], vectors, vocab.get("counts"))

    def save_text(self, path: str | Path) -> None:
        """The word2vec text format: ``N D`` then ``word v1 ... vD`` per line (UTF-8)."""
        def write(tmp: Path) -> None:
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(f"{len(self)} {self.dim}\n")
                for word, row in zip(self.words, self.vectors.tolist()):
                    handle.write(word + " " + " ".join(f"{x:.6g}" for x in row) + "\n")

        atomic_write(Path(path), write)

    @classmethod
    def load_text(cls, path: str | Path) -> "WordVectors":
        """Read the word2vec text format, refusing a malformed file with its line number."""
        path = Path(path)
        lines = read_text(path).splitlines()
        header = lines[0].split() if lines else []
        if len(header) != 2 or not all(part.isdigit() for part in header):
            raise UserError(f"{path}:1: expected the word2vec header 'N D' (word count, dimension)")
        n, dim = map(int, header)
        body = [line for line in lines[1:] if line.strip()]
        if len(body) != n:
            raise UserError(f"{path}: the header says {n} words but the file has {len(body)} vector lines")
        words, rows = [], np.empty((n, dim), dtype=np.float32)
        for i, line in enumerate(body):
            parts = line.rstrip().split(" ")
            if len(parts) != dim + 1:
                raise UserError(f"{path}:{i + 2}: expected a word and {dim} numbers, got {len(parts) - 1} numbers")
            try:
                rows[i] = np.array(parts[1:], dtype=np.float32)
            except ValueError:
                raise UserError(f"{path}:{i + 2}: not a number among the values of {parts[0]!r}") from None
            words.append(parts[0])
        return cls(words, torch.from_numpy(rows))


def load_vectors(path: str | Path, command: str = "this command") -> WordVectors:
    """Word vectors from an lmlab word2vec run folder (another kind of run is refused by name), a
    folder `WordVectors.save` wrote, or a word2vec text file (``N D`` header)."""
    path = Path(path)
    if path.is_dir():
        if RunFolder(path).is_run():
            RunFolder(path).read_config(expect="word2vec", command=command)
        return WordVectors.load(path)
    if path.is_file():
        return WordVectors.load_text(path)
    raise UserError(f"word vectors not found: {path} is neither a word2vec run folder nor a text file")
