"""The refusals of gateway.labels, each a `gateway.errors.LabelError` carrying its HTTP shape,
and `ProfileError`, the problems of a label profile's description (read when policies load)."""

from __future__ import annotations

from gateway.errors import LabelError


def bad_request(code: str, description: str) -> LabelError:
    return LabelError(400, code, description)


def forbidden(code: str, description: str) -> LabelError:
    return LabelError(403, code, description)


def unsupported_media_type(description: str) -> LabelError:
    return LabelError(415, "unsupported_media_type", description)


def bad_upstream(code: str, description: str) -> LabelError:
    return LabelError(502, code, description)


#: where in a profile's mapping a problem is: keys and list indexes, e.g. ``("operations", 0, "kind")``
Location = tuple[str | int, ...]


class ProfileError(ValueError):
    """A label profile description with problems; ``problems`` lists every one.

    ``located`` pairs each problem with its `Location` in the mapping, so that the policy
    loader can name the line it is on."""

    def __init__(self, located: list[tuple[Location, str]]) -> None:
        super().__init__("; ".join(text for _, text in located))
        self.located = tuple(located)
        self.problems = tuple(text for _, text in located)
