"""Ory Permissions (Keto) state of a project: namespaces, relationships, and the check and
expand engines with Keto's semantics.

- A check of `ns:obj#rel@subject` is allowed when the tuple exists, or when some
  `ns:obj#rel@(S)` names a subject set S that allows the subject, recursively. Depth
  follows Keto's engine: `max-depth` <= 0 or above the global maximum (5) means 5; a direct
  tuple needs depth 2 and every subject-set hop one more (so `max-depth=1` never allows:
  Keto's own quirk, kept). Cycles are cut.
- An unknown namespace is not an error for a check: it is simply not allowed (Keto maps
  the tuple, gets "not found" and answers `allowed: false`). Writes and listings in an
  unknown namespace are 404 `Unknown namespace with name "X".`.
- Only subject-set rewrites by stored tuples; no OPL permits or rewrites (documented in
  the emulator README).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

GLOBAL_MAX_DEPTH = 5
#: Keto's default `limit.max_batch_check_size`
MAX_BATCH = 10


class RelationError(Exception):
    """A request Keto refuses: herodot status, message and reason."""

    def __init__(self, status: int, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.status, self.message, self.reason = status, message, reason


def unknown_namespace(name: str) -> RelationError:
    return RelationError(404, "The requested resource could not be found", f'Unknown namespace with name "{name}".')


class SubjectSet(NamedTuple):
    namespace: str
    object: str
    relation: str

    def as_json(self) -> dict[str, str]:
        return self._asdict()


class Relationship(NamedTuple):
    namespace: str
    object: str
    relation: str
    subject_id: str | None = None
    subject_set: SubjectSet | None = None

    def as_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"namespace": self.namespace, "object": self.object, "relation": self.relation}
        if self.subject_id is not None:
            doc["subject_id"] = self.subject_id
        if self.subject_set is not None:
            doc["subject_set"] = self.subject_set.as_json()
        return doc

    @property
    def subject(self) -> str | SubjectSet | None:
        return self.subject_id if self.subject_id is not None else self.subject_set


class Query(NamedTuple):
    """A relationship filter: None fields match anything; a subject is an id or a set."""

    namespace: str | None = None
    object: str | None = None
    relation: str | None = None
    subject: str | SubjectSet | None = None

    def matches(self, r: Relationship) -> bool:
        return (
            (self.namespace is None or r.namespace == self.namespace)
            and (self.object is None or r.object == self.object)
            and (self.relation is None or r.relation == self.relation)
            and (self.subject is None or r.subject == self.subject)
        )


@dataclass
class RelationStore:
    namespaces: list[str] = field(default_factory=list)
    #: insertion-ordered set of relationships
    tuples: dict[Relationship, None] = field(default_factory=dict)

    def known(self, namespace: str) -> bool:
        return namespace in self.namespaces

    def check_known(self, r: Relationship) -> None:
        for namespace in (r.namespace, r.subject_set.namespace if r.subject_set else None):
            if namespace is not None and not self.known(namespace):
                raise unknown_namespace(namespace)

    def write(self, inserts: Iterable[Relationship], deletes: Iterable[Relationship] = ()) -> None:
        """All or nothing: every namespace is checked before anything changes."""
        inserts, deletes = list(inserts), list(deletes)
        for r in (*inserts, *deletes):
            self.check_known(r)
        for r in inserts:
            self.tuples[r] = None
        for r in deletes:
            self.tuples.pop(r, None)

    def find(self, query: Query) -> list[Relationship]:
        for namespace in (query.namespace, query.subject.namespace if isinstance(query.subject, SubjectSet) else None):
            if namespace is not None and not self.known(namespace):
                raise unknown_namespace(namespace)
        return [r for r in self.tuples if query.matches(r)]

    def delete(self, query: Query) -> None:
        for r in self.find(query):
            del self.tuples[r]

    # -- check --------------------------------------------------------------------------------

    def check(self, r: Relationship, max_depth: int) -> bool:
        if not self.known(r.namespace) or (r.subject_set is not None and not self.known(r.subject_set.namespace)):
            return False
        depth = max_depth if 0 < max_depth <= GLOBAL_MAX_DEPTH else GLOBAL_MAX_DEPTH
        return self._allowed(SubjectSet(r.namespace, r.object, r.relation), r.subject, depth, False, set())

    def _allowed(self, s: SubjectSet, subject: object, depth: int, skip_direct: bool, seen: set[SubjectSet]) -> bool:
        if depth <= 0:
            return False
        if not skip_direct and depth - 1 > 0 and self._direct(s, subject):
            return True
        return self._expand_subject(s, subject, depth - 1, seen)

    def _expand_subject(self, s: SubjectSet, subject: object, depth: int, seen: set[SubjectSet]) -> bool:
        if depth <= 0:
            return False
        sets = self._sets_of(s)
        if any(self._direct(inner, subject) for inner in sets):
            return True
        for inner in sets:
            if inner not in seen:
                seen.add(inner)
                if self._allowed(inner, subject, depth, True, seen):
                    return True
        return False

    def _direct(self, s: SubjectSet, subject: object) -> bool:
        if isinstance(subject, SubjectSet):
            return Relationship(*s, subject_set=subject) in self.tuples
        return Relationship(*s, subject_id=str(subject)) in self.tuples

    def _sets_of(self, s: SubjectSet) -> list[SubjectSet]:
        return [r.subject_set for r in self.tuples if r.subject_set is not None and SubjectSet(*r[:3]) == s]

    # -- expand -------------------------------------------------------------------------------

    def expand(self, s: SubjectSet, max_depth: int) -> dict[str, Any] | None:
        depth = max_depth if 0 < max_depth <= GLOBAL_MAX_DEPTH else GLOBAL_MAX_DEPTH
        return self._tree(s, depth, set())

    def _tree(self, s: SubjectSet, depth: int, seen: set[SubjectSet]) -> dict[str, Any] | None:
        if s in seen:
            return None
        seen = seen | {s}
        members = [r for r in self.tuples if SubjectSet(*r[:3]) == s]
        if not members:
            return None
        node: dict[str, Any] = {"type": "union", "tuple": Relationship(*s, subject_set=s).as_json()}
        if depth <= 1:
            node["type"] = "leaf"
            return node
        node["children"] = [self._child(r, depth - 1, seen) for r in members]
        return node

    def _child(self, r: Relationship, depth: int, seen: set[SubjectSet]) -> dict[str, Any]:
        if r.subject_set is not None:
            inner = self._tree(r.subject_set, depth, seen)
            if inner is not None:
                return inner
        return {"type": "leaf", "tuple": r.as_json()}


# -- parsing ------------------------------------------------------------------------------------

SUBJECT_SET_KEYS = ("subject_set.namespace", "subject_set.object", "subject_set.relation")


def query_from_params(params: Mapping[str, str], keys: Iterable[str]) -> Query:
    """A filter from URL parameters the way Keto's `RelationQuery.FromURLQuery` reads them."""
    keys = set(keys)
    if "subject" in keys:
        raise RelationError(400, "The request was malformed or contained invalid parameters", "")
    has_set = [k for k in SUBJECT_SET_KEYS if k in keys]
    subject: str | SubjectSet | None = None
    if "subject_id" in keys and has_set:
        raise RelationError(400, "exactly one of subject_set or subject_id has to be provided")
    if "subject_id" in keys:
        subject = params["subject_id"]
    elif len(has_set) == 3:
        subject = SubjectSet(*(params[k] for k in SUBJECT_SET_KEYS))
    elif has_set:
        raise RelationError(400, 'incomplete subject, provide "subject_id" or a complete "subject_set.*"')

    def given(name: str) -> str | None:
        return params.get(name) if name in keys else None

    return Query(given("namespace"), given("object"), given("relation"), subject)


def tuple_from_params(params: Mapping[str, str], keys: Iterable[str]) -> Relationship:
    keys = set(keys)
    query = query_from_params(params, keys)
    if query.subject is None:
        raise RelationError(400, "subject is not allowed to be nil")
    if query.namespace is None or query.object is None or query.relation is None:
        raise RelationError(400, 'incomplete tuple, provide "namespace", "object", "relation", and a subject')
    return _relationship(query.namespace, query.object, query.relation, query.subject)


def tuple_from_json(doc: object) -> Relationship:
    """A relationship body (`relationship`, `createRelationshipBody`, check bodies)."""
    if not isinstance(doc, dict):
        raise RelationError(400, "could not unmarshal json: the tuple must be an object")
    ns, obj, rel = (doc.get(k, "") for k in ("namespace", "object", "relation"))
    sid, sset = doc.get("subject_id"), doc.get("subject_set")
    if not all(isinstance(v, str) for v in (ns, obj, rel)) or (sid is not None and not isinstance(sid, str)):
        raise RelationError(400, "could not unmarshal json: namespace, object, relation and subject_id are strings")
    if sid is not None and sset is not None:
        raise RelationError(400, "exactly one of subject_set or subject_id has to be provided")
    if sid is None and sset is None:
        raise RelationError(400, "subject is not allowed to be nil")
    subject: str | SubjectSet = sid if sid is not None else _subject_set(sset)
    return _relationship(ns, obj, rel, subject)


def _subject_set(doc: object) -> SubjectSet:
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k), str) for k in SubjectSet._fields):
        raise RelationError(400, 'incomplete subject, provide "subject_id" or a complete "subject_set.*"')
    return SubjectSet(doc["namespace"], doc["object"], doc["relation"])


def _relationship(ns: str, obj: str, rel: str, subject: str | SubjectSet) -> Relationship:
    if isinstance(subject, SubjectSet):
        return Relationship(ns, obj, rel, subject_set=subject)
    return Relationship(ns, obj, rel, subject_id=subject)


def max_depth(params: Mapping[str, str]) -> int:
    raw = params.get("max-depth")
    if raw is None or raw == "":
        return 0
    try:
        return int(raw, 0)
    except ValueError:
        raise RelationError(400, f"unable to parse 'max-depth' query parameter to int: {raw!r}") from None
