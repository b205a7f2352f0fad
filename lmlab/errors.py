"""The one exception type for user mistakes.

A `UserError` is something the person at the keyboard can fix (a missing file, an unknown name,
a bad value). The command line prints its message on one line and exits with code 2; anything
else is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A mistake in the input, explained in one line that names the problem and the fix."""
