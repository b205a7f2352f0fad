"""Evaluation: perplexity and the other metrics of the notes."""
