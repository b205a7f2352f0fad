"""The Huffman tree of hierarchical softmax (Morin & Bengio 2005; Mikolov et al. 2013).

Hierarchical softmax replaces the softmax over V words by a walk down a binary tree whose leaves
are the words: the probability of a word is the product of the left/right decisions on the path
from the root to its leaf, each a logistic regression on an inner node's vector. word2vec builds
the tree with Huffman's algorithm on the word counts, so frequent words get short paths and the
average cost per example is about the entropy of the unigram distribution in bits, not log2 V.

Each word gets a *code* (the branch taken at each inner node on its path: 0 or 1) and its
*points* (those inner nodes, root first). Trained, word2vec.c's rule for inner node n with code
bit b is: label = 1 - b, score = sigmoid(tree[n] . h).

>>> codes, points = huffman_tree([5, 2, 1, 1])
>>> [len(code) for code in codes]   # the textbook example: lengths 1, 2, 3, 3
[1, 2, 3, 3]
"""

from __future__ import annotations

import heapq

import numpy as np


def huffman_tree(counts) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(codes, points) per word: bits (root first) and inner-node ids 0..V-2 (root = V-2)."""
    V = len(counts)
    if V < 2:
        raise ValueError("a Huffman tree needs at least two words")
    heap = [(int(count), node) for node, count in enumerate(counts)]  # leaves are nodes 0..V-1
    heapq.heapify(heap)
    parent = np.zeros(2 * V - 1, dtype=np.int64)
    bit = np.zeros(2 * V - 1, dtype=np.int8)
    node = V  # inner nodes are V..2V-2
    while len(heap) > 1:  # merge the two least frequent subtrees
        count_a, a = heapq.heappop(heap)
        count_b, b = heapq.heappop(heap)
        parent[a], bit[a] = node, 0
        parent[b], bit[b] = node, 1
        heapq.heappush(heap, (count_a + count_b, node))
        node += 1
    root = node - 1
    codes, points = [], []
    for leaf in range(V):
        code, path, current = [], [], leaf
        while current != root:  # climb to the root, then read the path backwards
            code.append(bit[current])
            path.append(parent[current] - V)
            current = parent[current]
        codes.append(np.array(code[::-1], dtype=np.int8))
        points.append(np.array(path[::-1], dtype=np.int64))
    return codes, points


def padded_paths(counts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(codes (V, L) float32, points (V, L) int64, mask (V, L) float32), L the longest path."""
    codes, points = huffman_tree(counts)
    longest = max(len(code) for code in codes)
    code_table = np.zeros((len(codes), longest), dtype=np.float32)
    point_table = np.zeros((len(codes), longest), dtype=np.int64)
    mask = np.zeros((len(codes), longest), dtype=np.float32)
    for word, (code, path) in enumerate(zip(codes, points)):
        code_table[word, :len(code)] = code
        point_table[word, :len(path)] = path
        mask[word, :len(code)] = 1.0
    return code_table, point_table, mask
