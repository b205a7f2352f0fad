"""No broken relative link in any Markdown file of the project (README, docs/, docs/lab/, benchmarks/)."""

import re

import pytest

from conftest import REPO

SKIPPED_FOLDERS = {".venv", ".git", "runs", "node_modules"}
LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")  # [text](target "title")


def markdown_files() -> list:
    return sorted(path for path in REPO.rglob("*.md") if not SKIPPED_FOLDERS & set(path.relative_to(REPO).parts))


def relative_links(text: str) -> list[str]:
    """The link targets of a page that point into the project (code blocks, URLs and anchors left out)."""
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    targets = [target.split("#")[0] for target in LINK.findall(prose)]
    return [target for target in targets if target and not re.match(r"[a-z][a-z0-9+.-]*:", target)]


def test_the_link_finder_sees_links_and_skips_urls_and_code():
    page = "[a](docs/a.md#x) [b](https://x.org/b.md) [c](#top) ![d](d.png \"title\")\n```\n[e](e.md)\n```"
    assert relative_links(page) == ["docs/a.md", "d.png"]


@pytest.mark.parametrize("page", markdown_files(), ids=lambda path: str(path.relative_to(REPO)))
def test_every_relative_link_resolves(page):
    missing = [target for target in relative_links(page.read_text(encoding="utf-8"))
               if not (page.parent / target).exists()]
    assert not missing, f"{page.relative_to(REPO)} links to missing files: {missing}"
