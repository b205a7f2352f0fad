"""Choosing the next token: greedy, temperature, top-k and top-p (nucleus) sampling.

A language model gives a distribution over the next token. Decoding turns it into text:

- greedy: always the most likely token (deterministic, often repetitive);
- temperature T: sample from softmax(logits / T); T < 1 sharpens, T > 1 flattens;
- top-k: sample only among the k most likely tokens;
- top-p (nucleus, Holtzman et al. 2020): sample among the smallest set of tokens whose total
  probability reaches p, so the candidate set grows when the model is unsure.

`generate` runs the loop with the model's KV cache: the prompt is processed once (prefill),
then each step feeds only the newest token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Iterator, Literal, Optional

import torch

from lmlab.config import AT_LEAST_ONE, POSITIVE, Config, Range


@dataclass
class SamplingConfig(Config):
    """How the next token is chosen (`--strategy greedy` for T -> 0)."""

    strategy: Literal["greedy", "sample"] = "sample"
    temperature: Annotated[float, POSITIVE] = 1.0  # divide the logits by T before sampling
    top_k: Optional[Annotated[int, AT_LEAST_ONE]] = None  # sample only from the K most likely tokens
    top_p: Optional[Annotated[float, Range(0, 1, low_open=True)]] = None  # nucleus: the smallest set reaching P


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k largest logits of each row, set the rest to -inf. (B, V) -> (B, V)."""
    k = min(k, logits.size(-1))
    kth_largest = torch.topk(logits, k, dim=-1).values[..., -1:]  # (B, 1)
    return logits.masked_fill(logits < kth_largest, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the smallest set of most likely tokens whose probabilities sum to >= p. (B, V)."""
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
    # drop a token when the tokens before it already reach p (the top token is always kept)
    drop_sorted = (cumulative - torch.softmax(sorted_logits, dim=-1)) >= p
    drop = drop_sorted.scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def next_token(logits: torch.Tensor, config: SamplingConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """Pick one token per row from last-position logits (B, V) -> (B, 1)."""
    if config.strategy == "greedy":
        return logits.argmax(dim=-1, keepdim=True)
    logits = logits.float() / config.temperature
    if config.top_k is not None:
        logits = top_k_filter(logits, config.top_k)
    if config.top_p is not None:
        logits = top_p_filter(logits, config.top_p)
    probabilities = torch.softmax(logits, dim=-1)
    return torch.multinomial(probabilities, num_samples=1, generator=generator)


def generate(model, ids: torch.Tensor, max_new_tokens: int, config: SamplingConfig | None = None,
             stop_token: int | None = None, generator: torch.Generator | None = None) -> Iterator[torch.Tensor]:
    """Yield new tokens (B, 1) one by one, using the model's cache (`model.new_cache`).

    A GPT's cache is a KV cache of block_size positions; the other families carry a state that
    never fills (an RNN's hidden state, the last tokens of an n-gram, FFNN or CNN), which
    `max_length = None` says. For a KV cache, `ids` (B, T) is cropped from the left to fit the
    context. When the cache fills up, the last half of the context is prefilled again (learned
    absolute positions cannot slide), so long generations cost a re-prefill every block_size / 2
    tokens. Stops after `stop_token` (B = 1)
    or `max_new_tokens`.
    """
    for token in _generate(model, ids, max_new_tokens, config or SamplingConfig(), stop_token, generator):
        yield token.clone()  # cloned outside inference mode: an ordinary tensor the caller may use anywhere


@torch.inference_mode()  # no_grad minus autograd's per-op bookkeeping: ~10% faster decoding of small models
def _generate(model, ids, max_new_tokens, config, stop_token, generator) -> Iterator[torch.Tensor]:
    cache = model.new_cache(ids.size(0))
    limit = cache.max_length  # a KV cache fills up; recurrent and sliding-window states never do (None)
    context = ids if limit is None else ids[:, -limit:]  # what the cache holds, as of the last prefill
    fed = []  # tokens fed one at a time since then
    logits, _ = model(context, cache=cache)  # prefill: the whole prompt at once
    for _ in range(max_new_tokens):
        token = next_token(logits[:, -1, :], config, generator)  # (B, 1)
        yield token
        if stop_token is not None and bool((token == stop_token).all()):
            return
        if cache.length == limit:  # full: keep the most recent half and prefill it again
            context = torch.cat([context, *fed, token], dim=1)[:, -(limit // 2):]
            fed = []
            cache.reset()
            logits, _ = model(context, cache=cache)
        else:
            if limit is not None:  # kept only for a re-prefill, which a state that never fills does not need
                fed.append(token)
            logits, _ = model(token, cache=cache)
