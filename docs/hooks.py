"""MkDocs hooks: the pages that follow the code, generated at every build.

Every registered detector gets a page, every registered data set an anchored section, every
experiment module and result table, the benchmark notes and every module of the package a page,
so what is added to the code appears on the site without editing the docs. `pages()` makes them;
`place(nav, pages)` puts each after the index page of its section in the nav of mkdocs.yml.
`tests/test_docs.py` checks them against the registries.
"""

from __future__ import annotations

import ast
import dataclasses
import fnmatch
import inspect
import os
import re
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("JAX_PLATFORMS", "cpu")  # only shapes are traced: no accelerator needed

import jax  # noqa: E402
from mkdocs.config.defaults import MkDocsConfig  # noqa: E402
from mkdocs.exceptions import PluginError  # noqa: E402
from mkdocs.structure.files import File, Files  # noqa: E402
from plain_markdown import as_markdown  # noqa: E402

from ganad_jax import data, detectors  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "experiments"
SAMPLE_FEATURES = {"tabular": 10, "series": 3}
"""Features of the abstract batches whose score shapes give a detector's heads (as the tests)."""


@dataclasses.dataclass(frozen=True)
class Page:
    """A generated page: its path under docs/, its nav title, its section's index page, its text."""

    path: str
    title: str
    section: str
    markdown: str


def pages() -> list[Page]:
    """Every generated page, in nav order within each section."""
    return [
        *(
            Page(f"detectors/{n}.md", n, "detectors/index.md", detector_page(n))
            for n in detectors.names()
        ),
        Page("data/sets.md", "Every data set", "data/index.md", data_sets_page()),
        *experiment_pages(),
        Page(
            "benchmarks/measurements.md",
            "Measurements",
            "benchmarks/index.md",
            (EXPERIMENTS / "bench.md").read_text(),
        ),
        *api_pages(),
    ]


def place(nav: list[Any], generated: list[Page]) -> None:
    """Insert each page into `nav` (mkdocs.yml's) right after its section's index page."""
    for section in dict.fromkeys(page.section for page in generated):
        entries = [{page.title: page.path} for page in generated if page.section == section]
        if not _insert_after(nav, section, entries):
            raise PluginError(f"mkdocs.yml: the nav has no {section!r} for its generated pages")


def _insert_after(nav: list[Any], target: str, entries: list[dict[str, str]]) -> bool:
    for i, item in enumerate(nav):
        value = next(iter(item.values())) if isinstance(item, dict) else item
        if value == target:
            nav[i + 1 : i + 1] = entries
            return True
        if isinstance(value, list) and _insert_after(value, target, entries):
            return True
    return False


def detector_page(name: str) -> str:
    """A detector's page: paper, inputs, score heads, module docstring, config defaults."""
    detector = detectors.get(name)
    config_cls = detector.config_cls
    module = config_cls.__module__
    papers = re.findall(r"arXiv:(\d{4}\.\d{4,5})", inspect.getdoc(sys.modules[module]) or "")
    links = "".join(f", [arXiv:{p}](https://arxiv.org/abs/{p})" for p in dict.fromkeys(papers))
    rows = "\n".join(
        f"| {modality} | {_heads(scores)} | {_map_kind(scores)} |"
        for modality, scores in ((m, score_shapes(detector, m)) for m in detector.modalities)
    )
    return f"""# `{name}`

{detector.description}.

Paper: {detector.description.split(":", 1)[0]}{links}.

Config: `{module}.{config_cls.__name__}` (fields [below](#config-fields), set with
`ganad train {name} --set FIELD=VALUE` or as keyword arguments of the estimator).

| input | score heads (default first) | anomaly map |
|---|---|---|
{rows}

## Objective, score and deviations

::: {module}
    options:
      show_root_heading: false
      show_root_toc_entry: false
      members: false

## Config fields

The defaults are the paper's; a field's type and range are checked before anything runs.

| field | type | default |
|---|---|---|
{_config_rows(config_cls)}
"""


def score_shapes(detector: detectors.Detector, modality: str) -> detectors.Scores:
    """The abstract `Scores` of the default config on a small batch of `modality` (no compile)."""
    config = detector.config_cls()
    if modality == "image":
        shape = (2, config.image_size, config.image_size, 1)
    elif modality == "series":
        shape = (2, config.window, SAMPLE_FEATURES["series"])
    else:
        shape = (2, SAMPLE_FEATURES["tabular"])

    def run(x: jax.Array) -> detectors.Scores:
        return detector.score(config, detector.init(config, jax.random.key(0), x), x)

    return jax.eval_shape(run, jax.ShapeDtypeStruct(shape, "float32"))


def _heads(scores: detectors.Scores) -> str:
    names = [scores.default, *(h for h in scores.heads if h != scores.default)]
    return ", ".join(f"`{h}`" for h in names)


def _map_kind(scores: detectors.Scores) -> str:
    if scores.anomaly_map is None:
        return "none"
    return "per pixel" if len(scores.anomaly_map.shape) == 3 else "per time step"


def _config_rows(config_cls: type) -> str:
    rows = []
    for field in dataclasses.fields(config_cls):
        default = (
            field.default
            if field.default_factory is dataclasses.MISSING
            else field.default_factory()
        )
        rows.append(f"| `{field.name}` | {_cell(str(field.type))} | {_cell(repr(default))} |")
    return "\n".join(rows)


def _cell(text: str) -> str:
    """`text` as a code span that a table cell holds (pipes escaped)."""
    return "`" + text.replace("|", "\\|") + "`"


def data_sets_page() -> str:
    """One anchored section per registered data set: modality, protocol, options, its loader."""
    sections = []
    for name in data.names():
        source = data.get(name)
        shown = f"{name}:{source.arg}" if source.arg else name
        options = "\n".join(f"| `{k}` | {_cell(repr(v))} |" for k, v in source.defaults.items())
        quantile = (
            f"Runs threshold at the {source.threshold_quantile} validation quantile by default.\n\n"
            if source.threshold_quantile is not None
            else ""
        )
        loader = f"{source.load.__module__}.{source.load.__qualname__}"
        sections.append(f"""## `{shown}` {{#{name}}}

{source.description}.

Modality: {source.modality}; protocol: `{source.default_protocol()}`
([protocols](index.md#protocols)); loaded by `{loader}`.

{inspect.getdoc(source.load) or ""}

{quantile}| option | default |
|---|---|
{options or "| (none) | |"}
""")
    return (
        "# Every data set\n\n"
        "Each registered data set (`ganad data list`), with its default protocol options; set them\n"
        "with `--set key=value` (`ganad train`, `ganad data show`) or as keyword arguments of\n"
        "`ganad_jax.data.load`.\n\n" + "\n".join(sections)
    )


def experiment_pages() -> list[Page]:
    """A page per experiment module (its docstring and its result tables); stray tables alone."""
    modules = sorted(p for p in EXPERIMENTS.glob("*.py") if p.name != "run.py")
    tables = {p.stem: p for p in sorted((EXPERIMENTS / "results").glob("*.md"))}
    docs = {p.stem: ast.get_docstring(ast.parse(p.read_text())) or "" for p in modules}
    owned = {stem: [tables.pop(stem)] if stem in tables else [] for stem in docs}
    for stem, doc in docs.items():
        for pattern in re.findall(r"results/([\w<>*]+)\.", doc):
            pattern = re.sub(r"<\w+>", "*", pattern)
            for table in [t for t in tables if fnmatch.fnmatch(t, pattern)]:
                owned[stem].append(tables.pop(table))
    out = []
    for stem, doc in docs.items():
        results = "".join(f"\n\n{_demoted(t.read_text())}" for t in owned[stem])
        text = f"# {stem}\n\n`experiments/{stem}.py`:\n\n{doc}{results}\n"
        out.append(Page(f"experiments/{stem}.md", stem, "experiments/index.md", text))
    for stem, table in tables.items():
        out.append(
            Page(f"experiments/results/{stem}.md", stem, "experiments/index.md", table.read_text())
        )
    return out


def _demoted(markdown: str) -> str:
    """`markdown` with every heading one level deeper, to sit under a page's title."""
    return re.sub(r"^#", "##", markdown, flags=re.MULTILINE)


def api_pages() -> list[Page]:
    """A reference page per module of the package, rendered from its docstrings."""
    out = []
    for path in sorted((ROOT / "ganad_jax").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        dotted = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out.append(
            Page(f"api/{dotted}.md", dotted, "api/index.md", f"# `{dotted}`\n\n::: {dotted}\n")
        )
    return sorted(out, key=lambda page: page.title)


_generated: list[Page] = []
"""The pages of the build under way (made once in `on_config`, added in `on_files`)."""


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Make the generated pages and put them into the nav."""
    _generated[:] = pages()
    place(config.nav, _generated)
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the generated pages to the site's files."""
    for page in _generated:
        files.append(File.generated(config, page.path, content=page.markdown))
    return files


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Every page's lists and placeholders as written (see `plain_markdown`)."""
    return as_markdown(markdown)
