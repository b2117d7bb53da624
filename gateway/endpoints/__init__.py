"""What the gateway answers itself.

registry.py          its own endpoints, one registry (path, who may call, handler): health,
                     readiness, metrics, the assertion JWKS, forward-auth decisions, revoke
health.py            /healthz, /readyz
forward_auth.py      /decisions for nginx, Traefik, Envoy
admin.py             who may call an admin endpoint, and /_gateway/revoke
builtins.py          the built-in targets routes name, one registry (id, options, validate, bind)
builtin_dispatch.py  a route's built-in target answered by its handler
"""
