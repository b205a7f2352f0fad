"""Recipe: pretrain BERT from scratch (`lmlab bert pretrain`).

    corpus -> split -> WordPiece (trained on the training split) -> lines as ids
           -> NSP pairs + 80/10/10 masking (`lmlab.data.mlm`) -> BertForPreTraining -> Trainer

The loss is the sum of the masked-LM and next-sentence cross-entropies, as in the paper. At the
end the held-out text (the last 10% of every document) gives the two numbers that say what was
learned: MLM accuracy (the original token recovered at the chosen positions) and NSP accuracy
(chance is 50%). Fine-tune the result with ``lmlab classify train --init RUN``.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from lmlab.config import apply_overrides, config_to_dict, preset
from lmlab.data.mlm import PretrainingPairs
from lmlab.errors import UserError
from lmlab.models.bert import BertConfig, BertForPreTraining
from lmlab.tokenizers.wordpiece import WordPieceTokenizer
from lmlab.train import distributed
from lmlab.train.checkpoint import RunFolder
from lmlab.train.trainer import TrainConfig, Trainer


@dataclass
class PretrainDataConfig:
    """Which text, which vocabulary, how long the pairs."""

    val_fraction: float = 0.1  # the last 10% of every document is held out
    vocab_size: int = 8000  # WordPiece entries, trained on the training split
    max_length: int = 128  # tokens per pair: [CLS] A [SEP] B [SEP]


@dataclass
class PretrainRunConfig:
    model: BertConfig = field(default_factory=BertConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: PretrainDataConfig = field(default_factory=PretrainDataConfig)


PRESETS = {
    "tiny": PretrainRunConfig(BertConfig(n_layer=2, n_head=2, n_embd=32, max_position=64, dropout=0.0),
                              TrainConfig(batch_size=8, max_steps=30, lr=1e-3, min_lr=1e-4, warmup_steps=5,
                                          eval_every=15, eval_batches=2, checkpoint_every=15, log_every=5),
                              PretrainDataConfig(vocab_size=800, max_length=64)),
    "cpu": PretrainRunConfig(BertConfig(n_layer=4, n_head=4, n_embd=256, max_position=128),
                             TrainConfig(batch_size=32, max_steps=2000, lr=5e-4, min_lr=5e-5, warmup_steps=200,
                                         weight_decay=0.01, beta2=0.999, eval_every=250, eval_batches=8,
                                         checkpoint_every=250, log_every=25),
                             PretrainDataConfig()),
    "base": PretrainRunConfig(BertConfig(n_layer=12, n_head=12, n_embd=768, max_position=512),
                              TrainConfig(batch_size=32, grad_accum=8, max_steps=100_000, lr=1e-4, min_lr=0.0,
                                          warmup_steps=10_000, schedule="linear", weight_decay=0.01, beta2=0.999,
                                          eval_every=2000, eval_batches=20, checkpoint_every=2000),
                              PretrainDataConfig(vocab_size=30522, max_length=128)),
}


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def encode_lines(tokenizer, texts: list[str]) -> list[list[list[int]]]:
    """Each document as its non-empty lines, encoded: the units NSP pairs are cut from."""
    return [tokenizer.encode_batch([line for line in text.splitlines() if line.strip()]) for text in texts]


@torch.no_grad()
def pretraining_accuracy(model: BertForPreTraining, batches, device) -> dict:
    """MLM accuracy over the masked positions and NSP accuracy over the pairs."""
    model.eval()
    mlm_right = mlm_total = nsp_right = nsp_total = 0
    for inputs, segments, targets, labels in batches:
        (mlm_logits, nsp_logits), _ = model(inputs.to(device), segments.to(device))
        chosen = targets.to(device) != -1
        mlm_right += int((mlm_logits.argmax(-1)[chosen] == targets.to(device)[chosen]).sum())
        mlm_total += int(chosen.sum())
        nsp_right += int((nsp_logits.argmax(-1).cpu() == labels).sum())
        nsp_total += len(labels)
    model.train()
    return {"mlm_accuracy": mlm_right / max(mlm_total, 1), "nsp_accuracy": nsp_right / max(nsp_total, 1),
            "masked_positions": mlm_total, "pairs": nsp_total}


def pretrain_command(args) -> None:
    from lmlab.data.corpora import load_corpus, split_corpus

    if args.resume:
        raise UserError("bert pretrain does not resume yet: start again with another --out")
    config = preset(PRESETS, args.preset or "cpu")
    apply_overrides({"model": config.model, "train": config.train, "data": config.data}, args.overrides)
    if args.max_steps is not None:
        config.train.max_steps = args.max_steps
    if args.seed is not None:
        config.train.seed = args.seed
    out = Path(args.out or f"runs/bert-{args.preset or 'cpu'}-{Path(args.data).stem}")
    run = RunFolder(out)
    if run.config_path.exists():
        raise UserError(f"{out} already holds a run: choose another --out")
    context = distributed.setup(args.device)
    corpus = load_corpus(args.data)
    split = split_corpus(corpus, config.data.val_fraction)
    say(f"training a WordPiece tokenizer ({config.data.vocab_size} entries) on the training split")
    tokenizer = WordPieceTokenizer().train(split.train, vocab_size=config.data.vocab_size)
    config.model.vocab_size = tokenizer.vocab_size
    config.model.max_position = max(config.model.max_position, config.data.max_length)
    config.model.validate()
    ids = {name: tokenizer.token_id(name) for name in ("[CLS]", "[SEP]", "[MASK]")}
    t = config.train

    def pairs(texts, seed):
        try:
            return PretrainingPairs(encode_lines(tokenizer, texts), config.data.max_length, ids["[CLS]"],
                                    ids["[SEP]"], ids["[MASK]"], tokenizer.vocab_size, seed)
        except ValueError as error:
            raise UserError(f"--data {args.data}: {error}") from None

    train_pairs, val_pairs = pairs(split.train, t.seed), pairs(split.val, t.seed + 1)
    val_batches = [val_pairs.step_batches(step, t.batch_size, 1)[0] for step in range(t.eval_batches)]
    run.write_config({"model_type": "bert-pretraining", "model": config_to_dict(config.model),
                      "train": config_to_dict(t), "data": config_to_dict(config.data), "data_split": split.record})
    tokenizer.save(run.tokenizer_path)
    torch.manual_seed(t.seed)
    model = BertForPreTraining(config.model)
    trainer = Trainer(model, t, run, train_batches=lambda step: train_pairs.step_batches(
                          step, t.batch_size, t.grad_accum, context.rank, context.world_size),
                      eval_batches=lambda: val_batches, context=context)
    say(f"BERT: {model.num_parameters() / 1e6:.2f}M parameters; {t.max_steps} steps of {t.batch_size * t.grad_accum} "
        f"pairs of up to {config.data.max_length} tokens; run folder {out}")
    started = time.perf_counter()
    summary = trainer.fit()
    result = {**pretraining_accuracy(model, val_batches, context.device), "step": summary["step"],
              "val_loss": summary["best_val_loss"], "seconds": time.perf_counter() - started}
    run.append_metrics({"step": summary["step"], **result})
    say(f"held-out MLM accuracy {result['mlm_accuracy']:.4f}, NSP accuracy {result['nsp_accuracy']:.4f} "
        f"after {result['step']} steps ({result['seconds']:.0f}s)")
    if args.json:
        print(json.dumps(result))
