"""Model families, one per file, composed from `lmlab.nn` blocks."""
