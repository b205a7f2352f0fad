"""word2vec: CBOW and skip-gram with negative sampling, trained in large batches with PyTorch.

Mikolov, Chen, Corrado, Dean 2013, "Efficient Estimation of Word Representations in Vector
Space", and Mikolov, Sutskever, Chen, Corrado, Dean 2013, "Distributed Representations of Words
and Phrases and their Compositionality". Two matrices of V x D numbers are learned: ``input``
(the word vectors one keeps, word2vec.c's syn0) and ``output`` (syn1neg, the vectors of words as
prediction *targets*). Every example is one input vector ``h`` and one true target word ``t``:

- **skip-gram**: for a centre word and each word of its window, h = input[centre], t = context
  word: "predict the neighbours from the word".
- **CBOW** (continuous bag of words): for a centre word, h = the mean (``cbow_mean``) or sum of
  input[context words], t = the centre word: "predict the word from its neighbours".

**Negative sampling** replaces the softmax over V words by K + 1 logistic regressions: the true
target should score high, K noise words drawn from unigram^0.75 (`Vocabulary.noise_table`)
should score low. With s_k = output[w_k] . h, label 1 for the target and 0 for the noise words,
one SGD step at learning rate alpha is::

    g_k = alpha * (label_k - sigmoid(s_k))        (B, K+1)
    output[w_k] += g_k * h                         the K+1 target vectors
    input[each word of h] += sum_k g_k * output[w_k]

**Hierarchical softmax** (``hs=True``, optional, alone with ``negative=0`` or added to it) walks
a Huffman tree of the words instead (`lmlab.embeddings.huffman`): one logistic regression per
inner node on the target's path, label 1 - code bit, the same update with ``tree`` in place of
``output``.

As in word2vec.c, with ``cbow_mean`` the same error vector is added to every context word
without dividing by their number (it keeps word2vec's tuned learning rates meaningful).

**Dynamic windows**: for each centre word the window actually used is b ~ Uniform{1..W}, so
near neighbours are used more often than far ones. **Subsampling** drops frequent words before
windows are formed (`Vocabulary.keep_probabilities`), which widens the effective window. The
learning rate falls linearly from ``alpha`` to ``min_alpha`` over all the words of all epochs.

**Batching.** word2vec.c updates after every single example (lock-free, one thread per core).
Here a *chunk* of sentences (``chunk_words`` words) becomes arrays of examples with numpy
(`lmlab.embeddings.word2vec_examples`), without a Python loop per word, and its K noise words per
example are drawn at once; the examples are then applied ``batch_size`` at a time: gather the
rows, batched matrix products, scatter the updates back with ``index_add_`` (several updates of
the same row in one batch add up). With ``workers`` > 1 each worker thread takes whole chunks,
as in word2vec.c and gensim, so making examples overlaps with training. Sentences are read one
at a time from any iterable, so the corpus never has to fit in memory as tensors.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Annotated, Callable, Iterable, Iterator, Literal, Optional

import numpy as np
import torch
import torch.nn.functional as F

from lmlab.config import AT_LEAST_ONE, Config, NON_NEGATIVE, POSITIVE, SEED
from lmlab.embeddings.huffman import padded_paths
from lmlab.embeddings.vocab import Vocabulary
from lmlab.embeddings.word2vec_examples import (cbow_examples, chunk_to_ids, context_matrix, skipgram_examples,
                                                subsample, window_offsets)
from lmlab.errors import UserError

LOSS_EVERY = 8  # measure the (reported) loss on one batch in 8: it costs as much as a tenth of a step


@dataclass
class Word2VecConfig(Config):
    """Hyperparameters of word2vec (the defaults are gensim's and word2vec.c's, except ``arch``)."""

    arch: Literal["skipgram", "cbow"] = "skipgram"  # predict context from centre, or centre from context
    dim: Annotated[int, AT_LEAST_ONE] = 100  # D, the size of a word vector
    window: Annotated[int, AT_LEAST_ONE] = 5  # W, the largest distance to a context word; b ~ Uniform{1..W}
    # per centre word
    negative: Annotated[int, NON_NEGATIVE] = 5  # K, noise words per example; 0 turns negative sampling off
    # (then set hs)
    hs: bool = False  # hierarchical softmax over a Huffman tree of the words (lmlab.embeddings.huffman)
    ns_exponent: Annotated[float, NON_NEGATIVE] = 0.75  # the noise distribution is unigram^ns_exponent
    min_count: Annotated[int, AT_LEAST_ONE] = 5  # words seen fewer times are dropped from the vocabulary
    max_vocab: Optional[Annotated[int, AT_LEAST_ONE]] = None  # keep at most this many words (the most frequent)
    sample: Annotated[float, NON_NEGATIVE] = 1e-3  # subsampling threshold s; 0 keeps every occurrence
    alpha: Annotated[float, POSITIVE] = 0.025  # learning rate at the start...
    min_alpha: Annotated[float, NON_NEGATIVE] = 0.0001  # ...falling linearly to this at the end of the last epoch
    epochs: Annotated[int, AT_LEAST_ONE] = 5  # passes over the corpus
    cbow_mean: bool = True  # CBOW: h is the mean of the context vectors (else their sum)
    batch_size: Optional[Annotated[int, AT_LEAST_ONE]] = None  # examples per update; None: 512 on a CPU
    # (cache-sized), 16384 on a GPU;
    # never more than 4 x the vocabulary size (see Word2Vec.__init__)
    chunk_words: Annotated[int, AT_LEAST_ONE] = 100_000  # words of text turned into examples at once
    workers: Annotated[int, AT_LEAST_ONE] = 1  # CPU threads, each making and applying the examples of whole
    # chunks, lock-free (Hogwild, like word2vec.c)
    lowercase: bool = True  # lower-case the text before splitting it into words
    seed: Annotated[int, SEED] = 1

    def check_relations(self) -> None:
        if self.negative == 0 and not self.hs:
            raise UserError(f"need negative >= 1, or negative = 0 with hs = true, got negative={self.negative}, "
                            f"hs={self.hs}")
        if self.min_alpha > self.alpha:
            raise UserError(f"need 0 <= min_alpha <= alpha and alpha > 0, got alpha={self.alpha}, "
                            f"min_alpha={self.min_alpha}")


# --- the model ------------------------------------------------------------------------------
class Word2Vec:
    """The two V x D matrices and the SGD updates of negative sampling.

    >>> vocab = Vocabulary.build([["a", "b", "c"]] * 20, min_count=1)
    >>> model = Word2Vec(vocab, Word2VecConfig(dim=8, epochs=1, sample=0))
    >>> model.input.shape, model.output.shape
    (torch.Size([3, 8]), torch.Size([3, 8]))
    """

    def __init__(self, vocab: Vocabulary, config: Word2VecConfig, device: str | torch.device = "cpu") -> None:
        config.validate()
        if len(vocab) == 0:
            raise UserError(f"the vocabulary is empty: no word occurs min_count={config.min_count} times; "
                            f"lower it with --min-count or give more text")
        self.vocab, self.config, self.device = vocab, config, torch.device(device)
        generator = torch.Generator().manual_seed(config.seed)
        V, D = len(vocab), config.dim
        # gensim 4's initialisation: input uniform in [-1/D, 1/D), output zero. word2vec.c draws from
        # half that range; the wider start gave +0.3 to +0.5 points of analogy accuracy for CBOW on a
        # 1.85M-word corpus, paired over three seeds (docs/results/word2vec.md).
        self.input = ((torch.rand(V, D, generator=generator) * 2 - 1) / D).to(self.device)  # (V, D)
        self.output = torch.zeros(V, D, device=self.device)  # (V, D) negative sampling's target vectors
        if config.hs:
            if V < 2:
                raise UserError("hierarchical softmax needs at least two words in the vocabulary")
            codes, points, mask = (torch.from_numpy(a).to(self.device) for a in padded_paths(vocab.counts))
            self.codes, self.points, self.path_mask = codes, points, mask  # (V, L) each
            self.tree = torch.zeros(V - 1, D, device=self.device)  # (V-1, D) inner-node vectors (syn1)
        self.keep = vocab.keep_probabilities(config.sample)  # (V,) numpy
        self.noise = torch.from_numpy(vocab.noise_table(config.ns_exponent)).to(self.device)  # (table,)
        self.workers = config.workers if self.device.type == "cpu" else 1
        self.lock = threading.Lock()  # guards the counters below, shared by the worker threads
        self.words_done = 0  # in-vocabulary words read so far (before subsampling), all epochs
        self.steps = 0
        # Summed updates of one row within a batch act like that many SGD steps taken without
        # feedback; with a tiny vocabulary (every word many times per batch) that diverges, so a
        # batch holds at most 4 examples per vocabulary word.
        self.batch_size = min(config.batch_size or (16384 if self.device.type == "cuda" else 512), max(16, 4 * V))
        K = config.negative
        self.labels = torch.cat([torch.ones(self.batch_size, 1), torch.zeros(self.batch_size, K)], 1).to(self.device)

    # --- one update ---------------------------------------------------------------------
    def _negative_step(self, h: torch.Tensor, words: torch.Tensor, keep: torch.Tensor, alpha: float,
                       with_loss: bool = True):
        """Negative-sampling SGD for B examples; returns (grad for h (B, D), loss sum or None).

        ``words`` (B, K+1): each example's target, then its K noise words; ``keep`` (B, K+1): 0 for
        a noise word equal to the target (word2vec.c skips it), else 1 (see `_noise_words`).
        """
        (B, K1), D = words.shape, h.shape[1]
        out = self.output.index_select(0, words.view(-1)).view(B, K1, D)  # (B, K+1, D)
        # (B, K+1): s_k = output[w_k] . h, as B products (1 x D) @ (D x K+1): on a CPU 3x faster than (K+1 x D) @ (D x 1)
        scores = torch.bmm(h[:, None, :], out.transpose(1, 2)).view(B, K1)
        g = (self.labels[:B] - torch.sigmoid(scores)).mul_(keep).mul_(alpha)  # (B, K+1): alpha (label - sigmoid(s))
        grad_h = torch.bmm(g[:, None, :], out).view(B, D)  # (B, D), from the output vectors before update
        self.output.index_add_(0, words.view(-1), (g[:, :, None] * h[:, None, :]).view(-1, D))
        if not with_loss:
            return grad_h, None
        return grad_h, -(F.logsigmoid(scores[:, 0]).sum() + F.logsigmoid(-scores[:, 1:]).sum())

    def _noise_words(self, targets: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(words, keep) of `_negative_step` for all n examples of a chunk: K noise words each from unigram^0.75."""
        n, K = len(targets), self.config.negative
        slots = torch.randint(len(self.noise), (n, K), device=self.device, generator=generator)
        words = torch.cat([targets[:, None], self.noise[slots].long()], dim=1)  # (n, K+1)
        keep = (words != targets[:, None]).float()  # (n, K+1)
        keep[:, 0] = 1.0
        return words, keep

    def _tree_step(self, h: torch.Tensor, targets: torch.Tensor, alpha: float, with_loss: bool = True):
        """Hierarchical-softmax SGD: one logistic regression per inner node on each target's path."""
        B, D = h.shape
        targets = targets.contiguous()  # (B,)
        points = self.points.index_select(0, targets)  # (B, L) inner nodes, root first (padding: node 0, masked)
        codes, mask = self.codes.index_select(0, targets), self.path_mask.index_select(0, targets)  # (B, L) each
        L = points.shape[1]
        nodes = self.tree.index_select(0, points.view(-1)).view(B, L, D)  # (B, L, D)
        scores = torch.bmm(h[:, None, :], nodes.transpose(1, 2)).view(B, L)  # (B, L)
        g = (1.0 - codes - torch.sigmoid(scores)) * mask * alpha  # label = 1 - code bit (word2vec.c)
        grad_h = torch.bmm(g[:, None, :], nodes).view(B, D)  # (B, D)
        self.tree.index_add_(0, points.view(-1), (g[:, :, None] * h[:, None, :]).view(-1, D))
        if not with_loss:
            return grad_h, None
        return grad_h, -(F.logsigmoid((1.0 - 2.0 * codes) * scores) * mask).sum()

    def _objective_step(self, h, words, keep, alpha, with_loss):
        """Negative sampling, hierarchical softmax, or both (their errors add, as in word2vec.c)."""
        parts = []
        if self.config.hs:
            parts.append(self._tree_step(h, words[:, 0], alpha, with_loss))
        if self.config.negative > 0:
            parts.append(self._negative_step(h, words, keep, alpha, with_loss))
        grad_h = parts[0][0] if len(parts) == 1 else parts[0][0] + parts[1][0]
        return grad_h, (sum(loss for _, loss in parts) if with_loss else None)

    def _skipgram_step(self, inputs: torch.Tensor, words: torch.Tensor, keep: Optional[torch.Tensor], alpha: float,
                       with_loss: bool = True):
        """One update from B (centre word, context word) pairs; ``words[:, 0]`` are the context words."""
        h = self.input.index_select(0, inputs)  # (B, D)
        grad_h, loss = self._objective_step(h, words, keep, alpha, with_loss)
        self.input.index_add_(0, inputs, grad_h)
        return loss

    def _cbow_step(self, context_ids: torch.Tensor, offsets: torch.Tensor, owner: torch.Tensor,
                   scale: Optional[torch.Tensor], words: torch.Tensor, keep: Optional[torch.Tensor], alpha: float,
                   with_loss: bool = True):
        """One update from B bags of context words, ``words[:, 0]`` their centre words.

        ``offsets`` (B,): start of each bag in ``context_ids``; ``owner``: the bag of each context
        word; ``scale`` (B, 1): 1 / bag size for ``cbow_mean`` (a sum, then this product: 2.5x faster
        than embedding_bag's own mean), None for the sum.
        """
        h = F.embedding_bag(context_ids, self.input, offsets, mode="sum")  # (B, D)
        if scale is not None:
            h *= scale
        grad_h, loss = self._objective_step(h, words, keep, alpha, with_loss)
        self.input.index_add_(0, context_ids, grad_h.index_select(0, owner))  # every context word gets the error
        return loss

    # --- training -----------------------------------------------------------------------
    def learning_rate(self, max_steps: Optional[int] = None, words_done: Optional[int] = None,
                      steps: Optional[int] = None) -> float:
        """alpha falling linearly to min_alpha over all words of all epochs (or over max_steps)."""
        c = self.config
        words_done = self.words_done if words_done is None else words_done
        steps = self.steps if steps is None else steps
        progress = words_done / max(1, c.epochs * self.vocab.total)
        if max_steps:
            progress = max(progress, steps / max_steps)
        return max(c.min_alpha, c.alpha - (c.alpha - c.min_alpha) * min(1.0, progress))

    def train(self, sentences: Iterable[list[str]] | Callable[[], Iterable[list[str]]],
              max_steps: Optional[int] = None, progress: Optional[Callable[[int], None]] = None) -> dict:
        """Train for ``config.epochs`` passes (or ``max_steps`` updates) and return statistics.

        ``sentences`` is re-iterable (a list, or an object whose ``__iter__`` restarts the
        stream) or a function returning a fresh iterator for each epoch. ``progress(words)`` is
        called after each chunk with the number of words just read. A KeyboardInterrupt leaves
        the matrices usable: callers save what is trained so far.

        On a CPU, PyTorch's intra-op threads are set to 1 while training: batches of a few hundred
        examples gain little from them and lose a lot when the cores are busy. Parallelism comes
        from ``config.workers`` threads instead, as in word2vec.c and gensim: each takes whole
        chunks, makes their examples and applies them to the shared matrices without locks
        (Hogwild); numpy and PyTorch release the GIL inside their operations. This thread only
        reads the text and looks the words up, up to two chunks per worker ahead.
        """
        started, totals = time.perf_counter(), {"examples": 0, "loss": 0.0, "measured": 0}
        intra_op = torch.get_num_threads()
        if self.device.type == "cpu":
            torch.set_num_threads(1)
        pool = ThreadPoolExecutor(self.workers) if self.workers > 1 else None
        pending: deque = deque()  # futures of the chunks being trained, oldest first
        words_queued = self.words_done
        try:
            for index, chunk in enumerate(self._chunks(sentences)):
                if max_steps and self.steps >= max_steps:
                    break
                ids, sentence_ids, read = chunk_to_ids(chunk, self.vocab)
                job = (index, ids, sentence_ids, read, words_queued, max_steps)
                words_queued += read
                if pool is None:
                    self._count(totals, self._train_chunk(*job), progress)
                    continue
                pending.append(pool.submit(self._train_chunk, *job))
                if len(pending) >= 2 * self.workers:
                    self._count(totals, pending.popleft().result(), progress)
            while pending:
                self._count(totals, pending.popleft().result(), progress)
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            torch.set_num_threads(intra_op)
        seconds = time.perf_counter() - started
        return {"words": self.words_done, "examples": totals["examples"], "steps": self.steps, "seconds": seconds,
                "words_per_second": self.words_done / max(seconds, 1e-9),
                "loss": totals["loss"] / max(1, totals["measured"])}

    def _chunks(self, sentences) -> Iterator[list[list[str]]]:
        """The corpus, all epochs, as lists of sentences of at least ``chunk_words`` words (bar the last)."""
        for _ in range(self.config.epochs):
            chunk, size = [], 0
            for sentence in sentences() if callable(sentences) else sentences:
                chunk.append(sentence)
                size += len(sentence)
                if size >= self.config.chunk_words:
                    yield chunk
                    chunk, size = [], 0
            if chunk:
                yield chunk

    @staticmethod
    def _count(totals: dict, result: tuple, progress) -> None:
        examples, loss, measured, read = result
        totals["examples"] += examples
        totals["loss"] += float(loss)
        totals["measured"] += measured
        if progress is not None:
            progress(read)

    def _batch_step(self, ids: np.ndarray, sentence_ids: np.ndarray, rng: np.random.Generator,
                    generator: torch.Generator):
        """(number of examples, step(start, end, alpha, with_loss)) for one chunk's ids."""
        ids, sentence_ids = subsample(ids, sentence_ids, self.keep, rng)
        contexts = context_matrix(ids, sentence_ids, self.config.window, rng)
        to = lambda array: torch.from_numpy(array).to(self.device, non_blocking=True)  # noqa: E731
        if self.config.arch == "skipgram":
            inputs, targets = (to(a) for a in skipgram_examples(ids, contexts))
        else:
            context_ids, lengths, targets = cbow_examples(ids, contexts)
            bag_starts = np.concatenate([[0], np.cumsum(lengths)])
            owners = np.repeat(np.arange(len(lengths)), lengths)  # the bag of each context word
            context_ids, offsets, owners, targets = to(context_ids), to(bag_starts), to(owners), to(targets)
            scales = to((1.0 / lengths[:, None]).astype(np.float32)) if self.config.cbow_mean else None  # (n, 1)
        words, keep = self._noise_words(targets, generator) if self.config.negative else (targets[:, None], None)

        def step(start, end, alpha, with_loss):
            batch_keep = None if keep is None else keep[start:end]
            if self.config.arch == "skipgram":
                return self._skipgram_step(inputs[start:end], words[start:end], batch_keep, alpha, with_loss)
            first, last = bag_starts[start], bag_starts[end]
            return self._cbow_step(context_ids[first:last], offsets[start:end] - first, owners[first:last] - start,
                                   None if scales is None else scales[start:end], words[start:end], batch_keep,
                                   alpha, with_loss)
        return len(targets), step

    def _train_chunk(self, index, ids, sentence_ids, read, words_before, max_steps):
        """Make chunk ``index``'s examples and apply them batch by batch: (examples, loss, measured, read).

        Its random numbers come from its own generators, seeded by (seed, index), so a run is the
        same whichever thread takes which chunk (bar the races of lock-free updates). The learning
        rate moves through the chunk from ``words_before`` in proportion to the examples done.
        """
        rng = np.random.default_rng([self.config.seed, index])
        generator = torch.Generator(device=self.device).manual_seed(int(rng.integers(2 ** 62)))
        total, step = self._batch_step(ids, sentence_ids, rng, generator)
        with self.lock:  # reserve this chunk's share of the steps
            first = self.steps
            batches = -(-total // self.batch_size)
            if max_steps:
                batches = min(batches, max(0, max_steps - first))
            self.steps += batches
        loss, measured = torch.zeros((), device=self.device), 0
        for j in range(batches):  # the loss is measured on every LOSS_EVERY-th batch only
            start, end = j * self.batch_size, min((j + 1) * self.batch_size, total)
            alpha = self.learning_rate(max_steps, words_before + int(read * start / max(1, total)), first + j)
            batch_loss = step(start, end, alpha, (first + j) % LOSS_EVERY == 0)
            if batch_loss is not None:
                loss, measured = loss + batch_loss, measured + end - start
        with self.lock:
            self.words_done += read
        return min(total, batches * self.batch_size), loss, measured, read

    # --- results ------------------------------------------------------------------------
    def word_vectors(self):
        """The trained input vectors as `WordVectors` (on the CPU)."""
        from lmlab.embeddings.vectors import WordVectors

        return WordVectors(list(self.vocab.words), self.input.detach().cpu().clone(),
                           counts=self.vocab.counts.copy())


def train_word2vec(sentences, config: Word2VecConfig, device: str | torch.device = "cpu",
                   max_steps: Optional[int] = None):
    """Build the vocabulary from ``sentences`` (re-iterable), train, return (model, stats)."""
    config.validate()
    stream = sentences() if callable(sentences) else sentences
    vocab = Vocabulary.build(stream, config.min_count, config.max_vocab)
    model = Word2Vec(vocab, config, device)
    stats = model.train(sentences, max_steps=max_steps)
    return model, stats


__all__ = ["Word2VecConfig", "Word2Vec", "train_word2vec", "chunk_to_ids", "subsample", "context_matrix",
           "skipgram_examples", "cbow_examples", "window_offsets"]
