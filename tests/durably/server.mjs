// A real @coji/durably HTTP service for the gateway's end-to-end tests.
//
//   node server.mjs [--port N] [--db PATH|:memory:] [--base /api/durably]
//   env: PORT, DURABLY_DB, DURABLY_BASE_PATH, DURABLY_SSE_THROTTLE_MS,
//        DURABLY_MAX_CONCURRENT_RUNS, DURABLY_PRESERVE_STEPS (default 1),
//        DURABLY_FLUSH_HEADERS (default 1; 0: an SSE head goes out with the first event,
//          as behind Node adapters that do not flush it),
//        DURABLY_GATEWAY_JWKS_URL, DURABLY_GATEWAY_ISSUER, DURABLY_GATEWAY_AUDIENCE (default
//          jobs): when the JWKS URL is set, Durably's auth hooks accept only requests that
//          carry the gateway's X-Identity-Assertion for this audience (see assertion.mjs)
//
// Mounts createDurablyHandler under the base path, records every request it
// receives (GET/DELETE /__recorder/requests), prints "durably listening on <port>"
// once ready and shuts down cleanly on SIGTERM/SIGINT.
import http from 'node:http'
import { parseArgs } from 'node:util'
import Database from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import { z } from 'zod'
import { createDurably, createDurablyHandler, defineJob } from '@coji/durably'
import { gatewayAuth } from './assertion.mjs'

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    db: { type: 'string' },
    base: { type: 'string' },
    host: { type: 'string' },
  },
})
const port = Number(args.port ?? process.env.PORT ?? 0)
const host = args.host ?? process.env.HOST ?? '127.0.0.1'
const dbPath = args.db ?? process.env.DURABLY_DB ?? ':memory:'
const basePath = args.base ?? process.env.DURABLY_BASE_PATH ?? '/api/durably'
const sseThrottleMs = Number(process.env.DURABLY_SSE_THROTTLE_MS ?? 100)
const maxConcurrentRuns = Number(process.env.DURABLY_MAX_CONCURRENT_RUNS ?? 8)
// keep step rows after a run ends so GET /steps has something to show (Durably's default: false)
const preserveSteps = (process.env.DURABLY_PRESERVE_STEPS ?? '1') !== '0'
const flushHeaders = (process.env.DURABLY_FLUSH_HEADERS ?? '1') !== '0'
const jwksUrl = process.env.DURABLY_GATEWAY_JWKS_URL

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => {
      clearTimeout(timer)
      reject(new Error('aborted'))
    })
  })

// --- sample jobs -------------------------------------------------------------
const sendReport = defineJob({
  name: 'send-report',
  input: z.object({ reportId: z.string().optional(), steps: z.number().int().min(1).max(20).optional() }),
  output: z.object({ reportId: z.string().nullable(), steps: z.number() }),
  run: async (step, input) => {
    const steps = input.steps ?? 3
    for (let i = 0; i < steps; i++) {
      await step.run(`part-${i + 1}`, async (signal) => {
        await sleep(60, signal)
        return { part: i + 1 }
      })
      step.progress(i + 1, steps, `part ${i + 1} of ${steps}`)
      step.log.info('part done', { part: i + 1 })
    }
    return { reportId: input.reportId ?? null, steps }
  },
})

const longTask = defineJob({
  name: 'long-task',
  input: z.object({ durationMs: z.number().int().min(0).max(600000).optional() }),
  run: async (step, input) => {
    const total = input.durationMs ?? 30000
    const slices = Math.max(1, Math.ceil(total / 200))
    for (let i = 0; i < slices; i++) {
      await step.run(`tick-${i}`, (signal) => sleep(200, signal))
      step.progress(i + 1, slices)
    }
    return { ticks: slices }
  },
})

const failingTask = defineJob({
  name: 'failing-task',
  input: z.object({ message: z.string().optional() }),
  run: async (step, input) => {
    await step.run('prepare', () => sleep(20))
    await step.run('explode', () => {
      throw new Error(input.message ?? 'boom')
    })
  },
})

const echo = defineJob({
  name: 'echo',
  input: z.any(),
  run: async (step, input) => step.run('echo', () => input ?? null),
})

// --- durably -----------------------------------------------------------------
const sqlite = new Database(dbPath)
const dialect = new SqliteDialect({ database: sqlite })
const durably = createDurably({
  dialect,
  pollingIntervalMs: 50,
  leaseRenewIntervalMs: 1000,
  leaseMs: 10000,
  maxConcurrentRuns,
  preserveSteps,
  jobs: { sendReport, longTask, failingTask, echo },
})
await durably.init()
const auth = jwksUrl
  ? gatewayAuth({
      jwksUrl,
      issuer: process.env.DURABLY_GATEWAY_ISSUER,
      audience: process.env.DURABLY_GATEWAY_AUDIENCE ?? 'jobs',
    })
  : undefined
const handler = createDurablyHandler(durably, { sseThrottleMs, auth })
void Kysely // kysely is a peer dependency; imported so a missing install fails loudly

// --- recorder ----------------------------------------------------------------
let recorded = []
let sequence = 0

function headerPairs(req) {
  const pairs = []
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    pairs.push([req.rawHeaders[i], req.rawHeaders[i + 1]])
  }
  return pairs
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

function sendJson(res, status, data) {
  const body = JSON.stringify(data)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

function handleRecorder(req, res) {
  if (req.method === 'GET') return sendJson(res, 200, recorded)
  if (req.method === 'DELETE') {
    // ?upto=N forgets only the requests up to sequence N (a reader that harvests as it goes)
    const upto = Number(new URL(req.url, 'http://localhost').searchParams.get('upto') ?? Infinity)
    recorded = recorded.filter((entry) => entry.seq > upto)
    return sendJson(res, 200, { success: true })
  }
  return sendJson(res, 405, { error: 'method not allowed' })
}

// --- bridge node:http <-> Web Request/Response --------------------------------
function toWebRequest(req, body) {
  const headers = new Headers()
  for (const [name, value] of headerPairs(req)) {
    try {
      headers.append(name, value)
    } catch {
      // header not representable in a Web Request: Durably never reads it
    }
  }
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD'
  return new Request(`http://${host}:${server.address().port}${req.url}`, {
    method: req.method,
    headers,
    body: hasBody ? body : undefined,
  })
}

async function pipeResponse(response, res) {
  const headers = {}
  response.headers.forEach((value, name) => {
    headers[name] = value
  })
  res.writeHead(response.status, headers)
  if (!response.body) return res.end()
  if (flushHeaders) res.flushHeaders() // SSE: send the head now, not with the first event
  const reader = response.body.getReader()
  res.on('close', () => {
    reader.cancel().catch(() => {})
  })
  try {
    while (true) {
      const { done, value } = await reader.read()
      if (done) break
      res.write(value)
    }
  } catch {
    // client went away or the stream errored
  }
  res.end()
}

async function onRequest(req, res) {
  const url = new URL(req.url, 'http://localhost')
  if (url.pathname === '/__recorder/requests') return handleRecorder(req, res)
  if (url.pathname === '/__health') return sendJson(res, 200, { ok: true })
  const body = await readBody(req)
  const entry = {
    seq: ++sequence,
    method: req.method,
    path: req.url,
    headers: headerPairs(req),
    body: body.toString('utf8'),
    status: null,
  }
  recorded.push(entry)
  if (url.pathname !== basePath && !url.pathname.startsWith(`${basePath}/`)) {
    entry.status = 404
    return sendJson(res, 404, { error: 'Not Found' })
  }
  const response = await handler.handle(toWebRequest(req, body), basePath)
  entry.status = response.status
  await pipeResponse(response, res)
}

const server = http.createServer((req, res) => {
  onRequest(req, res).catch((error) => {
    console.error('request failed', error)
    if (!res.headersSent) sendJson(res, 500, { error: String(error?.message ?? error) })
    else res.destroy()
  })
})

server.listen(port, host, () => {
  console.log(`durably listening on ${server.address().port}`)
})

let stopping = false
async function shutdown(signal) {
  if (stopping) return
  stopping = true
  console.log(`durably stopping (${signal})`)
  server.close()
  server.closeAllConnections()
  try {
    await durably.stop()
  } catch (error) {
    console.error('durably.stop failed', error)
  }
  sqlite.close()
  process.exit(0)
}
process.on('SIGTERM', () => void shutdown('SIGTERM'))
process.on('SIGINT', () => void shutdown('SIGINT'))
