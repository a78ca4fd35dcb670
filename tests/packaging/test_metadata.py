"""The metadata in pyproject.toml is what an index needs: license, authors, URLs, extras, one
version."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib

import pytest

from _markdown import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
TOOLS = {"dev", "docs"}  # extras that install tools, not features of lrfinder


def test_license_is_mit_and_ships_its_text() -> None:
    assert PROJECT["license"] == "MIT"  # an SPDX expression, not a table
    assert PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n\nCopyright (c) ")
    assert "The above copyright notice and this permission notice shall be included" in text
    # With an SPDX expression, License :: classifiers are redundant and rejected by PyPI.
    assert not [c for c in PROJECT["classifiers"] if c.startswith("License ::")]


def test_authors_keywords_and_classifiers() -> None:
    assert PROJECT["authors"] and all(a["name"] for a in PROJECT["authors"])
    assert {"learning rate", "pytorch", "keras", "jax"} <= set(PROJECT["keywords"])
    minimum = re.fullmatch(r">=3\.(\d+)", PROJECT["requires-python"].split("#")[0].strip())
    assert minimum
    versions = {
        c.rsplit(" ", 1)[1]
        for c in PROJECT["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    assert f"3.{minimum[1]}" in versions
    assert all(int(v.split(".")[1]) >= int(minimum[1]) for v in versions)
    assert "Typing :: Typed" in PROJECT["classifiers"]
    assert (ROOT / "src" / "lrfinder" / "py.typed").exists()


def test_project_urls_are_consistent() -> None:
    urls = PROJECT["urls"]
    repo = urls["Homepage"]
    assert re.fullmatch(r"https://github\.com/[\w-]+/lrfinder", repo)
    assert urls["Issues"] == f"{repo}/issues"
    assert urls["Source"] == repo
    owner = repo.split("/")[3]
    assert urls["Documentation"] == f"https://{owner}.github.io/lrfinder/"
    mkdocs = (ROOT / "mkdocs.yml").read_text()
    assert f"site_url: {urls['Documentation']}\n" in mkdocs
    assert f"repo_url: {repo}\n" in mkdocs


def expand(extra: str) -> set[str]:
    """An extra and every extra it pulls in through ``lrfinder[...]``."""
    found = {extra}
    for requirement in PROJECT["optional-dependencies"][extra]:
        if match := re.fullmatch(r"lrfinder\[([\w,]+)\]", requirement):
            for name in match[1].split(","):
                found |= expand(name)
    return found


def test_all_holds_every_feature_extra() -> None:
    extras = set(PROJECT["optional-dependencies"])
    assert expand("all") == extras - TOOLS
    assert expand("dev") == extras


def test_the_version_lives_in_one_place() -> None:
    assert "version" not in PROJECT
    assert PROJECT["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["hatch"]["version"]["path"] == "src/lrfinder/__init__.py"
    import lrfinder

    assert re.fullmatch(r"\d+\.\d+\.\d+", lrfinder.__version__)
    try:
        installed = importlib.metadata.version("lrfinder")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - run from a plain tree
        pytest.skip("lrfinder is not installed")
    assert installed == lrfinder.__version__, "reinstall: make -B .venv/.dev"
