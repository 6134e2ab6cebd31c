"""The documented range and type of every training and pretraining option a user may set.

Checked where a request comes in, so a wrong type or an absurd value
(a billion epochs, a learning rate of 50) is a 400 that names the option,
never a 500 from deep inside mlcore nor a job that runs for ever.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inventories.errors import InvalidInput
from mlcore.training import MAX_SCALE


@dataclass(frozen=True)
class Option:
    kind: type  # int, float or str
    low: float | None = None
    high: float | None = None
    nullable: bool = False

    def describe(self) -> str:
        if self.kind is str:
            return "a name"
        what = "a whole number" if self.kind is int else "a number"
        return f"{what} from {self.low:g} to {self.high:g}"


_COMMON = {
    "epochs": Option(int, 1, 1000),
    "batch_size": Option(int, 1, 512),
    "chip_size": Option(int, 16, 2048),
    "chips_per_epoch": Option(int, 1, 1_000_000),
    "lr": Option(float, 1e-7, 1.0),
    "seed": Option(int, 0, 2**31 - 1),
    "encoder_depth": Option(int, 1, 6),
    "base_channels": Option(int, 4, 512),
}
TRAINING: dict[str, Option] = {
    **_COMMON,
    "weight_decay": Option(float, 0.0, 1.0),
    "loss": Option(str),
    "schedule": Option(str),
    "recipe": Option(str),
    "early_stopping_patience": Option(int, 1, 1000, nullable=True),
    "max_val_chips": Option(int, 1, 1_000_000, nullable=True),
    "scale": Option(int, 1, MAX_SCALE),
}
PRETRAINING: dict[str, Option] = {
    **_COMMON,
    "mask_ratio": Option(float, 0.0, 0.99),
    "patch_size": Option(int, 1, 512),
    "noise_std": Option(float, 0.0, 10.0),
}


def hyperparameters_check(
    values: dict[str, Any], *, table: dict[str, Option], what: str
) -> dict[str, Any]:
    """`values` with numbers of the right type; InvalidInput names the first bad option.

    Names missing from `table` are left to the caller's own list of known options.
    """
    if not isinstance(values, dict):
        raise InvalidInput(f"The {what} options must be an object of names and values.")
    checked = dict(values)
    for name, value in values.items():
        option = table.get(name)
        if option is None:
            continue
        if value is None and option.nullable:
            continue
        if option.kind is str:
            if not isinstance(value, str) or len(value) > 50:
                raise InvalidInput(f"The {what} option {name} must be {option.describe()}.")
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(
                f"The {what} option {name} must be {option.describe()}, not {value!r:.40}."
            )
        if option.kind is int and value != int(value):
            raise InvalidInput(f"The {what} option {name} must be {option.describe()}.")
        if not option.low <= value <= option.high:
            raise InvalidInput(
                f"The {what} option {name} is {value:g}; it must be {option.describe()}."
            )
        checked[name] = option.kind(value)
    return checked
