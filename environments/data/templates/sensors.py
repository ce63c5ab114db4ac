"""Sensor readings in Fahrenheit with gaps: maxima and means in Celsius, rounding rules, threshold lists."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from fractions import Fraction

from arena.types import Split

from ..answers import Expected
from ..common import Level, Problem, to_csv

SENSORS: dict[Split, tuple[str, ...]] = {
    "dev": ("greenhouse-1", "greenhouse-2", "cellar", "attic", "server-room", "garage"),
    "test": ("lab-a", "lab-b", "freezer-2", "cold-store", "boiler-room", "rooftop"),
}
MISSING = ("", "NA", "null")
EVERY_HOURS = 4  # six readings per sensor and day

READ = '''import csv

readings = []  # (timestamp, sensor, temperature in F or None, humidity in % or None)
with open("readings.csv", newline="") as f:
    for row in csv.DictReader(f):
        def value(text):
            text = text.strip()
            return None if text in ("", "NA", "null") else float(text)
        readings.append((row["timestamp"], row["sensor_id"], value(row["temperature_f"]), value(row["humidity_pct"])))
'''

Reading = tuple[datetime, str, Fraction | None, int | None]


def celsius(fahrenheit: Fraction) -> Fraction:
    return (fahrenheit - 32) * Fraction(5, 9)


def round_fraction(value: Fraction, places: int) -> float:
    """Round half up; the data never puts a Celsius value on an exact tie."""
    scaled = value * 10**places
    return float(Fraction(int(scaled + Fraction(1, 2)) if scaled >= 0 else -int(-scaled + Fraction(1, 2)), 10**places))


def _readings(rng: random.Random, split: Split, sensors: list[str], days: int) -> list[Reading]:
    start = datetime(2024 if split == "dev" else 2025, rng.randint(1, 12), rng.randint(1, 25))
    out = []
    for step in range(days * 24 // EVERY_HOURS):
        moment = start + timedelta(hours=step * EVERY_HOURS)
        for sensor in sensors:
            base = 35 + (15 * sensors.index(sensor)) % 50
            temp = Fraction(rng.randint(base * 10, (base + 35) * 10), 10) if rng.random() > 0.08 else None
            humidity = rng.randint(20, 85) if rng.random() > 0.08 else None
            out.append((moment, sensor, temp, humidity))
    return out


def _file(rng: random.Random, readings: list[Reading]) -> str:
    rows = [
        [moment.isoformat(), sensor, str(float(temp)) if temp is not None else rng.choice(MISSING),
         str(humidity) if humidity is not None else rng.choice(MISSING)]
        for moment, sensor, temp, humidity in readings
    ]
    return to_csv(["timestamp", "sensor_id", "temperature_f", "humidity_pct"], rows)


def generate(rng: random.Random, split: Split, level: Level) -> Problem:
    kind = level.pick(rng, {"max_celsius": 1, "humidity_rounding": 2, "above_threshold": 2, "mean_celsius": 3})
    sensors = rng.sample(SENSORS[split], {1: 3, 2: 4, 3: 6}[level.scale])
    while True:
        readings = _readings(rng, split, sensors, {1: 2, 2: 3, 3: 4}[level.scale])
        problem = _question(kind, rng, sensors, readings)
        if problem is not None:
            break
    phrasings, answer_format, expected, code, readings = problem
    context = (
        "readings.csv holds sensor readings every four hours: timestamp (ISO 8601, local time), sensor_id, "
        "temperature_f (degrees Fahrenheit) and humidity_pct (relative humidity in percent). Missing values "
        'appear as an empty field, "NA" or "null": skip a missing value (but keep the other value of that '
        "row). Convert Fahrenheit to Celsius with C = (F - 32) x 5 / 9."
    )
    return Problem(
        kind=f"sensors_{kind}", files={"readings.csv": _file(rng, readings)}, context=context,
        phrasings=phrasings, answer_format=answer_format, expected=expected, solution=READ + code,
        difficulty=level.level, human_minutes=level.minutes({1: 6.0, 2: 12.0, 3: 18.0}),
    )


def _question(
    kind: str, rng: random.Random, sensors: list[str], readings: list[Reading]
) -> tuple[tuple[str, ...], str, Expected, str, list[Reading]] | None:
    sensor = rng.choice(sensors)
    if kind == "max_celsius":
        top = max(t for _, s, t, _ in readings if s == sensor and t is not None)
        return (
            (f"What was the highest temperature recorded by sensor {sensor}, in degrees Celsius?",
             f"Convert the maximum reading of sensor {sensor} to Celsius.",
             f"In °C, what is the peak temperature that {sensor} measured?"),
            "Answer with the number of degrees Celsius only, rounded to 1 decimal.",
            Expected(kind="number", value=round_fraction(celsius(top), 1), tolerance=0.01),
            f"top = max(t for _, s, t, _ in readings if s == {sensor!r} and t is not None)\n"
            'print(f"{(top - 32) * 5 / 9:.1f}")\n', readings,
        )
    if kind == "humidity_rounding":
        return _humidity(rng, sensor, readings)
    if kind == "above_threshold":
        limit = rng.randint(20, 45)
        limit_f = Fraction(limit * 9, 5) + 32
        temps = [(s, t) for _, s, t, _ in readings if t is not None]
        if any(t == limit_f for _, t in temps):
            return None
        hot = sorted({s for s, t in temps if t > limit_f})
        if not hot or len(hot) == len(sensors):
            return None
        return (
            (f"Which sensors recorded a temperature above {limit} °C at least once?",
             f"List every sensor that measured more than {limit} degrees Celsius at some point.",
             f"Find the sensors whose readings exceeded {limit} °C."),
            "Answer with the sensor ids only, separated by commas, in any order.",
            Expected(kind="list", value=hot),
            f"hot = sorted({{s for _, s, t, _ in readings if t is not None and (t - 32) * 5 / 9 > {limit}}})\n"
            'print(", ".join(hot))\n', readings,
        )
    day = rng.choice(sorted({m.date() for m, _, _, _ in readings}))
    temps = [t for m, s, t, _ in readings if s == sensor and m.date() == day and t is not None]
    if not temps:
        return None
    mean = celsius(sum(temps, Fraction(0)) / len(temps))
    scaled = mean * 100
    if abs(scaled - int(scaled) - Fraction(1, 2)) < Fraction(1, 10**6):
        return None
    return (
        (f"What was the mean temperature of sensor {sensor} on {day.isoformat()}, in degrees Celsius?",
         f"Average the valid temperature readings of {sensor} taken on {day.isoformat()} and give the result "
         "in Celsius.",
         f"On {day.isoformat()}, what average temperature (°C) did {sensor} report?"),
        "Answer with the number of degrees Celsius only, rounded to 2 decimals.",
        Expected(kind="number", value=round_fraction(mean, 2), tolerance=0.001),
        f"temps = [t for ts, s, t, _ in readings if s == {sensor!r} and ts.startswith({day.isoformat()!r}) "
        "and t is not None]\n"
        'print(f"{(sum(temps) / len(temps) - 32) * 5 / 9:.2f}")\n', readings,
    )


def _humidity(
    rng: random.Random, sensor: str, readings: list[Reading]
) -> tuple[tuple[str, ...], str, Expected, str, list[Reading]]:
    """Make the sensor's mean humidity on one day end in .25, where the two rounding rules differ."""
    day = rng.choice(sorted({m.date() for m, _, _, _ in readings}))
    rows = [i for i, (m, s, _, _) in enumerate(readings) if s == sensor and m.date() == day]
    gaps = set(rng.sample(rows, 2))
    readings = list(readings)
    values = [rng.randint(30, 80) for _ in range(4)]
    values[-1] += (1 - sum(values)) % 4  # sum = 1 (mod 4): the mean of four ends in .25
    kept = iter(values)
    for i in rows:
        m, s, t, _ = readings[i]
        readings[i] = (m, s, t, None if i in gaps else next(kept))
    mean = Fraction(sum(values), 4)
    half_up = rng.random() < 0.5
    rule = ("round half up (a value exactly halfway goes up: 12.25 becomes 12.3)" if half_up else
            "round half to even (a value exactly halfway goes to the even digit: 12.25 becomes 12.2, 12.35 "
            "becomes 12.4)")
    answer = round_fraction(mean, 1) if half_up else float(Fraction(round(mean * 10), 10))
    method = "ROUND_HALF_UP" if half_up else "ROUND_HALF_EVEN"
    return (
        (f"What was the mean relative humidity of sensor {sensor} on {day.isoformat()}?",
         f"Average the valid humidity readings of {sensor} from {day.isoformat()}.",
         f"On {day.isoformat()}, what was {sensor}'s average humidity?"),
        f"Answer with the number only, rounded to 1 decimal with this rule: {rule}.",
        Expected(kind="number", value=answer, tolerance=0.01),
        "from decimal import Decimal, " + method + "\n"
        f"values = [h for ts, s, _, h in readings if s == {sensor!r} and ts.startswith({day.isoformat()!r}) "
        "and h is not None]\n"
        f"mean = Decimal(sum(int(v) for v in values)) / len(values)\n"
        f'print(mean.quantize(Decimal("0.1"), rounding={method}))\n', readings,
    )
