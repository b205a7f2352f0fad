"""Shared fixtures: tiny models and text, and where the shared real data lives."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_data(relative: str) -> Path:
    """A file under ../shared/data, or skip the test: a user's fresh clone does not have it."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared development data only exists beside the project checkout)")
    return path


@pytest.fixture
def text_file(tmp_path) -> Path:
    """A small real-looking text corpus (a few kilobytes) in a temporary folder."""
    lines = [f"Line {i}: the quick brown fox jumps over the lazy dog, says voice number {i % 7}." for i in range(120)]
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
