"""End-to-end jobs the command line runs; each wires library pieces together."""
