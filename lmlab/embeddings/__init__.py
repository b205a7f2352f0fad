"""Word embeddings: one-hot vectors (the baseline), word2vec (CBOW, skip-gram), their evaluation.

    vocab.py     counted words, subsampling, the unigram^0.75 noise table
    onehot.py    one-hot vectors and what they cost in memory
    huffman.py   the Huffman tree of hierarchical softmax
    word2vec.py  CBOW and skip-gram with negative sampling or hierarchical softmax (Mikolov et al. 2013)
    vectors.py   WordVectors: similarity, most_similar, analogies, save/load, `load_vectors`
    evaluate.py  analogy accuracy (questions-words.txt), WordSim-353 Spearman
"""
