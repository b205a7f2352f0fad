"""Building blocks shared by every model: attention, masks, MLPs, caches (one concept per file)."""
