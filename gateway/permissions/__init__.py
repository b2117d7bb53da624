"""Ory Permissions (Keto) at the gateway: route permission checks and the answers' cache.

    checker.TenantPermissions.require(match, principal)   the route's `permission:` for this caller
        template.render    the object from the route's {param}s and {org} (ids only)
        cache.PermissionCache   per (tenant, kind, namespace, object, relation, subject)
        gateway.ory.keto   the one way to Keto (through the Ory boundary)

A route's `allow.human` / `allow.machine` may require `permission: {namespace, object,
relation}`; it is checked after roles and scopes (all must hold). The subject is the
identity id (people) or the client id (machines). A client id shaped like an identity id
(a UUID) is refused as a subject (403 `machine_subject_refused`): Keto cannot tell a client
from the person whose id it copies. Denials: 403 `permission_denied`; a parameter outside
the id alphabet: 400 `bad_path_parameter`; `{org}` without an organization: 403
`no_organization`; Keto unusable: 503 (`gateway.ory.keto`).
"""
