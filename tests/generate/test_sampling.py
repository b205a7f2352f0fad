import pytest
import torch

from lmlab.errors import UserError
from lmlab.generate.sampling import SamplingConfig, generate, next_token, top_k_filter, top_p_filter
from lmlab.generate.streaming import TextStream
from lmlab.models.gpt import GPT, GPTConfig


def tiny_gpt(block_size=16) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=23, block_size=block_size, n_layer=2, n_head=2, n_embd=16)).eval()


def test_top_k_keeps_exactly_the_k_largest():
    logits = torch.tensor([[1.0, 5.0, 3.0, 4.0, 2.0]])
    kept = torch.isfinite(top_k_filter(logits, 2))
    assert kept.tolist() == [[False, True, False, True, False]]
    assert torch.isfinite(top_k_filter(logits, 99)).all()  # k larger than the vocabulary keeps all


def test_top_p_keeps_the_smallest_set_reaching_p():
    probabilities = torch.tensor([[0.5, 0.05, 0.3, 0.15]])
    logits = probabilities.log()
    assert torch.isfinite(top_p_filter(logits, 0.5)).tolist() == [[True, False, False, False]]
    assert torch.isfinite(top_p_filter(logits, 0.8)).tolist() == [[True, False, True, False]]
    assert torch.isfinite(top_p_filter(logits, 0.81)).tolist() == [[True, False, True, True]]
    filtered = torch.softmax(top_p_filter(logits, 0.8), -1)
    assert torch.allclose(filtered, torch.tensor([[0.625, 0.0, 0.375, 0.0]]))  # renormalised, sums to 1


def test_sampling_follows_the_temperature_scaled_distribution():
    logits = torch.tensor([[0.0, 1.0, 2.0]])
    generator = torch.Generator().manual_seed(0)
    config = SamplingConfig(temperature=2.0)
    draws = torch.cat([next_token(logits, config, generator) for _ in range(20000)]).flatten()
    frequencies = torch.bincount(draws, minlength=3).float() / len(draws)
    assert torch.allclose(frequencies, torch.softmax(logits / 2.0, -1)[0], atol=0.015)
    assert next_token(logits, SamplingConfig(strategy="greedy")).item() == 2


def test_bad_sampling_options_are_user_errors():
    for config in [SamplingConfig(temperature=0), SamplingConfig(top_k=0), SamplingConfig(top_p=1.5)]:
        with pytest.raises(UserError):
            config.validate()


def test_greedy_generation_equals_argmax_of_full_recomputation():
    model = tiny_gpt(block_size=32)
    prompt = torch.tensor([[1, 2, 3]])
    tokens = torch.cat(list(generate(model, prompt, 12, SamplingConfig(strategy="greedy"))), dim=1)
    sequence = prompt
    for _ in range(12):  # the slow way: no cache, whole sequence every step
        sequence = torch.cat([sequence, model(sequence)[0][:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(tokens, sequence[:, 3:])


def test_seeded_sampling_is_reproducible_and_stops_at_the_stop_token():
    model = tiny_gpt()
    config = SamplingConfig(temperature=1.5, top_k=10)
    run = lambda: [int(t) for t in generate(model, torch.tensor([[0]]), 40, config,  # noqa: E731
                                            generator=torch.Generator().manual_seed(7))]
    first = run()
    assert first == run() and len(first) == 40  # past block_size=16: the cache is refilled
    stop = first[5]
    stopped = [int(t) for t in generate(model, torch.tensor([[0]]), 40, config, stop_token=stop,
                                        generator=torch.Generator().manual_seed(7))]
    assert stopped == first[: first.index(stop) + 1]


def test_prompts_longer_than_the_context_are_cropped_from_the_left():
    model = tiny_gpt(block_size=16)
    long_prompt = torch.randint(0, 23, (1, 40))
    greedy = SamplingConfig(strategy="greedy")
    assert [int(t) for t in generate(model, long_prompt, 3, greedy)] == \
           [int(t) for t in generate(model, long_prompt[:, -16:], 3, greedy)]


class _Bytes:
    """A byte-level toy tokenizer: id = byte value."""

    def decode(self, ids):
        return bytes(ids).decode("utf-8", errors="replace")


def test_stream_holds_back_incomplete_utf8_characters():
    text_stream = TextStream(_Bytes(), prefix=list(b"> "))
    pieces = [text_stream.push(b) for b in "aé€".encode()]
    assert pieces == ["a", "", "é", "", "", "€"]
    assert "".join(pieces) + text_stream.flush() == "aé€"


class _Words:
    """Unigram-style pieces: '▁' marks a word start and is a space only inside the text."""

    pieces = ["▁the", "▁cat", "s", "▁sat"]

    def decode(self, ids):
        return "".join(self.pieces[i] for i in ids).replace("▁", " ").lstrip(" ")


def test_stream_keeps_the_spaces_that_depend_on_neighbouring_tokens():
    text_stream = TextStream(_Words(), prefix=[0])
    streamed = "".join(text_stream.push(i) for i in [1, 2, 3]) + text_stream.flush()
    assert "the" + streamed == _Words().decode([0, 1, 2, 3]) == "the cats sat"
