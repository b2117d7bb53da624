"""Organization labels for Durably-shaped job services: label profiles and their rules.

`gateway.labels.registry` names the profiles a route may use (``headers``, ``durably``, the
policy files' own, compiled at load); `gateway.labels.scope` applies one to a request. The
modules exported here are pure and network-free; scope calls them per operation of a
``LabelProfile``:

    op = classify(profile, method, path)            # None -> unknown: deny
    trigger      -> body = rewrite_trigger(profile, body, content_type, org)
    list         -> query = rewrite_query(query, profile.label_key, org)
                    response: filter_list_response(body, key, org)
    list_stream  -> same query rewrite; response through SseLabelFilter(key, org)
    run_read/    -> run_id = run_id_from_query(query, profile.run_id_param)
    run_write       look the run up (GET lookup_path), run_response_belongs_to(...)
                    else answer profile.not_found_*; forward canonical_run_query(run_id)

Every refusal is a `gateway.errors.LabelError(status, code, description)`.
"""

from gateway.errors import LabelError
from gateway.labels.errors import ProfileError
from gateway.labels.namespace import encode_org, namespace_key, unnamespace_key, unnamespace_text
from gateway.labels.profile import (
    Access,
    LabelProfile,
    Operation,
    OperationKind,
    classify,
    durably_profile,
    profile_from_mapping,
)
from gateway.labels.query import (
    canonical_run_query,
    check_label_filters,
    form_decode,
    org_filter_param,
    rewrite_query,
    run_id_from_query,
)
from gateway.labels.responses import (
    filter_list_by,
    filter_list_response,
    run_belongs_to,
    run_id_from_body,
    run_response_belongs_to,
)
from gateway.labels.sse import SseLabelFilter
from gateway.labels.trigger import (
    check_json_content_type,
    dump_json,
    parse_strict_json,
    rewrite_trigger,
    rewrite_trigger_body,
)

__all__ = [
    "Access",
    "LabelError",
    "LabelProfile",
    "Operation",
    "OperationKind",
    "ProfileError",
    "SseLabelFilter",
    "canonical_run_query",
    "check_json_content_type",
    "check_label_filters",
    "classify",
    "dump_json",
    "durably_profile",
    "encode_org",
    "filter_list_by",
    "filter_list_response",
    "form_decode",
    "namespace_key",
    "org_filter_param",
    "parse_strict_json",
    "profile_from_mapping",
    "rewrite_query",
    "rewrite_trigger",
    "rewrite_trigger_body",
    "run_belongs_to",
    "run_id_from_body",
    "run_id_from_query",
    "run_response_belongs_to",
    "unnamespace_key",
    "unnamespace_text",
]
