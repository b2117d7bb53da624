"""The one error type of gateway.labels: every refusal carries its HTTP shape."""

from __future__ import annotations


class LabelError(Exception):
    """A request (or upstream response) the label rules refuse.

    ``status`` is the HTTP status to answer with, ``code`` a stable machine id
    (e.g. ``duplicate_key``), ``description`` one human sentence that never
    echoes another organization's data.
    """

    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(f"{status} {code}: {description}")
        self.status = status
        self.code = code
        self.description = description

    def __repr__(self) -> str:
        return f"LabelError({self.status!r}, {self.code!r}, {self.description!r})"


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
