"""BERT's pretraining data: the 80/10/10 rule, specials never masked, NSP pairs 50/50."""

import torch

from lmlab.data.mlm import PretrainingPairs, mask_tokens

CLS, SEP, MASK, VOCAB = 2, 3, 4, 1000


def test_80_10_10_holds_on_100k_masked_positions():
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(5, VOCAB, (800, 1000), generator=generator)
    special = torch.zeros_like(ids, dtype=torch.bool)
    inputs, targets = mask_tokens(ids, special, MASK, VOCAB, generator)
    chosen = targets != -1
    n = int(chosen.sum())
    assert n > 100_000 and abs(n / ids.numel() - 0.15) < 0.002
    assert torch.equal(targets[chosen], ids[chosen])  # the originals are recorded
    masked = (inputs[chosen] == MASK).sum().item() / n
    unchanged = (inputs[chosen] == ids[chosen]).sum().item() / n
    random = 1 - masked - unchanged
    # a random replacement can draw the original token itself (1 / VOCAB of the 10%): negligible here
    assert abs(masked - 0.8) < 0.01 and abs(unchanged - 0.1) < 0.01 and abs(random - 0.1) < 0.01
    assert torch.equal(inputs[~chosen], ids[~chosen])  # nothing else changes


def documents(count=6, lines=30):
    generator = torch.Generator().manual_seed(1)
    return [[torch.randint(5, VOCAB, (int(torch.randint(2, 9, (1,), generator=generator)),),
                           generator=generator).tolist() for _ in range(lines)] for _ in range(count)]


def test_special_tokens_and_padding_are_never_masked_and_pairs_fit():
    pairs = PretrainingPairs(documents(), max_length=32, cls_id=CLS, sep_id=SEP, mask_id=MASK, vocab_size=VOCAB, seed=0)
    for step in range(50):
        inputs, segments, targets, labels = pairs.step_batches(step, 16, 1)[0]
        assert inputs.size(1) <= 32
        originals = torch.where(targets != -1, targets, inputs)
        structural = (originals == CLS) | (originals == SEP) | (inputs == -1)
        assert (targets[structural] == -1).all()
        assert (inputs[:, 0] == CLS).all() and (inputs[inputs == -1] == segments[inputs == -1]).all()
        assert (targets[inputs == -1] == -1).all()


def test_next_sentence_pairs_are_half_true_half_from_other_documents():
    docs = documents()
    pairs = PretrainingPairs(docs, max_length=64, cls_id=CLS, sep_id=SEP, mask_id=MASK, vocab_size=VOCAB, seed=3)
    generator = torch.Generator().manual_seed(0)
    examples = [pairs.pair(generator) for _ in range(4000)]
    share = sum(label for _, _, label in examples) / len(examples)
    assert abs(share - 0.5) < 0.025
    line_doc = {tuple(line): d for d, doc in enumerate(docs) for line in doc}
    for ids, segments, is_next in examples[:300]:  # B's first line comes from A's document iff IsNext
        a = ids[1:segments.index(1) - 1]
        b = ids[segments.index(1):-1]
        doc_a = next(d for line, d in line_doc.items() if list(line) == a[:len(line)])
        doc_b = next(d for line, d in line_doc.items() if list(line) == b[:len(line)])
        assert (doc_a == doc_b) == bool(is_next)
