"""Names a user gives (scenes, inventories, models, projects) and names derived from them.

Every name column is 200 characters. A name is checked where it comes in, so
a bad one is refused with a message instead of failing later in a job; names
the server derives ("<model> on <scene> (probability)", "<dem> slope") are
shortened to fit, keeping their distinguishing suffix, so no later step can
fail on a long name after hours of work.
"""

from __future__ import annotations

from inventories.errors import InvalidInput

NAME_MAX = 200
ELLIPSIS = "…"


def check_name(name: str, *, what: str, max_length: int = NAME_MAX) -> str:
    """The name stripped, or InvalidInput naming `what` when it is empty or too long."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput(f"{what} is empty; give a name.")
    if len(name) > max_length:
        raise InvalidInput(
            f"{what} has {len(name)} characters, more than the {max_length} a name may have: "
            f"{name[:40]}…; give a shorter one."
        )
    return name


def fit_name(head: str, suffix: str = "", *, max_length: int = NAME_MAX) -> str:
    """`head + suffix` cut to `max_length`: the head loses its end, the suffix stays whole."""
    if len(head) + len(suffix) <= max_length:
        return head + suffix
    room = max(max_length - len(suffix) - len(ELLIPSIS), 0)
    return (head[:room].rstrip() + ELLIPSIS + suffix)[-max_length:]
