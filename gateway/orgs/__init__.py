"""The organization stage: which organization a request acts for, and with which roles.

    tenant -> route -> authn -> ORG -> authz -> labels -> forward

    memberships.py  a person's memberships from identity metadata (list or single form)
    choice.py       the caller's choice: `X-Organization-Id`, or the route's path parameter
    sources.py      membership sources, one registry: `metadata` (the principal carries them)
                    and `keto` (Ory Permissions: `Organization:<org>#<role>@<identity id>`)
    stage.py        `OrgStage.choose`: the principal as seen in the chosen organization

The package imports nothing itself (settings validation reads `sources` without the stage).
"""
