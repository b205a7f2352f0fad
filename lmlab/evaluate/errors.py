"""Error analysis for sentence classifiers: which kinds of sentences does the model get wrong?

Every misclassified example goes into the first bucket whose test it passes:

    negation   it contains a negation ("not", "never", "n't", "no", "without", ...)
    contrast   it contains a contrast ("but", "however", "though", "although", "yet")
    unknown    it has words the model does not know (out of the vocabulary; for the lexicon
               scorer, no word of the sentence is in the lexicon at all)
    other      none of these

and the report gives, per cause, its count among the errors, a few examples, and the error
rate of *all* sentences with that cue against the overall error rate: a cue the model handles
badly shows a rate well above the overall one.

>>> words("It isn't bad, but...")
['it', 'isn', "'", 't', 'bad', ',', 'but', '...']
>>> causes(words("it isn't bad, but it's long"), has_unknown=False)
['negation', 'contrast']
"""

from __future__ import annotations

from lmlab.tokenizers.word import WORD_PATTERN

NEGATION_CUES = frozenset("not no never nothing nobody none nor neither nowhere without cannot t nt".split())
CONTRAST_CUES = frozenset("but however though although yet".split())
BUCKETS = ("negation", "contrast", "unknown", "other")


def words(text: str) -> list[str]:
    """Lowercased words and punctuation runs, as lmlab's word tokenizer cuts them."""
    return WORD_PATTERN.findall(text.lower())


def causes(tokens: list[str], has_unknown: bool) -> list[str]:
    """Every cue the sentence shows, in bucket order (the first one is its bucket)."""
    found = []
    if any(t in NEGATION_CUES for t in tokens):
        found.append("negation")
    if any(t in CONTRAST_CUES for t in tokens):
        found.append("contrast")
    if has_unknown:
        found.append("unknown")
    return found or ["other"]


def error_report(texts: list[str], labels: list[int], predictions: list[int], unknown: list[bool],
                 examples: int = 3) -> dict:
    """Buckets of the mistakes: {"errors", "examples", "error_rate", "buckets": {cause: {...}}}."""
    n = len(texts)
    wrong = [i for i in range(n) if predictions[i] != labels[i]]
    cues = [causes(words(texts[i]), unknown[i]) for i in range(n)]
    buckets = {}
    for name in BUCKETS:
        mistakes = [i for i in wrong if cues[i][0] == name]
        with_cue = [i for i in range(n) if name in cues[i]]
        buckets[name] = {
            "count": len(mistakes),
            "share": len(mistakes) / max(len(wrong), 1),  # of all the errors
            "error_rate_with_cue": sum(predictions[i] != labels[i] for i in with_cue) / max(len(with_cue), 1),
            "sentences_with_cue": len(with_cue),
            "examples": [{"text": texts[i], "label": labels[i], "predicted": predictions[i]}
                         for i in mistakes[:examples]],
        }
    return {"errors": len(wrong), "examples": n, "error_rate": len(wrong) / max(n, 1), "buckets": buckets}


def format_report(report: dict) -> str:
    lines = [f"{report['errors']} errors in {report['examples']} examples "
             f"(error rate {report['error_rate']:.3f}); by first cause:"]
    for name, bucket in report["buckets"].items():
        lines.append(f"  {name:9s} {bucket['count']:5d} errors ({bucket['share']:.0%} of errors); "
                     f"error rate {bucket['error_rate_with_cue']:.3f} over the {bucket['sentences_with_cue']} "
                     f"sentences with this cue")
        for example in bucket["examples"]:
            lines.append(f"      true {example['label']} predicted {example['predicted']}: {example['text']}")
    return "\n".join(lines)
