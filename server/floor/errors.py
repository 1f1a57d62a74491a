"""Errors a user can act on: each message names the file, field or address at fault."""


class MechMoocError(Exception):
    """Base of every error that is shown to a user as one line."""


class SettingsError(MechMoocError):
    """A MECHMOOC_* variable is missing, unknown or malformed."""


class NotFound(MechMoocError):
    """A thing named by the user does not exist."""


class Invalid(MechMoocError):
    """Input that cannot be accepted (the message says which field and why)."""


class PermissionDenied(MechMoocError):
    """The current user may not do this."""


class RateLimited(MechMoocError):
    """Too many attempts of one kind; the message says which, `retry_after` in how many seconds to try again."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
