"""Tamper evidence for in-process agents.

A class agent is the user's own code in the arena's process: it could patch a family's `check` or
any helper the grader uses. It cannot be stopped from trying, but it can be seen cheaply: a
fingerprint of the arena's code (every function, its code object, every class attribute of the
modules under `arena`) is taken when the run starts and compared before each grading. An episode
graded with changed code fails a `arena_unchanged` guard check that names what changed.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from arena.protocols import EpisodeEnv
from arena.types import Check, EpisodeResult
from arena.wrappers import EpisodeWrapper

Fingerprint = dict[str, int]


def _entries(prefix: str, obj: Any) -> dict[str, int]:
    found = {prefix: id(obj)}
    code = getattr(obj, "__code__", None)
    if code is not None:
        found[prefix + ".__code__"] = id(code)
    return found


def fingerprint(packages: tuple[str, ...] = ("arena",)) -> Fingerprint:
    """Identities of the functions, code objects and class attributes of the packages' modules."""
    found: Fingerprint = {}
    for name, module in list(sys.modules.items()):
        inside = any(name == p or name.startswith(p + ".") for p in packages)
        if not isinstance(module, types.ModuleType) or not inside:
            continue
        for attr, value in list(vars(module).items()):
            if isinstance(value, types.FunctionType) and value.__module__ == name:
                found.update(_entries(f"{name}.{attr}", value))
            elif isinstance(value, type) and value.__module__ == name:
                for member, item in list(vars(value).items()):
                    if isinstance(item, types.FunctionType | classmethod | staticmethod | property):
                        target = getattr(item, "__func__", None) or getattr(item, "fget", None) or item
                        found.update(_entries(f"{name}.{attr}.{member}", target))
    return found


def packages_of(objects: list[object]) -> tuple[str, ...]:
    """The arena and the top-level packages the given objects (a run's families) come from."""
    return tuple(sorted({"arena", *(type(o).__module__.split(".")[0] for o in objects)}))


def changed(before: Fingerprint, now: Fingerprint | None = None, packages: tuple[str, ...] = ("arena",)) -> list[str]:
    """What of `before` is different or gone now (modules imported later are not a change)."""
    now = fingerprint(packages) if now is None else now
    return sorted(name for name, ident in before.items() if now.get(name) != ident)


class TamperEvident(EpisodeWrapper):
    """Fails the episode, with the reason, when the arena's code changed while it ran."""

    def __init__(self, inner: EpisodeEnv, baseline: Fingerprint, packages: tuple[str, ...]) -> None:
        super().__init__(inner)
        self.baseline = baseline
        self.packages = packages

    async def finish(self) -> EpisodeResult:
        altered = changed(self.baseline, packages=self.packages)
        result = await self.inner.finish()
        if not altered or result.outcome == "error":
            return result
        shown = ", ".join(altered[:5]) + (f" and {len(altered) - 5} more" if len(altered) > 5 else "")
        guard = Check(name="arena_unchanged", passed=False, kind="guard",
                      detail=f"the arena's code was changed at run time: {shown}")
        return result.model_copy(update={"checks": [*result.checks, guard], "outcome": "fail"})
