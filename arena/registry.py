"""The one registry: short names of families and agents mapped to lazy `module:attr` paths.

Any dotted import path `package.module:Name` works without registering. Agent specs may also
carry a scheme (`openai:MODEL`, `command:"PATH ARGS"`) handled by that scheme's factory.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any, Protocol

from arena.errors import ConfigError
from arena.protocols import Agent, Family
from arena.types import EpisodeKey

FAMILIES: dict[str, str] = {
    "files": "arena.environments.files:FilesFamily",
    "repair": "arena.environments.repair:RepairFamily",
    "helpdesk": "arena.environments.helpdesk:HelpdeskFamily",
    "data": "arena.environments.data:DataFamily",
    "web": "arena.environments.web:WebFamily",
}

AGENTS: dict[str, str] = {
    "oracle": "arena.agents.oracle:OracleAgent",
    "random": "arena.agents.random_agent:RandomAgent",
}

# Schemes: `scheme:rest` agent specs, each built by a factory `(rest, options) -> AgentFactory`.
AGENT_SCHEMES: dict[str, str] = {
    "openai": "arena.agents.openai_chat:make_factory",
    "command": "arena.agents.command:make_factory",
}


class AgentFactory(Protocol):
    """Makes a fresh agent for each episode. `name` is how the agent appears in results;
    `config` is what is stored with the run to repeat it (never secrets)."""

    name: str
    config: dict[str, Any]

    def __call__(self, key: EpisodeKey) -> Agent: ...


def import_path(path: str) -> Any:
    """Import `package.module:attr` (or `package.module.attr`)."""
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise ConfigError(f"{path!r} is not an import path; write it as package.module:Name")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(f"cannot import {module_name!r} for {path!r}: {e}") from e
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigError(f"module {module_name!r} has no attribute {attr!r}") from None


_family_cache: dict[str, Family] = {}


def load_family(name: str) -> Family:
    """A family by short name or import path; families are stateless, so one instance is shared."""
    if name not in _family_cache:
        path = FAMILIES.get(name, name)
        if path == name and ":" not in name:
            known = ", ".join(sorted(FAMILIES))
            raise ConfigError(f"unknown family {name!r}; known families: {known} (or give package.module:Class)")
        obj = import_path(path)
        family = obj() if inspect.isclass(obj) else obj
        for attr in ("name", "version", "generate", "tools", "setup", "check", "solution"):
            if not hasattr(family, attr):
                raise ConfigError(f"{path} is not a family: it has no {attr!r}")
        _family_cache[name] = family
    return _family_cache[name]


class ClassAgentFactory:
    """Agents given as a class: instantiated per episode, with `seed=` when the class takes it.
    A user's class (`threaded`) runs on its own event loop in its own thread, so an `act()` that
    blocks cannot stall the other episodes (`arena.agent_thread`)."""

    def __init__(
        self, name: str, cls: Callable[..., Agent], options: dict[str, Any], *, threaded: bool = False
    ) -> None:
        self.name = name
        self.cls = cls
        self.threaded = threaded
        self.config: dict[str, Any] = {"class": name, **options}
        self.options = options
        params = inspect.signature(cls).parameters
        self._takes_seed = "seed" in params
        unknown = set(options) - set(params) if not any(
            p.kind is p.VAR_KEYWORD for p in params.values()
        ) else set()
        if unknown:
            raise ConfigError(f"agent {name!r} does not take options {sorted(unknown)}")

    def __call__(self, key: EpisodeKey) -> Agent:
        kwargs = dict(self.options)
        if self._takes_seed:
            kwargs["seed"] = hash_seed(key.id)
        agent = self.cls(**kwargs)
        if self.threaded:
            from arena.agent_thread import ThreadedAgent

            return ThreadedAgent(agent)
        return agent


def hash_seed(text: str) -> int:
    """A seed that depends only on the text (Python's hash() is salted per process)."""
    import hashlib

    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def agent_factory(spec: str, options: dict[str, Any] | None = None) -> AgentFactory:
    """Resolve an agent spec: a short name, `scheme:rest`, or `package.module:Class`."""
    options = dict(options or {})
    if spec in AGENTS:
        return ClassAgentFactory(spec, import_path(AGENTS[spec]), options)
    scheme, sep, rest = spec.partition(":")
    if sep and scheme in AGENT_SCHEMES:
        if not rest:
            raise ConfigError(f"agent spec {spec!r} needs something after '{scheme}:'")
        return import_path(AGENT_SCHEMES[scheme])(rest, options)
    if (sep and "." in scheme) or (sep and scheme.isidentifier() and rest.isidentifier()):
        obj = import_path(spec)
        if not callable(obj):
            raise ConfigError(f"{spec} is not a class or factory")
        return ClassAgentFactory(spec, obj, options, threaded=True)
    known = ", ".join([*sorted(AGENTS), *(f"{s}:..." for s in sorted(AGENT_SCHEMES))])
    raise ConfigError(f"unknown agent {spec!r}; known agents: {known}, or package.module:Class")
