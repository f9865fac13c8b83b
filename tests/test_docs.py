"""The documentation covers the registries: a page per detector, a section per data set.

These read the docs source and the pages `docs/hooks.py` generates, without building the site
(`mkdocs build --strict` in `.ci/run` does that, in about 40 s).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
import yaml

from ganad_jax import data, detectors

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def hooks():
    """docs/hooks.py, imported as MkDocs does (its folder on the path for its sibling module)."""
    sys.path.insert(0, str(DOCS))
    try:
        spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
        module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(DOCS))
    return module


@pytest.fixture(scope="module")
def pages(hooks):
    """The generated pages by path."""
    return {page.path: page for page in hooks.pages()}


@pytest.fixture(scope="module")
def nav_paths(hooks, pages):
    """Every page path in the nav of mkdocs.yml once the generated pages are placed."""
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]
    hooks.place(nav, list(pages.values()))
    paths = []

    def walk(items):
        for item in items:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            walk(value) if isinstance(value, list) else paths.append(value)

    walk(nav)
    return paths


def test_every_detector_has_a_page(pages, nav_paths):
    for name in detectors.names():
        detector = detectors.get(name)
        page = pages[f"detectors/{name}.md"]
        assert page.path in nav_paths and page.section == "detectors/index.md"
        assert f"::: {detector.config_cls.__module__}\n" in page.markdown
        for modality in detector.modalities:
            assert re.search(rf"^\| {modality} \| `\w+`", page.markdown, re.MULTILINE), modality


def test_detector_pages_list_the_default_head_first(pages):
    page = pages["detectors/ganomaly.md"].markdown
    assert "| image | `latent`, `reconstruction` | per pixel |" in page
    assert "| series | `dr`, " in pages["detectors/mad-gan.md"].markdown


def test_every_data_set_has_a_section(pages, nav_paths):
    page = pages["data/sets.md"]
    assert page.path in nav_paths
    for name in data.names():
        assert re.search(
            rf"^## `{re.escape(name)}(:[A-Z]+)?` \{{#{re.escape(name)}\}}$",
            page.markdown,
            re.MULTILINE,
        ), name


def test_every_experiment_and_result_table_is_shown(pages, nav_paths):
    for module in (ROOT / "experiments").glob("*.py"):
        if module.name != "run.py":
            assert f"experiments/{module.stem}.md" in nav_paths
    shown = "\n".join(page.markdown for page in pages.values())
    for table in (ROOT / "experiments" / "results").glob("*.md"):
        body = table.read_text().split("\n", 1)[1]  # below its title, which is demoted
        assert body in shown, table.name


def test_every_page_is_in_the_nav_and_every_nav_entry_exists(pages, nav_paths):
    written = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert not written & set(pages), "a generated page would replace a written one"
    assert sorted(nav_paths) == sorted(written | set(pages))


def test_plain_text_reads_as_written(hooks):
    from plain_markdown import as_markdown

    text = (
        "Deviations:\n- one\n  more\n- two\n\n    code <x>\n    - kept\n```\nx <y>\n- fenced\n```"
    )
    assert as_markdown(text) == text.replace("Deviations:\n", "Deviations:\n\n")
    assert as_markdown("test/<defect> `a/<b>` <https://x.org> a <= b") == (
        "test/&lt;defect> `a/<b>` <https://x.org> a <= b"
    )
