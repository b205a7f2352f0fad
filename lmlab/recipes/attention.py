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


import torch

from lmlab.errors import UserError
from lmlab.outputs import claim_file
from lmlab.generate.beam import BeamConfig
from lmlab.recipes.common import say
from lmlab.recipes.families import lm_family
from lmlab.recipes.options import AttentionOptions
from lmlab.runs import Run, load_run
from lmlab.train import distributed


def token_labels(tokenizer, ids: list[int]) -> list[str]:
    """Readable text of each token, spaces shown as ▁ (a lone byte of a multi-byte character: its symbol)."""
    labels = []
    for token in ids:
        text = tokenizer.decode([token])
        labels.append(tokenizer.id_to_token(token) if "\ufffd" in text else text.replace(" ", "▁").replace("\n", "\\n"))
    return labels


def _gpt_maps(run: Run, text: str, device):
    model, tokenizer = run.model, run.tokenizer
    ids = tokenizer.encode(text)[-model.config.block_size:]
    if not ids:
        raise UserError("the text encodes to no tokens: give some text")
    maps = model.attention_weights(torch.tensor([ids], device=device))
    labels = token_labels(tokenizer, ids)
    return {"self": (maps, labels, labels)}


def _seq2seq_maps(run: Run, text: str, device, beams: int):
    from lmlab.recipes.seq2seq import translate

    model, source_tokenizer, target_tokenizer = run.model, run.source_tokenizer, run.tokenizer
    translation = translate(model, source_tokenizer, target_tokenizer, [text], BeamConfig(beams=beams))[0]
    say(f"translation: {translation}")
    block = model.config.block_size
    source_ids = source_tokenizer.encode(text)[:block - 1] + [source_tokenizer.eot_id]
    target_ids = [target_tokenizer.eot_id] + target_tokenizer.encode(translation)[:block - 1]  # decoder input
    maps = model.attention_weights(torch.tensor([source_ids], device=device), torch.tensor([target_ids], device=device))
    source, target = token_labels(source_tokenizer, source_ids), token_labels(target_tokenizer, target_ids)
    return {"encoder": (maps["encoder"], source, source), "decoder": (maps["decoder"], target, target),
            "cross": (maps["cross"], target, source)}


def attention_command(options: AttentionOptions) -> None:
    from lmlab.viz import plot_attention

    out = claim_file(options.out, options.force)
    device = distributed.resolve_device(options.device)
    run = load_run(options.run, device, expect=("lm", "seq2seq"), command="lmlab attention")
    translation, config = run.kind == "seq2seq", run.config
    if not translation and not lm_family(run.family).attention:
        raise UserError(f"{options.run} is a {lm_family(run.family).display_name} run: attention maps need a "
                        f"Transformer (a GPT or a translation run)")
    kinds = ("encoder", "decoder", "cross") if translation else ("self",)
    kind = options.kind or kinds[-1]
    n_layer, n_head = config["model"].get("n_layer", 0), config["model"].get("n_head", 0)
    layer = n_layer - 1 if options.layer is None else options.layer
    for ok, message in [(kind in kinds, f"--kind {kind}: this run has {', '.join(kinds)} attention"),
                        (0 <= layer < n_layer, f"--layer {options.layer}: the model has layers 0..{n_layer - 1}"),
                        (options.head is None or 0 <= options.head < n_head,
                         f"--head {options.head}: the model has heads 0..{n_head - 1}")]:
        if not ok:
            raise UserError(message)
    maps = _seq2seq_maps(run, options.text, device, options.beams) if translation else _gpt_maps(run, options.text, device)
    layers, query_labels, key_labels = maps[kind]
    weights = layers[layer][0].float().cpu()  # (H, queries, keys)
    heads = list(range(weights.size(0))) if options.head is None else [options.head]
    plot_attention(weights.numpy(), query_labels, key_labels, out, f"{kind} attention, layer {layer}", heads)
    say(f"wrote {options.out}: {kind} attention of layer {layer}, {len(heads)} head(s), "
        f"{len(query_labels)} queries x {len(key_labels)} keys")
