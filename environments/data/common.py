"""What every data template produces, and helpers they share."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .answers import Expected

ROWS_BY_DIFFICULTY = {1: 30, 2: 70, 3: 140}  # by `Level.scale`
# Difficulty level -> (how hard the question is, how much data there is), each 1-3.
LEVELS: dict[int, tuple[int, int]] = {1: (1, 1), 2: (2, 1), 3: (2, 2), 4: (3, 2), 5: (3, 3)}
# More data is more to look through for the traps (stray spaces, formats, missing values).
SCALE_MINUTES = {1: 1.0, 2: 1.3, 3: 1.7}


@dataclass(frozen=True)
class Level:
    """A task's difficulty level (1-5): which question (1-3) on how much data (1-3)."""

    level: int

    @property
    def question(self) -> int:
        return LEVELS[self.level][0]

    @property
    def scale(self) -> int:
        return LEVELS[self.level][1]

    def pick(self, rng: random.Random, kinds: dict[str, int]) -> str:
        """A question kind of this level's question difficulty."""
        return rng.choice([kind for kind, difficulty in kinds.items() if difficulty == self.question])

    def minutes(self, by_question: dict[int, float]) -> float:
        """A person's time for the question, on this much data."""
        return round(by_question[self.question] * SCALE_MINUTES[self.scale], 1)


@dataclass(frozen=True)
class Problem:
    """One generated data question.

    `context` says what the files hold and every rule needed to read them; `phrasings` are
    different wordings of the same question; `answer_format` says exactly how to answer;
    `solution` is Python code that computes the answer from the files and prints it.
    """

    kind: str
    files: dict[str, str]
    context: str
    phrasings: tuple[str, ...]
    answer_format: str
    expected: Expected
    solution: str
    difficulty: int
    human_minutes: float


def instructions(problem: Problem) -> list[str]:
    """Paraphrases: each pairs a different framing with a different wording of the question."""
    p, ctx, fmt = problem.phrasings, problem.context, problem.answer_format
    return [
        f"{ctx} {p[0]} {fmt}",
        f"{p[1 % len(p)]} The data is in the work directory. {ctx} Compute the answer exactly from the files "
        f"(the python tool runs Python in the work directory). {fmt} Submit it with the submit tool.",
        f"A colleague needs this for a report and asked you to check it against the raw data. {ctx} "
        f"Question: {p[2 % len(p)]} {fmt}",
    ]


def to_csv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def money_text(value: Decimal, thousands: bool) -> str:
    """A money amount as it may appear in an export: "1234.50" or "1,234.50"."""
    return f"{value:,.2f}" if thousands else f"{value:.2f}"


def round_half_up(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def near_tie(value: Decimal, places: int) -> bool:
    """True when `value` is within a hair of a rounding tie at `places` decimals, where float
    arithmetic could honestly land on either side."""
    scaled = value.scaleb(places)
    return abs(scaled - scaled.to_integral_value(rounding="ROUND_FLOOR") - Decimal("0.5")) < Decimal("1e-6")


def money_answer(value: Decimal) -> Expected:
    return Expected(kind="number", value=float(round_half_up(value, 2)), tolerance=0.01)


MONEY_FORMAT = "Answer with the number only, rounded to 2 decimals (for example 1234.56), without a currency sign."
INTEGER_FORMAT = "Answer with the whole number only."
