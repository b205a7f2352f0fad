"""The command table: each command's recipe function ("module:function") and its one-line help.

Adding a command is one row here and one recipe function whose single parameter is an options
dataclass (`lmlab.recipes.options`); nothing is imported until the command runs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    handler: str  # "module:function" of the recipe that runs it, imported only when it runs
    options: str  # "module:Class" of its options dataclass (torch-free): the arguments
    help: str  # one line for `lmlab --help`


OPTIONS = "lmlab.recipes.options:"
TEXT = "lmlab.recipes.text_options:"
LAB = "lmlab.recipes.experiment_options:"

GROUPS = {
    "classify": "train and use sentence classifiers (lexicon, bag of words, TextCNN, BiLSTM, BERT)",
    "bert": "pretrain BERT (masked LM + next sentence)",
    "seq2seq": "train and evaluate an encoder-decoder translation model",
    "word2vec": "train and query word2vec embeddings (CBOW, skip-gram)",
    "tokenizer": "train, inspect and use tokenizers",
    "corpus": "list, download and show the built-in corpora",
    "experiment": "the lab: experiments that answer the notes' questions with measurements",
}

COMMANDS = {
    "train": Command("lmlab.recipes.lm:train_command", OPTIONS + "LMTrainOptions",
                     "train a language model into a run folder"),
    "sample": Command("lmlab.recipes.lm:sample_command", OPTIONS + "SampleOptions", "generate text from a trained run"),
    "eval": Command("lmlab.recipes.lm:eval_command", OPTIONS + "EvalOptions",
                    "validation loss and perplexity of a run"),
    "distill": Command("lmlab.recipes.distill:distill_command", OPTIONS + "DistillOptions",
                       "train a smaller GPT on a teacher run's soft targets (knowledge distillation)"),
    "quantize": Command("lmlab.recipes.quantize:quantize_command", OPTIONS + "QuantizeOptions",
                        "store a GPT run's weights as int8 (per row) or bf16, as a new run"),
    "runs": Command("lmlab.recipes.run_views:runs_command", OPTIONS + "RunsOptions",
                    "list the run folders under a folder: kind, model, parameters, steps, best metric, time"),
    "plot": Command("lmlab.recipes.run_views:plot_command", OPTIONS + "PlotOptions",
                    "overlay one metric (val_loss, train_loss, ...) of several runs against the step (PNG)"),
    "compare": Command("lmlab.recipes.compare:compare_command", OPTIONS + "CompareOptions",
                       "train every model family on the same text and compare them"),
    "profile": Command("lmlab.recipes.profile:profile_command", OPTIONS + "ProfileOptions",
                       "parameters, FLOPs, memory, latency, throughput and MFU of a run"),
    "classify train": Command("lmlab.recipes.classify:train_command", OPTIONS + "ClassifyTrainOptions",
                              "train a classifier; the best dev checkpoint is kept"),
    "classify eval": Command("lmlab.recipes.classify_eval:eval_command", OPTIONS + "ClassifyEvalOptions",
                             "accuracy, F1, precision, recall, confusion"),
    "classify predict": Command("lmlab.recipes.classify_eval:predict_command", OPTIONS + "ClassifyPredictOptions",
                                "label and probability of each text"),
    "classify errors": Command("lmlab.recipes.classify_eval:errors_command", OPTIONS + "ClassifyErrorsOptions",
                               "error analysis: the mistakes sorted by cause (negation, contrast, unknown words)"),
    "classify compare": Command("lmlab.recipes.classify_compare:compare_command", OPTIONS + "ClassifyCompareOptions",
                                "train several classifier families on one folder; one table"),
    "bert pretrain": Command("lmlab.recipes.bert:pretrain_command", OPTIONS + "PretrainOptions",
                             "pretrain a BERT from scratch with MLM (80/10/10) and NSP"),
    "seq2seq train": Command("lmlab.recipes.seq2seq:train_command", OPTIONS + "Seq2SeqTrainOptions",
                             "train a translation model into a run folder"),
    "seq2seq eval": Command("lmlab.recipes.seq2seq:eval_command", OPTIONS + "Seq2SeqEvalOptions",
                            "corpus BLEU (sacrebleu) and perplexity of a translation run"),
    "translate": Command("lmlab.recipes.seq2seq:translate_command", OPTIONS + "TranslateOptions",
                         "translate text with a trained seq2seq run"),
    "export": Command("lmlab.recipes.interop:export_command", OPTIONS + "ExportOptions",
                      "write a GPT or BERT run as a Hugging Face folder that transformers loads"),
    "import": Command("lmlab.recipes.interop:import_command", OPTIONS + "ImportOptions",
                      "turn a Hugging Face GPT-2, Llama or BERT folder into an lmlab run"),
    "attention": Command("lmlab.recipes.attention:attention_command", OPTIONS + "AttentionOptions",
                         "attention heat maps of a run on a text (PNG)"),
    "word2vec train": Command("lmlab.recipes.word2vec:train_command", TEXT + "Word2VecTrainOptions",
                              "train word vectors on a corpus into a run folder"),
    "word2vec similar": Command("lmlab.recipes.word2vec:similar_command", TEXT + "SimilarOptions",
                                "the nearest words by cosine similarity"),
    "word2vec analogy": Command("lmlab.recipes.word2vec:analogy_command", TEXT + "AnalogyOptions",
                                "A is to B as C is to ?"),
    "word2vec eval": Command("lmlab.recipes.word2vec:eval_command", TEXT + "Word2VecEvalOptions",
                             "analogy accuracy (questions-words.txt) and WordSim-353 Spearman"),
    "word2vec map": Command("lmlab.recipes.word2vec:map_command", TEXT + "WordMapOptions",
                            "2-D PCA map of some words (PNG)"),
    "tokenizer train": Command("lmlab.recipes.tokenizer:train_command", TEXT + "TokenizerTrainOptions",
                               "learn a vocabulary from the training split of a corpus"),
    "tokenizer encode": Command("lmlab.recipes.tokenizer:encode_command", TEXT + "EncodeOptions",
                                "text -> ids and tokens"),
    "tokenizer decode": Command("lmlab.recipes.tokenizer:decode_command", TEXT + "DecodeOptions", "ids -> text"),
    "tokenizer inspect": Command("lmlab.recipes.tokenizer:inspect_command", TEXT + "InspectOptions",
                                 "size, special tokens, longest tokens, tokens per word"),
    "corpus list": Command("lmlab.recipes.corpus:list_command", TEXT + "CorpusListOptions",
                           "the named corpora, their size and whether cached"),
    "corpus download": Command("lmlab.recipes.corpus:download_command", TEXT + "CorpusDownloadOptions",
                               "fetch a corpus into the cache"),
    "experiment list": Command("lmlab.recipes.experiment:list_command", LAB + "ExperimentListOptions",
                               "the experiments: question, notes, run time of each preset"),
    "experiment run": Command("lmlab.recipes.experiment:run_command", LAB + "ExperimentRunOptions",
                              "run an experiment (or all): results.json, report.md, plots"),
    "corpus show": Command("lmlab.recipes.corpus:show_command", TEXT + "CorpusShowOptions",
                           "documents, sizes and the start of the text"),
}
