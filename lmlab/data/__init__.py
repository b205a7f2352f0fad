"""Data: named corpora and local text, token-id arrays and batches."""
