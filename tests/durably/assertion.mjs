// Durably's auth hooks on the gateway's X-Identity-Assertion: a job service that refuses
// every request that did not come through the gateway (docs/durably-contract.md, "Defence
// in depth"). The gateway signs each forwarded request with a short-lived ES256 JWT
// (`iss` = GATEWAY_PUBLIC_URL, `aud` = the upstream's name, `org`, `roles`, `scopes`,
// `tenant`, `kind`, `sub`) and publishes its keys at /.well-known/jwks.json.
//
//   createDurablyHandler(durably, { auth: gatewayAuth({ jwksUrl, issuer, audience }) })
//
// - authenticate: no assertion, a bad signature, another issuer or audience, an expired
//   one -> 401; the verified claims are the context of every other hook.
// - onTrigger: labels.organizationId and labels.tenant must be the assertion's (403);
//   triggering needs write access (role `member`, or scope `jobs:write` for machines).
// - onRunAccess: a run of another organization or tenant is "Run not found" (404, as the
//   gateway answers); retrigger, cancel and delete need write access (403).
// - scopeRuns (also used for /runs/subscribe): the list and the stream are forced to the
//   assertion's organization and tenant, whatever the query asked for.
import { createRemoteJWKSet, jwtVerify } from 'jose'

const WRITE_ROLE = 'member'
const WRITE_SCOPE = 'jobs:write'
const WRITES = new Set(['retrigger', 'cancel', 'delete'])

function refuse(status, error) {
  return new Response(JSON.stringify({ error }), {
    status,
    headers: { 'content-type': 'application/json' },
  })
}

function canWrite(ctx) {
  return ctx.roles.includes(WRITE_ROLE) || (ctx.kind === 'machine' && ctx.scopes.includes(WRITE_SCOPE))
}

export function gatewayAuth({ jwksUrl, issuer, audience }) {
  if (!issuer) throw new Error('gatewayAuth: the issuer (the gateway public URL) is required')
  // keys are fetched on first use and again when an unknown `kid` shows up (jose caches them)
  const keys = createRemoteJWKSet(new URL(jwksUrl))
  return {
    async authenticate(request) {
      const token = request.headers.get('x-identity-assertion')
      if (!token) throw refuse(401, 'no identity assertion: requests must come through the gateway')
      let claims
      try {
        ;({ payload: claims } = await jwtVerify(token, keys, { issuer, audience, algorithms: ['ES256'] }))
      } catch (error) {
        throw refuse(401, `identity assertion refused: ${error.code ?? error.message}`)
      }
      if (typeof claims.org !== 'string' || !claims.org || typeof claims.tenant !== 'string') {
        throw refuse(403, 'the assertion names no organization')
      }
      return {
        subject: claims.sub,
        kind: claims.kind,
        tenant: claims.tenant,
        org: claims.org,
        roles: Array.isArray(claims.roles) ? claims.roles : [],
        scopes: Array.isArray(claims.scopes) ? claims.scopes : [],
      }
    },

    onTrigger(ctx, trigger) {
      const labels = trigger.labels ?? {}
      if (labels.organizationId !== ctx.org || labels.tenant !== ctx.tenant) {
        throw refuse(403, 'labels must name the caller organization and tenant')
      }
      if (!canWrite(ctx)) throw refuse(403, 'triggering needs write access')
    },

    onRunAccess(ctx, run, { operation }) {
      const labels = run.labels ?? {}
      if (labels.organizationId !== ctx.org || labels.tenant !== ctx.tenant) {
        throw refuse(404, 'Run not found')
      }
      if (WRITES.has(operation) && !canWrite(ctx)) throw refuse(403, `${operation} needs write access`)
    },

    scopeRuns(ctx, filter) {
      return { ...filter, labels: { ...(filter.labels ?? {}), organizationId: ctx.org, tenant: ctx.tenant } }
    },
  }
}
