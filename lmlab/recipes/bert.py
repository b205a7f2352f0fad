"""Recipe: pretrain BERT from scratch (`lmlab bert pretrain`).

    corpus -> split -> WordPiece (trained on the training split) -> lines as ids
           -> NSP pairs + 80/10/10 masking (`lmlab.data.mlm`) -> BertForPreTraining -> Trainer

The loss is the sum of the masked-LM and next-sentence cross-entropies, as in the paper. At the
end the held-out text (the last 10% of every document) gives the two numbers that say what was
learned: MLM accuracy (the original token recovered at the chosen positions) and NSP accuracy
(chance is 50%). Fine-tune the result with ``lmlab classify train --init RUN``.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from lmlab.config import config_to_dict
from lmlab.data.mlm import PretrainingPairs
from lmlab.errors import UserError
from lmlab.models.bert import BertForPreTraining
from lmlab.outputs import mark_folder
from lmlab.recipes.common import (print_summary, resolve_config, resume_config, run_distributed, saved_config,
                                  saved_run, say)
from lmlab.recipes.encoder_families import PretrainDataConfig, PretrainRunConfig, encoder_family
from lmlab.recipes.options import PretrainOptions
from lmlab.tokenizers.wordpiece import WordPieceTokenizer
from lmlab.train import distributed
from lmlab.train.checkpoint import RunFolder
from lmlab.train.trainer import Trainer

FAMILY = encoder_family("bert")


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


def resolve_run(options: PretrainOptions, run: RunFolder) -> tuple[PretrainRunConfig, bool]:
    """(configuration, whether it resumes a saved run)."""
    saved = saved_run(run, options, "bert-pretrain", "lmlab bert pretrain --resume")
    if saved is None:
        return resolve_config(FAMILY.presets, options, PretrainOptions.default_preset), False
    config = saved_config(PretrainRunConfig, FAMILY.config_class, saved, str(run.config_path))
    return resume_config(config, options, str(run.path), saved.get("preset")), True


def _tokenizer(config: PretrainRunConfig, run: RunFolder, train_texts: list[str], resume: bool, context):
    """WordPiece trained on the training split by rank 0 (a new run) and read back by every rank."""
    if context.is_main and not resume:
        say(f"training a WordPiece tokenizer ({config.data.vocab_size} entries) on the training split")
        tokenizer = WordPieceTokenizer().train(train_texts, vocab_size=config.data.vocab_size)
        mark_folder(run.path, "bert-pretrain")
        tokenizer.save(run.tokenizer_path)
    distributed.barrier(context)
    return run.load_tokenizer()


def pretrain_command(options: PretrainOptions) -> None:
    print_summary(run_distributed(pretrain, options), options)


def pretrain(options: PretrainOptions, context: distributed.Context) -> dict:
    """Pretrain (or continue pretraining) a BERT; the held-out MLM and NSP accuracy at the end."""
    from lmlab.data.corpora import load_corpus, split_corpus

    preset = options.preset or PretrainOptions.default_preset
    run = RunFolder(options.out or f"runs/bert-{preset}-{Path(options.data or 'shakespeare').stem}")
    config, resume = resolve_run(options, run)
    corpus = load_corpus(config.data.corpus, config.data.text_field, config.data.text_column)
    split = split_corpus(corpus, config.data.val_fraction)
    tokenizer = _tokenizer(config, run, split.train, resume, context)
    config.model.vocab_size = tokenizer.vocab_size
    config.model.max_position = max(config.model.max_position, config.data.max_length)
    config.model.validate()
    t = config.train
    train_pairs, val_pairs = (_pairs(tokenizer, texts, config.data, seed)
                              for texts, seed in ((split.train, t.seed), (split.val, t.seed + 1)))
    val_batches = [val_pairs.step_batches(step, t.batch_size, 1)[0] for step in range(t.eval_batches)]
    if context.is_main and not resume:
        run.write_config({"kind": "bert-pretrain", "family": FAMILY.name, "preset": preset,
                          "model": config_to_dict(config.model), "train": config_to_dict(t),
                          "data": config_to_dict(config.data), "data_split": split.record})
    torch.manual_seed(t.seed)
    model = BertForPreTraining(config.model)
    trainer = Trainer(model, t, run, train_batches=lambda step: train_pairs.step_batches(
                          step, t.batch_size, t.grad_accum, context.rank, context.world_size),
                      eval_batches=lambda: val_batches, context=context)
    if resume:
        trainer.resume()
    say(f"BERT: {model.num_parameters() / 1e6:.2f}M parameters; {t.max_steps} steps of {t.batch_size * t.grad_accum} "
        f"pairs of up to {config.data.max_length} tokens; run folder {run.path}")
    started = time.perf_counter()
    summary = trainer.fit()
    result = {**pretraining_accuracy(model, val_batches, context.device), "step": summary["step"],
              "val_loss": summary["best_val_loss"], "seconds": time.perf_counter() - started}
    if context.is_main:
        run.append_metrics({"step": summary["step"], **result})
        say(f"held-out MLM accuracy {result['mlm_accuracy']:.4f}, NSP accuracy {result['nsp_accuracy']:.4f} "
            f"after {result['step']} steps ({result['seconds']:.0f}s)")
    return result


def _pairs(tokenizer, texts: list[str], data: PretrainDataConfig, seed: int) -> PretrainingPairs:
    ids = {name: tokenizer.token_id(name) for name in ("[CLS]", "[SEP]", "[MASK]")}
    try:
        return PretrainingPairs(encode_lines(tokenizer, texts), data.max_length, ids["[CLS]"], ids["[SEP]"],
                                ids["[MASK]"], tokenizer.vocab_size, seed)
    except ValueError as error:
        raise UserError(f"--data {data.corpus}: {error}") from None
