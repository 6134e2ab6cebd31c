"""The base of every error mlcore raises for a user to read, and the one cancellation.

Messages are sentences that say what was wrong, where, and what to do; the
web app shows them as they are. `Cancelled` is not an error: a run that was
asked to stop (training, pretraining, prediction, a job) raises it, and a
caller that catches `MlcoreError` to show a message does not swallow it.
"""


class MlcoreError(Exception):
    """An input or state a user can fix; the message says how."""


class Cancelled(Exception):  # noqa: N818 - reads as what happened
    """A run stopped because it was asked to; the message says what was kept."""
