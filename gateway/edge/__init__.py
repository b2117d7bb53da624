"""Edge mode: nginx forwards, the gateway decides (`gateway edge nginx`, docs/edge.md).

`plan` sorts every route into those nginx may forward itself after asking `/decisions`
(plain forwards the gateway decides without the body) and those it hands to the gateway,
and orders them the way the gateway's matcher would try them; `nginx` renders the plan as
an nginx configuration; `problems` lists what would stop that configuration from working;
`route_key` is what a rendered location assumes about its route, checked by `/decisions`.
"""
