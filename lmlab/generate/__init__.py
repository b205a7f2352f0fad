"""Decoding: turning next-token distributions into text."""
