"""The families' generator draws exactly what `random.Random` draws: tasks stay the same per seed."""

from __future__ import annotations

import random

import pytest

from environments._kit import Rng


def test_randint_and_choice_draw_what_random_draws() -> None:
    ours, theirs = Rng("helpdesk:dev:7"), random.Random("helpdesk:dev:7")
    bounds = [(0, 0), (0, 1), (1, 6), (-5, 5), (10, 99), (1000, 9999), (0, 2**70), (3, 2**31 + 7)]
    seqs: list[object] = [[1], "ab", list(range(7)), tuple(range(64)), range(1000), list(range(2**10 + 1))]
    for i in range(3000):
        a, b = bounds[i % len(bounds)]
        assert ours.randint(a, b) == theirs.randint(a, b)
        seq = seqs[i % len(seqs)]
        assert ours.choice(seq) == theirs.choice(seq)  # type: ignore[arg-type]
        if i % 7 == 0:  # the other draws still share the one stream
            assert ours.random() == theirs.random()
            assert ours.sample(range(50), 3) == theirs.sample(range(50), 3)


def test_bad_arguments_fail_as_they_do_in_random() -> None:
    ours, theirs = Rng(1), random.Random(1)
    for a, b in [(5, 4), (1, 0)]:
        with pytest.raises(ValueError):
            theirs.randint(a, b)
        with pytest.raises(ValueError):
            ours.randint(a, b)
    with pytest.raises(IndexError):
        ours.choice([])
