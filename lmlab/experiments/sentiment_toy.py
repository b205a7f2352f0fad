"""A synthetic sentiment set for the lab's tiny presets: SST-2-like sentences with no download.

A sentence is a template filled with a subject, one to three opinion words of one polarity (the
label) and neutral filler, e.g. ``"the acting was wonderful and the soundtrack felt charming"``
(1). The words are long enough (3+ letters) for typos to hit them, and varied enough that a
small subword vocabulary cuts them into pieces. Seeded and pure: the same (n, seed), the same set.

>>> [(e.text, e.label) for e in synthetic_sentiment(2, seed=0)]  # doctest: +ELLIPSIS
[('...', ...), ('...', ...)]
"""

from __future__ import annotations

import random

from lmlab.data.classification import Example

POSITIVE = ["wonderful", "charming", "brilliant", "delightful", "moving", "gorgeous", "hilarious", "superb",
            "touching", "engaging", "terrific", "enjoyable", "beautiful", "masterful", "thrilling", "lovely"]
NEGATIVE = ["terrible", "boring", "dreadful", "tedious", "clumsy", "awful", "lifeless", "pointless", "annoying",
            "forgettable", "shallow", "painful", "miserable", "incoherent", "sloppy", "dull"]
SUBJECTS = ["the acting", "the story", "the film", "this movie", "the script", "the soundtrack", "the ending",
            "the cast", "the direction", "the dialogue", "every scene", "the photography"]
LINKS = ["was", "felt", "seemed", "looked", "remained", "turned out"]
FILLERS = ["from start to finish", "for most of its running time", "in the second half", "despite the budget",
           "at the festival", "with its famous lead", "in every way", "more than once"]


def synthetic_sentence(rng: random.Random, label: int) -> str:
    words = POSITIVE if label else NEGATIVE
    opinions = rng.sample(words, rng.randint(1, 3))
    parts = [f"{rng.choice(SUBJECTS)} {rng.choice(LINKS)} {opinions[0]}"]
    parts += [f"and {rng.choice(SUBJECTS)} {rng.choice(LINKS)} {opinion}" for opinion in opinions[1:]]
    if rng.random() < 0.5:
        parts.append(rng.choice(FILLERS))
    return " ".join(parts)


def synthetic_sentiment(n: int, seed: int) -> list[Example]:
    """`n` labelled sentences, labels alternating 1, 0 (balanced)."""
    rng = random.Random(seed)
    return [Example(synthetic_sentence(rng, i % 2 == 0), int(i % 2 == 0)) for i in range(n)]
