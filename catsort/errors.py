"""The one exception catsort raises for problems a user can fix."""


class CatsortError(Exception):
    """A problem with the user's input or environment, with a message saying what to do.

    ``exit_code`` is what the command line exits with: 2 for usage errors (the default),
    1 where some files failed.
    """

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code
