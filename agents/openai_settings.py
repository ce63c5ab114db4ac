"""Settings of `openai:` agents: the options model, `MODEL@CONFIG.toml` specs, prices and prompts.

Everything here is resolved once per factory, before any episode runs, so a bad option, an
unreadable prompt file or a malformed price table fails the run at once with a clear message.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from arena.errors import ConfigError

DEFAULT_BASE_URL = "https://api.openai.com/v1"
PROMPT_NAMES = ("system_tools", "system_text", "task", "result", "note", "text_reminder", "tool_list", "cut_off")


class Price(BaseModel):
    """USD per million tokens."""

    model_config = ConfigDict(extra="forbid")

    input: float = Field(ge=0)
    output: float = Field(ge=0)


class OpenAIOptions(BaseModel):
    """Options of an `openai:` agent: run-wide options, overridden by the agent's `@CONFIG` file."""

    model_config = ConfigDict(extra="forbid")

    base_url: str | None = None  # default: $OPENAI_BASE_URL, else the OpenAI API
    api_key_env: str = "OPENAI_API_KEY"  # the NAME of the variable; the key is read at call time
    mode: Literal["tools", "text"] = "tools"
    # Sent with every request that offers tools (some servers ignore `tools` without it); "omit" (or
    # None from Python; TOML has no null): not sent at all.
    tool_choice: Literal["auto", "required", "none", "omit"] | dict[str, Any] | None = "auto"
    # "as_user": tool results go back as user messages and the tools are also described in the
    # system prompt, for servers whose chat templates drop `tool` messages and tool descriptions.
    tool_messages: Literal["native", "as_user"] = "native"
    # Stream replies: a server that stops generating only for streamed requests whose client left
    # (llama-cpp-python) then stops when an episode abandons its request. Usage comes from the
    # last chunk where the server sends it, else it is estimated (and marked so).
    stream: bool = False
    temperature: float | None = Field(None, ge=0, le=2)  # None: the endpoint's default (not sent)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1)  # per reply
    seed: int | None = None
    extra_body: dict[str, Any] = Field(default_factory=dict)  # merged into every request (stored with the run)
    timeout: float = Field(120.0, gt=0)  # seconds per request
    max_retries: int = Field(4, ge=0, le=20)  # on 429, 5xx, timeouts, connection errors, malformed replies
    backoff: float = Field(1.0, ge=0)  # first retry delay in seconds; doubles each retry, with jitter
    max_backoff: float = Field(60.0, ge=0)  # cap on one wait, Retry-After included
    max_concurrency: int = Field(4, ge=1, le=1024)  # model calls in flight across all episodes of the agent
    prices: dict[str, Price] | str | None = None  # overrides of agents/prices.toml, or a TOML file of them
    # Prompt tokens the transcript may take (estimated, calibrated by the server's counts): old tool
    # output is shortened first, then the model's older replies, then whole old turns are dropped.
    # None: never shorten (the server's context size is then the only bound).
    context_budget: int | None = Field(48_000, ge=500)
    system_prompt: str | None = None  # replaces the system prompt template of the mode
    prompt_files: dict[str, str] = Field(default_factory=dict)  # template name -> file replacing it


def split_spec(rest: str) -> tuple[str, str | None]:
    """`MODEL` or `MODEL@CONFIG.toml` (model names such as `@cf/meta/llama` keep their `@`)."""
    model, sep, config = rest.rpartition("@")
    if sep and model and config.endswith(".toml"):
        return model, config
    return rest, None


def load_options(rest: str, options: dict[str, Any]) -> tuple[str, OpenAIOptions, Path | None]:
    model, config = split_spec(rest)
    merged = dict(options)
    config_path = None
    if config is not None:
        config_path = Path(config).expanduser()
        try:
            file_options = tomllib.loads(config_path.read_text())
        except OSError as e:
            raise ConfigError(f"cannot read agent config {config}: {e.strerror}") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"agent config {config} is not valid TOML: {e}") from None
        base = config_path.parent
        # Paths inside the config file are relative to the file, not to where the run starts.
        if isinstance(file_options.get("prices"), str):
            file_options["prices"] = str(base / file_options["prices"])
        if isinstance(file_options.get("prompt_files"), dict):
            file_options["prompt_files"] = {k: str(base / v) for k, v in file_options["prompt_files"].items()}
        merged.update(file_options)
    try:
        parsed = OpenAIOptions.model_validate(merged)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'options'}: {err['msg']}" for err in e.errors())
        known = ", ".join(OpenAIOptions.model_fields)
        raise ConfigError(f"bad options for openai:{rest}: {problems} (known options: {known})") from None
    return model, parsed, config_path


def resolve_base_url(options: OpenAIOptions) -> str:
    url = (options.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"base_url {public_url(url)!r} is not an http(s) URL; e.g. http://localhost:8000/v1")
    return url


def public_url(url: str) -> str:
    """The URL without user:password, fit for logs, errors and the stored config."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


# ---------------------------------------------------------------- prices


def _price_table(data: dict[str, Any], source: str) -> dict[str, Price]:
    models = data.get("models", {})
    try:
        return {name: Price.model_validate(entry) for name, entry in models.items()}
    except ValidationError as e:
        problem = e.errors()[0]["msg"]
        raise ConfigError(f"bad price table in {source}: {problem} (want input and output, USD per 1M)") from None


def default_prices() -> tuple[dict[str, Price], str]:
    text = resources.files("arena.agents").joinpath("prices.toml").read_text()
    data = tomllib.loads(text)
    return _price_table(data, "agents/prices.toml"), str(data.get("as_of", ""))


def load_prices(override: dict[str, Price] | str | None) -> dict[str, Price]:
    table, _ = default_prices()
    if isinstance(override, str):
        try:
            table.update(_price_table(tomllib.loads(Path(override).read_text()), override))
        except OSError as e:
            raise ConfigError(f"cannot read price table {override}: {e.strerror}") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"price table {override} is not valid TOML: {e}") from None
    elif override:
        table.update(override)
    return table


def price_for(model: str, table: dict[str, Price]) -> Price | None:
    """Exact name, then without a date suffix, then without a provider prefix."""
    candidates = [model]
    undated = re.sub(r"-\d{4}-\d{2}-\d{2}$", "", model)
    candidates.append(undated)
    if "/" in undated:
        candidates.append(undated.rsplit("/", 1)[1])
    for name in candidates:
        if name in table:
            return table[name]
    return None


def cost_usd(price: Price | None, input_tokens: int, output_tokens: int) -> float | None:
    if price is None:
        return None
    return round((input_tokens * price.input + output_tokens * price.output) / 1_000_000, 8)


# ---------------------------------------------------------------- prompts


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    source: str  # the file it came from, or "system_prompt option"
    text: str

    def render(self, **values: Any) -> str:
        return Template(self.text).safe_substitute({k: str(v) for k, v in values.items()}).strip()

    def record(self) -> dict[str, str]:
        return {"source": self.source, "sha256": hashlib.sha256(self.text.encode()).hexdigest(), "text": self.text}


def load_prompts(options: OpenAIOptions) -> dict[str, PromptTemplate]:
    unknown = set(options.prompt_files) - set(PROMPT_NAMES)
    if unknown:
        raise ConfigError(f"unknown prompt names {sorted(unknown)} in prompt_files; known: {', '.join(PROMPT_NAMES)}")
    folder = resources.files("arena.agents").joinpath("prompts")
    prompts: dict[str, PromptTemplate] = {}
    for name in PROMPT_NAMES:
        if name in options.prompt_files:
            path = Path(options.prompt_files[name]).expanduser()
            try:
                prompts[name] = PromptTemplate(name, str(path), path.read_text())
            except OSError as e:
                raise ConfigError(f"cannot read prompt file {path} for {name!r}: {e.strerror}") from None
        else:
            prompts[name] = PromptTemplate(name, f"agents/prompts/{name}.md", folder.joinpath(f"{name}.md").read_text())
    if options.system_prompt is not None:
        system = f"system_{options.mode}"
        prompts[system] = PromptTemplate(system, "system_prompt option", options.system_prompt)
    return prompts
