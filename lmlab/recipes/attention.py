"""Recipe: `lmlab attention RUN "text" --out map.png`, what every head of a layer looked at.

For a GPT run the text is encoded and run once; the map is the causal self-attention of the chosen
layer (query tokens down, key tokens across, the upper triangle empty: the future is masked). For
a translation run the text is the *source*: it is translated first (beam search), then the model
reads source and translation together, teacher-forced, and the map is one of

- ``encoder``: the source's bidirectional self-attention (source over source);
- ``decoder``: the translation's causal self-attention (target over target);
- ``cross``: each target token's look at the source (target down, source across). In a trained
  model it is roughly the word alignment of the two sentences (Bahdanau et al., 2015).
"""

from __future__ import annotations

from pathlib import Path

import torch

from lmlab.errors import UserError
from lmlab.generate.beam import BeamConfig
from lmlab.recipes.lm import say
from lmlab.train import distributed
from lmlab.train.checkpoint import RunFolder


def token_labels(tokenizer, ids: list[int]) -> list[str]:
    """Readable text of each token, spaces shown as ▁ (a lone byte of a multi-byte character: its symbol)."""
    labels = []
    for token in ids:
        text = tokenizer.decode([token])
        labels.append(tokenizer.id_to_token(token) if "\ufffd" in text else text.replace(" ", "▁").replace("\n", "\\n"))
    return labels


def _gpt_maps(run, text: str, device):
    from lmlab.recipes.lm import load_run

    model, tokenizer, _ = load_run(run, device)
    ids = tokenizer.encode(text)[-model.config.block_size:]
    if not ids:
        raise UserError("the text encodes to no tokens: give some text")
    maps = model.attention_weights(torch.tensor([ids], device=device))
    labels = token_labels(tokenizer, ids)
    return {"self": (maps, labels, labels)}


def _seq2seq_maps(run, text: str, device, beams: int):
    from lmlab.recipes.seq2seq import load_run, translate

    model, source_tokenizer, target_tokenizer, _ = load_run(run, device)
    translation = translate(model, source_tokenizer, target_tokenizer, [text], BeamConfig(beams=beams))[0]
    say(f"translation: {translation}")
    block = model.config.block_size
    source_ids = source_tokenizer.encode(text)[:block - 1] + [source_tokenizer.eot_id]
    target_ids = [target_tokenizer.eot_id] + target_tokenizer.encode(translation)[:block - 1]  # decoder input
    maps = model.attention_weights(torch.tensor([source_ids], device=device), torch.tensor([target_ids], device=device))
    source, target = token_labels(source_tokenizer, source_ids), token_labels(target_tokenizer, target_ids)
    return {"encoder": (maps["encoder"], source, source), "decoder": (maps["decoder"], target, target),
            "cross": (maps["cross"], target, source)}


def attention_command(args) -> None:
    from lmlab.viz import plot_attention

    config = RunFolder(args.run).read_config()
    model_type = config.get("model_type", "gpt")
    if model_type not in ("gpt", "seq2seq"):
        raise UserError(f"{args.run} is a {model_type} run: attention maps need a Transformer (gpt or seq2seq)")
    translation = model_type == "seq2seq"
    kinds = ("encoder", "decoder", "cross") if translation else ("self",)
    kind = args.kind or kinds[-1]
    n_layer, n_head = config["model"].get("n_layer", 0), config["model"].get("n_head", 0)
    layer = n_layer - 1 if args.layer is None else args.layer
    for ok, message in [(kind in kinds, f"--kind {kind}: this run has {', '.join(kinds)} attention"),
                        (0 <= layer < n_layer, f"--layer {args.layer}: the model has layers 0..{n_layer - 1}"),
                        (args.head is None or 0 <= args.head < n_head,
                         f"--head {args.head}: the model has heads 0..{n_head - 1}")]:
        if not ok:
            raise UserError(message)
    device = distributed.resolve_device(args.device)
    maps = _seq2seq_maps(args.run, args.text, device, args.beams) if translation else _gpt_maps(args.run, args.text, device)
    layers, query_labels, key_labels = maps[kind]
    weights = layers[layer][0].float().cpu()  # (H, queries, keys)
    heads = list(range(weights.size(0))) if args.head is None else [args.head]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    plot_attention(weights.numpy(), query_labels, key_labels, args.out, f"{kind} attention, layer {layer}", heads)
    say(f"wrote {args.out}: {kind} attention of layer {layer}, {len(heads)} head(s), "
        f"{len(query_labels)} queries x {len(key_labels)} keys")
