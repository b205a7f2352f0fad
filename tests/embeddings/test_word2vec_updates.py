"""One batched word2vec update equals the per-example formulas of word2vec.c, written out by hand.

The batched steps gather rows, multiply in batches and scatter with ``index_add_``; the
references below loop over examples and words in plain Python (float64), reading every vector
before any update, as one batch does, and adding the updates of a row that occurs several times.
"""

import math

import numpy as np
import pytest
import torch

from lmlab.embeddings.vocab import Vocabulary
from lmlab.embeddings.word2vec import Word2Vec, Word2VecConfig


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def tiny_model(**config):
    """Four words, random non-zero matrices (the output starts at zero otherwise)."""
    vocab = Vocabulary.build([["a"] * 8 + ["b"] * 4 + ["c"] * 2 + ["d"]], min_count=1)
    model = Word2Vec(vocab, Word2VecConfig(dim=5, min_count=1, sample=0, seed=4, **config))
    generator = torch.Generator().manual_seed(0)
    model.input.copy_(torch.randn(model.input.shape, generator=generator))
    model.output.copy_(torch.randn(model.output.shape, generator=generator))
    return model


def negative_reference(bags, words, input0, output0, alpha):
    """(new input, new output, loss): h_b = mean of its input rows; for each target/noise word w_k of
    example b, g = alpha (label - sigmoid(output[w_k] . h)), skipped for a noise word equal to the
    target; output[w_k] += g h and every input row of h gets += sum_k g output[w_k]."""
    new_input, new_output, loss = input0.clone(), output0.clone(), 0.0
    for b, rows in enumerate(bags):
        h = sum(input0[r] for r in rows) / len(rows)
        grad_h = torch.zeros_like(h)
        for k, w in enumerate(words[b]):
            s = float(output0[w] @ h)
            loss -= math.log(sigmoid(s if k == 0 else -s))
            if k > 0 and w == words[b][0]:
                continue
            g = alpha * ((1.0 if k == 0 else 0.0) - sigmoid(s))
            new_output[w] += g * h
            grad_h += g * output0[w]
        for r in rows:
            new_input[r] += grad_h
    return new_input, new_output, loss


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_one_negative_sampling_batch_equals_the_per_example_formula(arch):
    model = tiny_model(arch=arch, negative=3)
    input0, output0 = model.input.double().clone(), model.output.double().clone()
    targets = torch.tensor([0, 0, 1, 2, 3, 0])
    words, keep = model._noise_words(targets, torch.Generator().manual_seed(1))  # (6, 4), (6, 4)
    assert (words[:, 1:] == targets[:, None]).any(), "the case needs a noise word equal to its target"
    alpha = 0.05
    if arch == "skipgram":
        centres = torch.tensor([1, 2, 0, 0, 1, 1])
        loss = model._skipgram_step(centres, words, keep, alpha)
        bags = [[int(c)] for c in centres]
    else:
        bags = [[1, 2], [2], [0, 3, 3], [0, 1], [1], [2, 3]]
        context_ids = torch.tensor([r for rows in bags for r in rows])
        offsets = torch.tensor(np.cumsum([0] + [len(rows) for rows in bags[:-1]]))
        owner = torch.tensor([b for b, rows in enumerate(bags) for _ in rows])
        scale = torch.tensor([[1.0 / len(rows)] for rows in bags])
        loss = model._cbow_step(context_ids, offsets, owner, scale, words, keep, alpha)
    expected_input, expected_output, expected_loss = negative_reference(
        bags, words.tolist(), input0, output0, alpha)
    torch.testing.assert_close(model.input.double(), expected_input, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(model.output.double(), expected_output, atol=1e-6, rtol=1e-5)
    assert float(loss) == pytest.approx(expected_loss, rel=1e-5)


def test_cbow_sum_adds_the_context_vectors():
    model = tiny_model(arch="cbow", cbow_mean=False, negative=1)
    input0, output0 = model.input.double().clone(), model.output.double().clone()
    words = torch.tensor([[3, 1]])
    model._cbow_step(torch.tensor([0, 2]), torch.tensor([0]), torch.tensor([0, 0]), None, words, torch.ones(1, 2), 0.1)
    h = input0[0] + input0[2]
    g = [0.1 * (1 - sigmoid(float(output0[3] @ h))), 0.1 * (0 - sigmoid(float(output0[1] @ h)))]
    torch.testing.assert_close(model.output[3].double(), output0[3] + g[0] * h, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(model.input[2].double(), input0[2] + g[0] * output0[3] + g[1] * output0[1],
                               atol=1e-6, rtol=1e-5)


def test_noise_words_follow_the_noise_table_and_keep_marks_the_target_repeats():
    model = tiny_model(negative=5)
    targets = torch.zeros(20_000, dtype=torch.long)
    words, keep = model._noise_words(targets, torch.Generator().manual_seed(2))
    assert words.shape == keep.shape == (20_000, 6) and (words[:, 0] == 0).all()
    assert torch.equal(keep[:, 1:] == 0, words[:, 1:] == 0) and (keep[:, 0] == 1).all()
    counts = np.asarray(model.vocab.counts, dtype=float) ** 0.75
    frequencies = np.bincount(words[:, 1:].reshape(-1).numpy(), minlength=len(counts)) / words[:, 1:].numel()
    np.testing.assert_allclose(frequencies, counts / counts.sum(), atol=0.01)


def test_one_hierarchical_softmax_batch_equals_the_per_node_formula():
    model = tiny_model(hs=True, negative=0)
    model.tree.copy_(torch.randn(model.tree.shape, generator=torch.Generator().manual_seed(3)))
    input0, tree0 = model.input.double().clone(), model.tree.double().clone()
    centres, targets = torch.tensor([0, 1, 1, 3]), torch.tensor([2, 0, 3, 0])
    model._skipgram_step(centres, targets[:, None], None, 0.05)
    expected_input, expected_tree = input0.clone(), tree0.clone()
    for centre, target in zip(centres.tolist(), targets.tolist()):
        h, grad_h = input0[centre], torch.zeros(input0.shape[1], dtype=torch.float64)
        for node, code, real in zip(*(m[target].tolist() for m in (model.points, model.codes, model.path_mask))):
            if real:  # label 1 - code bit at each inner node on the path
                g = 0.05 * (1 - code - sigmoid(float(tree0[node] @ h)))
                expected_tree[node] += g * h
                grad_h += g * tree0[node]
        expected_input[centre] += grad_h
    torch.testing.assert_close(model.input.double(), expected_input, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(model.tree.double(), expected_tree, atol=1e-6, rtol=1e-5)


def test_one_worker_is_deterministic_for_a_seed():
    corpus = [list("abcdefgh"), list("hgfedcba"), list("aabbccdd")] * 60
    runs = []
    for _ in range(2):
        model = Word2Vec(Vocabulary.build(corpus, 1), Word2VecConfig(dim=8, min_count=1, epochs=2, chunk_words=100))
        model.train(corpus)
        runs.append(model.input.clone())
    assert torch.equal(runs[0], runs[1])
