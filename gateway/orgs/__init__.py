"""The organization stage: which organization a request acts for, and with which roles.

tenant -> route -> authn -> ORG -> authz -> labels -> forward

choice.py       the caller's choice: `X-Organization-Id`, or the route's path parameter
sources.py      membership sources, one registry (id, validate, bind, what check and explain say)
memberships.py  the `metadata` source: memberships from identity metadata (list or single form)
keto.py         the `keto` source: Ory Permissions, `Organization:<org>#<role>@<identity id>`
stage.py        `OrgStage.choose`: the principal as seen in the chosen organization
"""
