"""The Huffman tree of hierarchical softmax: textbook lengths, prefix-free codes, Kraft equality."""

import numpy as np

from lmlab.embeddings.huffman import huffman_tree, padded_paths


def test_textbook_example_and_tree_properties():
    codes, points = huffman_tree([5, 2, 1, 1])
    assert [c.tolist() for c in codes] == [[1], [0, 0], [0, 1, 0], [0, 1, 1]]
    assert all(p[0] == 2 for p in points)  # every path starts at the root, inner node V-2
    counts = np.random.default_rng(0).zipf(1.5, size=300) % 10_000 + 1
    codes, points = huffman_tree(counts)
    lengths = np.array([len(c) for c in codes])
    assert sum(2.0 ** -lengths) == 1.0  # a full binary tree: Kraft's sum is exactly one
    words = ["".join(map(str, c)) for c in codes]
    assert not any(a != b and b.startswith(a) for a in words for b in words)  # prefix-free
    more_frequent = counts[:, None] > counts[None, :]
    assert np.all(lengths[:, None][more_frequent.any(1)].min() >= 1)
    assert not np.any(more_frequent & (lengths[:, None] > lengths[None, :]))  # more frequent: never longer
    # Huffman is optimal: its mean code length is within one bit of the entropy
    p = counts / counts.sum()
    entropy = -(p * np.log2(p)).sum()
    assert entropy <= (p * lengths).sum() < entropy + 1
    code_table, point_table, mask = padded_paths(counts)
    assert mask.sum(1).tolist() == lengths.tolist() and point_table.max() == len(counts) - 2
