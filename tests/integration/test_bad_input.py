import pytest


@pytest.mark.parametrize("i", range(5))
def test_probe4(world, i):
    pass
