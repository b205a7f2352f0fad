"""The encoder-decoder Transformer: caches, masks, teacher forcing, vocabularies, and it learns."""

import pytest
import torch

from lmlab.errors import UserError
from lmlab.generate.beam import BeamConfig, beam_search
from lmlab.generate.sampling import SamplingConfig, generate
from lmlab.models.seq2seq import Seq2Seq, Seq2SeqConfig
from lmlab.train.schedules import warmup_cosine

BOS = EOS = 0


def tiny(**overrides) -> Seq2Seq:
    torch.manual_seed(0)
    config = dict(src_vocab_size=13, tgt_vocab_size=13, block_size=16, n_layer=2, n_head=4, n_embd=32)
    return Seq2Seq(Seq2SeqConfig(**{**config, **overrides})).eval()


def padded_source():
    return torch.tensor([[5, 6, 7, 8, 9, EOS], [3, 4, EOS, -1, -1, -1]])  # the second is shorter


@pytest.mark.parametrize("parts", [dict(), dict(pos="rope", norm_position="pre"), dict(pos="t5", n_kv_head=2),
                                   dict(pos="alibi", attention="explicit"), dict(pos="relative", fused_qkv=False),
                                   dict(pos="learned", share_embeddings=False, tgt_vocab_size=17)])
def test_cached_decoding_equals_full_decoding_with_self_and_cross_caches(parts):
    model = tiny(**parts)
    source = padded_source()
    target = torch.randint(1, 13, (2, 9))
    full, _ = model(source, target)
    decoder = model.conditioned_on(source)
    cache = decoder.new_cache(2)
    steps = [decoder(target[:, :3], cache=cache)[0]] + [decoder(target[:, t : t + 1], cache=cache)[0]
                                                        for t in range(3, 9)]
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-5)
    assert all(keys is not None and keys.size(2) == 6 for keys in cache.cross.keys)  # the memory, projected once


def test_source_padding_changes_nothing():
    model = tiny()
    target = torch.randint(1, 13, (1, 5))
    short = torch.tensor([[3, 4, EOS]])
    padded = torch.tensor([[3, 4, EOS, -1, -1, -1]])
    assert torch.allclose(model(short, target)[0], model(padded, target)[0], atol=1e-6)


def test_the_decoder_does_not_see_the_target_it_predicts():
    model = tiny()
    source, target = padded_source(), torch.randint(1, 13, (2, 8))
    changed = target.clone()
    changed[:, 5] = (target[:, 5] + 1) % 13
    assert torch.allclose(model(source, target)[0][:, :5], model(source, changed)[0][:, :5], atol=1e-6)


def test_loss_ignores_padding_and_smooths_labels_only_in_training():
    model = tiny(label_smoothing=0.1)
    source, target_input = padded_source(), torch.randint(1, 13, (2, 6))
    targets = torch.randint(1, 13, (2, 6))
    targets[1, 3:] = -1
    logits, loss = model(source, target_input, targets)
    kept = targets != -1
    nll = -torch.log_softmax(logits, -1)[kept].gather(1, targets[kept][:, None]).mean()
    assert torch.allclose(loss, nll, atol=1e-6)  # eval mode: plain cross-entropy
    model.train()
    torch.manual_seed(1)
    logits, smoothed = model(source, target_input, targets)
    log_probs = torch.log_softmax(logits, -1)[kept]
    expected = 0.9 * -log_probs.gather(1, targets[kept][:, None]).mean() + 0.1 * -log_probs.mean()
    assert torch.allclose(smoothed, expected, atol=1e-5)


def test_shared_vocabulary_ties_three_tables_and_separate_ones_tie_the_target_only():
    shared = tiny()
    assert shared.source_embedding.weight is shared.target_embedding.weight is shared.lm_head.weight
    separate = tiny(share_embeddings=False, src_vocab_size=11, tgt_vocab_size=17)
    assert separate.lm_head.weight is separate.target_embedding.weight
    assert separate.source_embedding.weight.shape == (11, 32) and separate.lm_head.weight.shape == (17, 32)
    with pytest.raises(UserError, match="share_embeddings"):
        tiny(src_vocab_size=11, tgt_vocab_size=17)


def test_attention_maps_of_encoder_decoder_and_cross_attention():
    model = tiny()
    maps = model.attention_weights(padded_source(), torch.randint(1, 13, (2, 4)))
    assert maps["encoder"][0].shape == (2, 4, 6, 6) and maps["decoder"][1].shape == (2, 4, 4, 4)
    cross = maps["cross"][0]  # (B, H, target queries, source keys)
    assert cross.shape == (2, 4, 4, 6)
    assert torch.allclose(cross.sum(-1), torch.ones(2, 4, 4), atol=1e-6)
    assert torch.all(cross[1, :, :, 3:] == 0)  # nobody looks at the padding


def reversal_batch(generator, batch_size=64):
    """Random sequences of 3..6 tokens from 1..12, and their reversal: (source, decoder input, targets)."""
    length = int(torch.randint(3, 7, (1,), generator=generator))
    tokens = torch.randint(1, 13, (batch_size, length), generator=generator)
    eos = torch.full((batch_size, 1), EOS)
    reversed_tokens = tokens.flip(1)
    return torch.cat([tokens, eos], 1), torch.cat([eos, reversed_tokens], 1), torch.cat([reversed_tokens, eos], 1)


@pytest.fixture
def one_thread():
    """Tensors this small gain nothing from a second thread, and on a busy machine the threads'
    synchronisation costs ten times the work."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_learns_to_reverse_sequences_perfectly_in_seconds(one_thread):
    """300 steps of batch 64 (a few seconds). Untied embeddings: on random tokens a tied output
    layer starts by predicting the input token itself, and unlearning that is slow."""
    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(src_vocab_size=13, tgt_vocab_size=13, block_size=8, n_layer=2, n_head=4,
                                  n_embd=64, dropout=0.0, label_smoothing=0.0, norm_position="pre",
                                  share_embeddings=False, tie_weights=False)).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.0)
    generator = torch.Generator().manual_seed(0)
    for step in range(300):
        for group in optimizer.param_groups:
            group["lr"] = warmup_cosine(step, 300, 2e-3, 0.0, 30)
        loss = model(*reversal_batch(generator))[1]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    source, _, targets = reversal_batch(torch.Generator().manual_seed(123), batch_size=50)
    decoder = model.conditioned_on(source)
    start = torch.full((50, 1), BOS)
    greedy = torch.cat(list(generate(decoder, start, targets.size(1), SamplingConfig(strategy="greedy"))), dim=1)
    assert torch.equal(greedy, targets), f"greedy accuracy {(greedy == targets).all(1).float().mean():.2f}"
    best = [h[0].tokens for h in beam_search(decoder, start, targets.size(1), BeamConfig(beams=3), eos_id=EOS)]
    assert best == targets[:, :-1].tolist()  # beam search agrees, EOS aside
