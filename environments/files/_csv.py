"""Template `csv_to_json`: filter the rows of a CSV file, select and rename columns, and write them as a
JSON array with the right types (numbers as numbers, codes with leading zeros as text). The CSV has
quoted fields with commas (and, harder, doubled quotes), and rows on the threshold."""

from __future__ import annotations

import csv
import io
import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from arena.types import Check, Split, Subgoal, Task, ToolCall

from ._common import Draft, Final, Template, expect, found, join_words, pick, unchanged, write_call

Gen = Callable[[random.Random], Any]
FIRST = ["Ana", "Bruno", "Chloe", "Dmitri", "Esra", "Femi", "Greta", "Hiro", "Ines", "Jonas"]
LAST = ["Lee", "Novak", "Okafor", "Silva", "Berg", "Kaur", "Moreau", "Tanaka", "Weber", "Rossi"]


def _person(rng: random.Random) -> str:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return rng.choice([f"{first} {last}", f"{last}, {first}", f'{first} "{first[:2]}" {last}'])


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "integer", "number" or "text": the JSON type it must have in the output
    gen: Gen
    key: str  # its name in the output


@dataclass(frozen=True)
class Dataset:
    path: str
    out_dir: str
    columns: tuple[Column, ...]
    categories: tuple[str, ...]  # columns to filter on by equality
    measures: tuple[str, ...]  # numeric columns to filter on by threshold


def _money(lo: int, hi: int) -> Gen:
    return lambda rng: round(rng.randint(lo * 100, hi * 100) / 100, 2)


def _code(digits: int) -> Gen:
    return lambda rng: f"{rng.randint(1, 10 ** (digits - 2)):0{digits}d}"


DATASETS = {
    "dev": [
        Dataset(
            "data/orders.csv",
            "export",
            (
                Column("order_id", "integer", lambda g: g.randint(10000, 99999), "id"),
                Column("customer", "text", _person, "customer"),
                Column("country", "text", lambda g: g.choice(["DE", "FR", "US", "NL"]), "country"),
                Column("status", "text", lambda g: g.choice(["shipped", "pending", "cancelled"]), "status"),
                Column("amount", "number", _money(5, 900), "total"),
                Column("items", "integer", lambda g: g.randint(1, 12), "item_count"),
                Column("postcode", "text", _code(5), "zip"),
            ),
            ("status", "country"),
            ("amount", "items"),
        ),
        Dataset(
            "data/readings.csv",
            "out",
            (
                Column("reading_id", "integer", lambda g: g.randint(1, 99999), "id"),
                Column("sensor", "text", lambda g: f"S-{g.randint(1, 40):03d}", "sensor"),
                Column("site", "text", lambda g: g.choice(["north hall", "roof, east", "basement"]), "location"),
                Column("alarm", "text", lambda g: g.choice(["yes", "no"]), "alarm"),
                Column("celsius", "number", lambda g: round(g.uniform(-5, 40), 1), "temp_c"),
                Column("humidity", "integer", lambda g: g.randint(10, 95), "humidity_pct"),
                Column("serial", "text", _code(6), "serial"),
            ),
            ("alarm", "site"),
            ("celsius", "humidity"),
        ),
    ],
    "test": [
        Dataset(
            "input/shipments.csv",
            "json",
            (
                Column("tracking", "text", _code(8), "tracking_no"),
                Column("carrier", "text", lambda g: g.choice(["DHL", "UPS", "PostNL", "GLS"]), "carrier"),
                Column(
                    "destination",
                    "text",
                    lambda g: g.choice(["Paris, FR", "Austin, US", "Lyon, FR", "Osaka, JP"]),
                    "to",
                ),
                Column("state", "text", lambda g: g.choice(["delivered", "in transit", "returned"]), "state"),
                Column("weight_kg", "number", lambda g: round(g.uniform(0.2, 30), 2), "weight"),
                Column("pieces", "integer", lambda g: g.randint(1, 6), "pieces"),
                Column("ref", "integer", lambda g: g.randint(100000, 999999), "reference"),
            ),
            ("state", "carrier"),
            ("weight_kg", "pieces"),
        ),
        Dataset(
            "input/staff.csv",
            "reports",
            (
                Column("emp_no", "integer", lambda g: g.randint(1000, 9999), "employee"),
                Column("name", "text", _person, "full_name"),
                Column("dept", "text", lambda g: g.choice(["sales", "ops", "finance", "legal"]), "department"),
                Column("remote", "text", lambda g: g.choice(["yes", "no"]), "remote"),
                Column("salary", "integer", lambda g: g.randint(38, 140) * 1000, "salary_eur"),
                Column("rating", "number", lambda g: round(g.uniform(1, 5), 1), "score"),
                Column("badge", "text", _code(6), "badge_id"),
            ),
            ("dept", "remote"),
            ("salary", "rating"),
        ),
    ],
}
KIND_TEXT = {"integer": "an integer", "number": "a number", "text": "text"}
CODE_COLUMNS = {"postcode", "serial", "badge"}  # digits with leading zeros that must stay text
OPS = {">=": ("at least", lambda a, b: a >= b), "<": ("below", lambda a, b: a < b)}


def _rows(rng: random.Random, data: Dataset, n: int, difficulty: int) -> list[dict[str, Any]]:
    key = data.columns[0]
    keys = set()
    rows = []
    while len(rows) < n:
        row = {c.name: c.gen(rng) for c in data.columns}
        if difficulty < 3:  # doubled quotes inside quoted fields only at the top difficulty
            row = {k: v.replace('"', "") if isinstance(v, str) else v for k, v in row.items()}
        if row[key.name] not in keys:
            keys.add(row[key.name])
            rows.append(row)
    return rows


def _to_csv(data: Dataset, rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([c.name for c in data.columns])
    writer.writerows([[row[c.name] for c in data.columns] for row in rows])
    return buffer.getvalue()


def _pick_filter(rng: random.Random, data: Dataset, rows: list[dict[str, Any]], difficulty: int) -> dict[str, Any]:
    category = rng.choice(data.categories)
    value = rng.choice(sorted({row[category] for row in rows}))
    chosen: dict[str, Any] = {"column": category, "value": value}
    if difficulty >= 2:
        measure, op = rng.choice(data.measures), rng.choice(sorted(OPS))
        candidates = sorted({row[measure] for row in rows if row[category] == value})
        # a threshold equal to a row's value puts that row on the boundary
        chosen |= {"measure": measure, "op": op, "threshold": candidates[len(candidates) // 2]}
    return chosen


def _selected(rows: list[dict[str, Any]], f: dict[str, Any]) -> list[dict[str, Any]]:
    out = [row for row in rows if row[f["column"]] == f["value"]]
    if "measure" in f:
        test = OPS[f["op"]][1]
        out = [row for row in out if test(row[f["measure"]], f["threshold"])]
    return out


def draft(rng: random.Random, split: Split, difficulty: int) -> Draft:
    data = pick(rng, DATASETS, split)
    rows = _rows(rng, data, 8 + 6 * difficulty, difficulty)
    f = _pick_filter(rng, data, rows, difficulty)
    while not 0 < len(_selected(rows, f)) < len(rows):
        rows = _rows(rng, data, len(rows), difficulty)
        f = _pick_filter(rng, data, rows, difficulty)
    others = [c for c in data.columns[1:] if c.name != f["column"]]
    codes = [c for c in others if c.name in CODE_COLUMNS]
    plain = [c for c in others if c not in codes]
    wanted = [data.columns[0], *rng.sample(plain, 2 if difficulty == 1 else 3)]
    if difficulty >= 3:
        wanted += codes
    records = [{c.key: row[c.name] for c in wanted} for row in _selected(rows, f)]
    stem = data.path.rsplit("/", 1)[1].removesuffix(".csv")
    out = f"{data.out_dir}/{stem}_{str(f['value']).replace(' ', '_').replace(',', '')}.json"
    condition = f"`{f['column']}` is exactly `{f['value']}`"
    if "measure" in f:
        condition += f" and `{f['measure']}` is {OPS[f['op']][0]} {f['threshold']}"
    fields = join_words([f"`{c.key}` (from the `{c.name}` column, {KIND_TEXT[c.kind]})" for c in wanted])
    short = ", ".join(f"{c.key} <- {c.name} ({c.kind})" for c in wanted)
    src, text = data.path, _to_csv(data, rows)
    instructions = [
        f"Convert part of `{src}` to JSON. Take the rows where {condition}, keep them in the order they appear in "
        f"the file, and write them to `{out}` as a JSON array with one object per row. Each object has exactly "
        f"these keys: {fields}. Integers and numbers must be JSON numbers, text must be JSON strings (keep leading "
        f"zeros in text). Mind that the CSV uses quoted fields. Do not modify `{src}`.",
        f"Someone needs a JSON extract of `{src}`: only rows where {condition}, in file order. Save it as `{out}`, "
        f"a JSON array of objects with the keys {fields} and no others. Types matter: numeric values as JSON "
        f"numbers, not strings; text values as strings, exactly as in the CSV (quotes in the CSV are CSV quoting). "
        f"Leave the CSV itself unchanged.",
        f"CSV -> JSON.\n- Input: `{src}` (standard CSV, fields may be quoted; do not edit it)\n- Rows: {condition}; "
        f"keep file order\n- Output: `{out}`, a JSON array of objects\n- Keys (output <- column, type): {short}\n"
        f"- integer/number -> JSON number; text -> JSON string, as written",
    ]
    params: dict[str, Any] = {
        "source": src,
        "output": out,
        "filter": f,
        "columns": [{"key": c.key, "kind": c.kind, "column": c.name} for c in wanted],
        "records": records,
        "expect": [expect("source_untouched", present=unchanged({src: text}, [src]), kind="guard")],
        "facts": [src, out, *(c.key for c in wanted)],
        "leak_probes": [json.dumps(r) for r in records],
    }
    return Draft(
        instructions=instructions,
        files={src: text},
        params=params,
        subgoals=[
            Subgoal(
                name="write_json",
                description=f"`{out}` holds exactly the matching rows, in order, with the asked keys, values and types",
                checks=["output_exists", "answer_format", "rows_selected", "types_right", "values_right",
                        "source_untouched"],
            ),
        ],
        human_minutes=round(6 + 0.3 * len(rows) + len(wanted), 1),
        max_steps=20 + 5 * difficulty,
    )


def _type_ok(value: Any, kind: str) -> bool:
    if kind == "text":
        return isinstance(value, str)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return kind == "number" or float(value).is_integer()


def _same(a: Any, b: Any) -> bool:
    numbers = [x for x in (a, b) if isinstance(x, int | float) and not isinstance(x, bool)]
    if len(numbers) == 2:
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


async def extra_checks(task: Task, final: Final) -> list[Check]:
    p = task.params
    text = await final.read(p["output"])
    keys = [c["key"] for c in p["columns"]]
    checks = [found("output_exists", text, p["output"])]
    try:
        got = json.loads(text or "")
        if not isinstance(got, list) or not all(isinstance(r, dict) and sorted(r) == sorted(keys) for r in got):
            raise ValueError(f"expected a JSON array of objects with exactly the keys {', '.join(keys)}")
        checks.append(Check(name="answer_format", passed=True))
    except ValueError as e:
        got = []
        checks.append(Check(name="answer_format", passed=False, detail=str(e)[:200]))
    first = keys[0]
    want_ids = [str(r[first]) for r in p["records"]]
    got_ids = [str(r.get(first)) for r in got if isinstance(r, dict)]
    checks.append(
        Check(
            name="rows_selected",
            passed=bool(got) and got_ids == want_ids,
            detail="" if got_ids == want_ids else f"expected {want_ids} by {first}, got {got_ids}"[:300],
        )
    )
    bad_types = sorted(
        {
            c["key"]
            for r in got
            if isinstance(r, dict)
            for c in p["columns"]
            if c["key"] in r and not _type_ok(r[c["key"]], c["kind"])
        }
    )
    checks.append(
        Check(
            name="types_right",
            passed=bool(got) and not bad_types,
            detail=f"wrong JSON type in: {', '.join(bad_types)}" if bad_types else "",
        )
    )
    values_ok = len(got) == len(p["records"]) and all(
        all(_same(g.get(k), w[k]) for k in keys) for g, w in zip(got, p["records"], strict=True)
    )
    checks.append(
        Check(
            name="values_right",
            passed=bool(got) and values_ok,
            detail="" if values_ok else "some records differ from the expected ones",
        )
    )
    return checks


def solution(task: Task) -> list[ToolCall]:
    return [write_call(task.params["output"], json.dumps(task.params["records"], indent=2) + "\n", "write_json")]


TEMPLATE = Template(name="csv_to_json", draft=draft, solution=solution, extra_checks=extra_checks)
