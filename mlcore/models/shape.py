"""What a network builder reads of a model's configuration.

The registry (`mlcore.models.registry`) builds every network from its
`ModelConfig`, and `ModelConfig` checks itself against the registry's
families; the network modules must therefore not import the registry back.
They take this shape instead, which a `ModelConfig` has.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["NetworkShape"]


class NetworkShape(Protocol):
    """Encoder, bands, classes, depth and width: all a builder needs to make the network."""

    @property
    def encoder(self) -> str: ...

    @property
    def in_channels(self) -> int: ...

    @property
    def classes(self) -> int: ...

    @property
    def encoder_depth(self) -> int: ...

    @property
    def base_channels(self) -> int: ...
