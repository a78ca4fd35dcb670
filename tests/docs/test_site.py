"""The documentation site has the pages a user looks for, and each one is in the navigation.

`make docs` builds it with `mkdocs build --strict`, which fails on a broken link, a page left out
of the navigation or a docstring the API reference cannot read.
"""

from __future__ import annotations

import yaml

from _markdown import ROOT, links

DOCS = ROOT / "docs"


def nav_pages(entries: list[object]) -> list[str]:
    pages: list[str] = []
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages += nav_pages(value) if isinstance(value, list) else [str(value)]
    return pages


def config() -> dict[str, object]:
    # mkdocs.yml holds no Python tags, so the safe loader reads it.
    return yaml.safe_load((ROOT / "mkdocs.yml").read_text())


def test_every_topic_has_a_page_in_the_navigation() -> None:
    pages = nav_pages(config()["nav"])  # type: ignore[arg-type]
    for page in [
        "index.md",
        "getting-started/pytorch.md",
        "getting-started/keras.md",
        "getting-started/jax.md",
        "reading.md",
        "schedules.md",
        "refinding.md",
        "race.md",
        "cli.md",
        "benchmarks.md",
        "architecture.md",
        "reference/lrfinder.md",
        "reference/torch.md",
    ]:
        assert page in pages
    assert all((DOCS / page).is_file() for page in pages)
    assert len(pages) == len(set(pages))


def test_the_build_is_strict() -> None:
    assert config()["strict"] is True
    assert "mkdocs build --strict" in (ROOT / "Makefile").read_text()


def test_keras_page_explains_the_backend_before_the_import() -> None:
    text = (DOCS / "getting-started" / "keras.md").read_text()
    assert text.index('os.environ["KERAS_BACKEND"]') < text.index("import keras")


def test_included_files_are_the_repository_files() -> None:
    # The benchmarks and the architecture are included, not copied, so they cannot drift.
    assert '--8<-- "BENCHMARKS.md"' in (DOCS / "benchmarks.md").read_text()
    assert (DOCS / "architecture.md").read_text().strip() == '--8<-- "ARCHITECTURE.md"'


def test_pages_link_within_the_site_or_to_absolute_urls() -> None:
    for page in DOCS.rglob("*.md"):
        for target in links(page):
            assert not target.startswith(("../README", "README", "BENCHMARKS.md", "docs/")), (
                page,
                target,
            )
