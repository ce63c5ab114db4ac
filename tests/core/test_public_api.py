import arena


def test_all_is_sorted_and_importable() -> None:
    assert arena.__all__ == sorted(arena.__all__)
    for name in arena.__all__:
        assert getattr(arena, name) is not None
