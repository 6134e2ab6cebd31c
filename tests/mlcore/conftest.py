"""Fixtures the mlcore tests share."""

import pytest
import torch


@pytest.fixture
def two_threads():
    """Two torch threads for the test: the CI machine's count, so timing-driven choices
    (the forward probe) and kernels' rounding match what CI sees."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)
