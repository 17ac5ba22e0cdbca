"""Domain errors, mapped once to HTTP by port.api.exception_handler and port.views."""

from django.http import Http404
from django.utils.translation import gettext as _


class TransitionNotAllowed(Exception):
    def __init__(self, *, obj, old: str, new: str):
        self.obj, self.old, self.new = obj, old, new
        super().__init__(
            _("%(subject)s cannot go from %(old)s to %(new)s.")
            % {"subject": obj, "old": old, "new": new}
        )


class NotYours(Http404):
    """The object is not the caller's to see or change: a 404, in pages and in the API."""


class InvalidInput(Exception):
    """Bad input, field by field, in the shape the API returns with 400.

    `errors` maps a field to a list of messages; a list field (like items) maps each bad
    entry's index to such a dict: {"bl_number": ["..."], "items": {"1": {"hs_code": ["..."]}}}.
    """

    def __init__(self, errors: dict):
        self.errors = errors
        super().__init__(errors)
