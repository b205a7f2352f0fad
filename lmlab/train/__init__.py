"""Training: the one loop, checkpoints and the run folder, schedules, data parallelism."""
