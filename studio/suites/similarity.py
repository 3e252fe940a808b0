"""`similar` without a network or a model: the cosine similarity of the two texts' word counts.

Each text becomes the counts of its words (case folded, Unicode letters and digits); the similarity is the
cosine of the angle between the two count vectors: 1.0 for the same words in any order, 0.0 for no word in
common. It sees shared wording, not meaning: synonyms and paraphrases score low, which is why a replayed
turn's default threshold (0.75) asks for "mostly the same words", not "the same sense". Linear in the
texts' length, so checking 10,000 answers costs milliseconds.
"""

from __future__ import annotations

import math
import re
from collections import Counter

_WORD = re.compile(r"\w+")


def words(text: str) -> Counter[str]:
    return Counter(_WORD.findall((text or "").casefold()))


def similarity(a: str, b: str) -> float:
    """From 0.0 (no word in common) to 1.0 (the same words, as often); two empty texts are the same."""
    first, second = words(a), words(b)
    if not first and not second:
        return 1.0
    if not first or not second:
        return 0.0
    dot = sum(count * second[word] for word, count in first.items() if word in second)
    norm = math.sqrt(sum(c * c for c in first.values())) * math.sqrt(sum(c * c for c in second.values()))
    return min(1.0, dot / norm)
