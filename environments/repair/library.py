"""Generated Python libraries with mutation sites, and the tests that catch each mutation.

A `LibrarySpec` is a small package written as `string.Template` text: module sources, mutation
sites (an exact original snippet and its buggy variant) and test functions, each declaring which
sites it catches directly (it calls the buggy function) or indirectly (through another module).
Names and data vary per seed and split; `build_library` renders one concrete instance.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from string import Template
from typing import Literal

from arena.types import Split

MutationKind = Literal["off_by_one", "comparison", "swapped_args", "wrong_default", "missed_edge_case"]

MUTATION_KINDS: dict[MutationKind, str] = {
    "off_by_one": "a count, index or bound is one off",
    "comparison": "a comparison operator is wrong (< for <=, > for >=)",
    "swapped_args": "two arguments of a call are swapped",
    "wrong_default": "a parameter's default value is wrong",
    "missed_edge_case": "an edge case (empty input, zero) is no longer handled",
}


@dataclass(frozen=True)
class Site:
    """One place a bug can be injected: `original` (whole lines) becomes `mutated` in `module`."""

    key: str
    kind: MutationKind
    module: str
    original: str
    mutated: str


@dataclass(frozen=True)
class SpecTest:
    """One test function (its full source, as a template) in test file area `area`."""

    area: str
    source: str
    direct: frozenset[str] = frozenset()
    indirect: frozenset[str] = frozenset()

    @property
    def catches(self) -> frozenset[str]:
        return self.direct | self.indirect


ValuesFn = Callable[[random.Random, Split], dict[str, str]]


@dataclass(frozen=True)
class LibrarySpec:
    """A library template. `names` maps placeholders to synonyms: dev draws from even positions,
    test from odd ones, so the two splits never share a function name."""

    template: str
    summary: str  # e.g. "a small inventory library (stock levels, reorders, batches)"
    packages: Mapping[Split, tuple[str, ...]]
    names: Mapping[str, tuple[str, ...]]
    modules: Mapping[str, str]  # file inside the package -> source template
    headers: Mapping[str, str]  # test area -> imports template
    sites: tuple[Site, ...]
    tests: tuple[SpecTest, ...]
    values: ValuesFn
    # Pairs of sites whose bugs can mask each other in the tests; never injected together.
    conflicts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RenderedSite:
    key: str
    kind: MutationKind
    path: str  # relative to the work directory
    original: str
    mutated: str


@dataclass(frozen=True)
class RenderedTest:
    name: str
    area: str
    source: str
    direct: frozenset[str]
    indirect: frozenset[str]

    @property
    def catches(self) -> frozenset[str]:
        return self.direct | self.indirect


@dataclass(frozen=True)
class Library:
    """One concrete library: original sources, its mutation sites and its tests."""

    template: str
    summary: str
    package: str
    files: dict[str, str]  # work-dir relative path -> original source
    sites: dict[str, RenderedSite]
    tests: list[RenderedTest]
    headers: dict[str, str] = field(default_factory=dict)
    conflicts: tuple[tuple[str, str], ...] = ()

    def compatible(self, keys: Iterable[str]) -> bool:
        chosen = set(keys)
        return not any(a in chosen and b in chosen for a, b in self.conflicts)


def pick_names(spec: LibrarySpec, rng: random.Random, split: Split) -> dict[str, str]:
    offset = 0 if split == "dev" else 1
    return {key: rng.choice(options[offset::2]) for key, options in sorted(spec.names.items())}


def render(text: str, mapping: Mapping[str, str]) -> str:
    return Template(text).substitute(mapping)


def build_library(spec: LibrarySpec, rng: random.Random, split: Split) -> Library:
    package = rng.choice(spec.packages[split])
    mapping = {"pkg": package, **pick_names(spec, rng, split), **spec.values(rng, split)}
    files = {f"{package}/{name}": render(src, mapping) for name, src in spec.modules.items()}
    sites = {}
    for site in spec.sites:
        path = f"{package}/{site.module}"
        original, mutated = render(site.original, mapping), render(site.mutated, mapping)
        rendered = RenderedSite(site.key, site.kind, path, original, mutated)
        if files[path].count(rendered.original) != 1:
            raise ValueError(f"{spec.template}: site {site.key} does not occur exactly once in {path}")
        sites[site.key] = rendered
    tests = []
    for case in spec.tests:
        source = render(case.source, mapping)
        match = re.search(r"^def (test_\w+)\(", source, re.MULTILINE)
        if match is None:
            raise ValueError(f"{spec.template}: test without a test function: {source[:60]!r}")
        tests.append(RenderedTest(match.group(1), case.area, source, case.direct, case.indirect))
    headers = {area: render(text, mapping) for area, text in spec.headers.items()}
    return Library(spec.template, spec.summary, package, files, sites, tests, headers, spec.conflicts)


def mutate(library: Library, keys: Iterable[str]) -> dict[str, str]:
    """The library's files with the given sites' bugs injected."""
    files = dict(library.files)
    for key in keys:
        site = library.sites[key]
        if files[site.path].count(site.original) != 1:
            raise ValueError(f"site {key} overlaps another injected bug in {site.path}")
        files[site.path] = files[site.path].replace(site.original, site.mutated, 1)
    return files


def revert_edits(library: Library, keys: Iterable[str]) -> list[tuple[str, str, str]]:
    """(path, old, new) edits that undo the given bugs; each `old` is unique when applied in order."""
    keys = list(keys)
    files = mutate(library, keys)
    edits = []
    for key in keys:
        site = library.sites[key]
        if files[site.path].count(site.mutated) != 1:
            raise ValueError(f"the bug at {key} cannot be reverted by a unique edit in {site.path}")
        files[site.path] = files[site.path].replace(site.mutated, site.original, 1)
        edits.append((site.path, site.mutated, site.original))
    if files != library.files:
        raise ValueError("reverting the bugs does not restore the original sources")
    return edits


def render_test_file(library: Library, area: str, tests: Iterable[RenderedTest]) -> str:
    """A test file for `area`: its header, then the test functions, two blank lines apart."""
    body = "\n\n".join(t.source.strip("\n") + "\n" for t in tests)
    return f"{library.headers[area].rstrip()}\n\n\n{body}"
