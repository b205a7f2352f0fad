"""Constants shared across layers, torch-free so that tokenizers and data code can use them."""

PAD = -1  # the id lmlab pads token tensors with: never a real token, and ignored by the loss
