"""The base of every error mlcore raises for a user to read.

Messages are sentences that say what was wrong, where, and what to do; the
web app shows them as they are.
"""


class MlcoreError(Exception):
    """An input or state a user can fix; the message says how."""
