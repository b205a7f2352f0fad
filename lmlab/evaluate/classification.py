"""Classification metrics: accuracy, and precision, recall and F1 of the positive class.

With TP, FP, FN the true positives, false positives and false negatives of class 1,

    precision = TP / (TP + FP)    of what was called positive, how much was
    recall    = TP / (TP + FN)    of what was positive, how much was found
    F1        = 2 P R / (P + R)   their harmonic mean: high only when both are

>>> classification_report([1, 1, 0, 0], [1, 0, 0, 1])["f1"]
0.5

The confusion matrix is ``confusion[true][predicted]``. A ratio with a zero denominator is 0.
"""

from __future__ import annotations


def classification_report(predictions, labels, n_labels: int = 2, positive: int = 1) -> dict:
    """predictions and labels: sequences of class ids -> accuracy, precision, recall, f1, confusion."""
    predictions, labels = [int(p) for p in predictions], [int(y) for y in labels]
    confusion = [[0] * n_labels for _ in range(n_labels)]
    for predicted, true in zip(predictions, labels):
        confusion[true][predicted] += 1
    tp = confusion[positive][positive]
    fp = sum(confusion[c][positive] for c in range(n_labels)) - tp
    fn = sum(confusion[positive]) - tp
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    correct = sum(confusion[c][c] for c in range(n_labels))
    return {"accuracy": correct / max(len(labels), 1), "f1": f1, "precision": precision, "recall": recall,
            "confusion": confusion, "examples": len(labels)}
