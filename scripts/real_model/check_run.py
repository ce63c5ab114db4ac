"""Check a stored run of `openai:` agents against what the server said (the recording proxy's log):
what must hold whatever the model's skill.

    python scripts/real_model/check_run.py DB RUN_ID PROXY_LOG.jsonl [SERVER_URL] [--need-results]

- the run finished, every planned episode has a result, and none is an `error`;
- every reply the server sent (HTTP 200) is a stored step, with the server's own token counts;
- tool results reach the model: after a step whose results held at least MIN_RESULT_CHARS
  characters, the next prompt grew by at least 3/4 of their tokens (counted by the server's own
  tokenizer when it has one, /extras/tokenize, else at four characters to a token); with
  --need-results at least one such step must exist, or the check would prove nothing;
- every reply is classified: a tool call, a parse error, or no tool call (and the model was told);
- replies cut off at the output limit are counted (`finish_reason: "length"`).
Prints one summary line per check; exits 1 with the violations listed.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections import Counter
from pathlib import Path

import httpx

from arena.store import Store

MIN_RESULT_CHARS = 100


def count_tokens(server: str | None, text: str) -> int:
    if server:
        try:
            r = httpx.post(f"{server}/extras/tokenize", json={"input": text}, timeout=30)
            return len(r.json()["tokens"])
        except (httpx.HTTPError, KeyError, TypeError, ValueError):
            pass
    return len(text) // 4


def main(db: str, run_id: str, proxy_log: str, server: str | None = None, need_results: bool = False) -> int:
    store = Store(Path(db))
    problems: list[str] = []
    run = store.get_run(run_id)
    if run is None:
        print(f"real_model_check: no run {run_id} in {db}", file=sys.stderr)
        return 1
    if run.status != "finished":
        problems.append(f"the run is {run.status}, not finished")
    episodes = store.episodes(run_id)
    outcomes = Counter(e.result.outcome if e.result else "unfinished" for e in episodes)
    terminations = Counter(e.result.termination for e in episodes if e.result)
    for e in episodes:
        if e.result is None:
            problems.append(f"{e.key.id}: no result")
        elif e.result.outcome == "error":
            problems.append(f"{e.key.id}: outcome error ({e.result.termination}): {e.result.error}")

    served = [json.loads(line) for line in Path(proxy_log).read_text().splitlines() if line.strip()]
    replies = [r for r in served if r.get("status") == 200 and isinstance(r.get("usage"), dict)]
    server_counts = sorted((r["usage"]["prompt_tokens"], r["usage"]["completion_tokens"]) for r in replies)
    stored_counts = []
    classes: Counter[str] = Counter()
    cut_off = 0
    grew: list[tuple[int, int]] = []  # (tokens the results should add, tokens the prompt grew by)
    for e in episodes:
        steps = [s for s in store.steps(run_id, e.key) if s.actor == "agent"]
        for step in steps:
            a = step.action
            if a.usage is None or a.info.get("usage_estimated"):
                problems.append(f"{e.key.id} step {step.index}: no usage from the server")
                continue
            stored_counts.append((a.usage.input_tokens, a.usage.output_tokens))
            if a.tool_calls:
                classes["tool call"] += 1
            elif a.parse_error:
                classes["parse error"] += 1
            elif "no tool call" in (step.note or ""):
                classes["no tool call"] += 1
            else:
                problems.append(f"{e.key.id} step {step.index}: a reply that is neither a tool call, a parse error, "
                                f"nor noted as no tool call: {a.message!r:.200}")
            cut_off += a.info.get("finish_reason") == "length"
        for before, after in itertools.pairwise(steps):
            chars = sum(len(r.output) for r in before.results)
            if chars < MIN_RESULT_CHARS or after.action.info.get("context_trimmed") or not before.action.usage \
                    or not after.action.usage:
                continue
            growth = after.action.usage.input_tokens - before.action.usage.input_tokens \
                - before.action.usage.output_tokens
            tokens = count_tokens(server, "".join(r.output for r in before.results))
            grew.append((tokens, growth))
    if sorted(stored_counts) != server_counts:
        extra = Counter(stored_counts) - Counter(server_counts)
        missing = Counter(server_counts) - Counter(stored_counts)
        problems.append(f"stored token counts differ from the server's: stored only {dict(extra)}, "
                        f"served only {dict(missing)} ({len(stored_counts)} stored, {len(server_counts)} served)")
    if not grew and need_results:
        problems.append(f"no step had tool results of {MIN_RESULT_CHARS}+ characters followed by an untrimmed "
                        "prompt: nothing shows that results reach the model (raise max_steps or seeds)")
    hidden = [(want, got) for want, got in grew if got < 0.75 * want]
    if hidden:
        problems.append(f"tool results did not reach the model's prompt: (expected ~tokens, grew by) {hidden}")
    print(f"  episodes: {dict(outcomes)}; terminations: {dict(terminations)}")
    print(f"  replies: {len(stored_counts)} stored, {len(server_counts)} served with usage, "
          f"{sum(1 for r in served if r.get('status') not in (200, None))} refused, "
          f"{sum(1 for r in served if r.get('abandoned'))} abandoned; {dict(classes)}; cut off: {cut_off}")
    print(f"  prompt growth after tool results of {MIN_RESULT_CHARS}+ characters (their tokens, grew by): {grew}")
    for p in problems:
        print(f"  VIOLATION: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    flags = [a for a in sys.argv[1:] if a.startswith("--")]
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) not in (3, 4) or set(flags) - {"--need-results"}:
        sys.exit(__doc__)
    sys.exit(main(*args, need_results="--need-results" in flags))
