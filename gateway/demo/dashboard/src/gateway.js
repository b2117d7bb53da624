// What the page knows of the gateway in front of it.
//
// - Where it is: the tenant's base path (rendered into <body data-base>) and the
//   organization named in the page's URL (/<tenant>/orgs/<org>/).
// - What the gateway refused. Durably's hooks turn a failed call into a bare message
//   ("Failed to fetch runs: Forbidden"), and an EventSource never shows an answer at all, so
//   the page watches its own calls: every answer of the gateway's JSON error shape
//   ({error, error_description, reason?, request_id}) is kept as the current problem, and
//   when a stream is closed for good the page asks once why (the session's end shows as 401).
// - Whether its streams are up: every EventSource the client opens is counted.

export const base = document.body.dataset.base ?? ''
const inPath = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/orgs/([^/]+)/?$`).exec(location.pathname)
export const orgInPath = inPath ? decodeURIComponent(inPath[1]) : null

export function orgUrl(org) {
  return `${base}/orgs/${encodeURIComponent(org)}/`
}

// --- problems: the gateway's refusals, as the person should see them ----------------------

let problem = null
const problemListeners = new Set()

function report(next) {
  problem = next
  for (const listener of problemListeners) listener()
}

export function subscribeProblem(listener) {
  problemListeners.add(listener)
  return () => problemListeners.delete(listener)
}

export const currentProblem = () => problem
export const clearProblem = () => report(null)

export function describe(p) {
  const reason = p.reason && p.reason !== p.error ? ` (${p.reason})` : ''
  return `Refused by the gateway: ${p.status} ${p.error}${reason}: ${p.error_description}`
}

const nativeFetch = window.fetch.bind(window)

window.fetch = async (input, init) => {
  const response = await nativeFetch(input, init)
  if (!response.ok) {
    const body = await response
      .clone()
      .json()
      .catch(() => null)
    if (body && typeof body.error === 'string' && typeof body.error_description === 'string') {
      const { pathname } = new URL(response.url)
      report({ ...body, status: response.status, method: init?.method ?? 'GET', path: pathname })
    }
  }
  return response
}

// --- streams -------------------------------------------------------------------------------

const NativeEventSource = window.EventSource
const sources = new Set()
const streamListeners = new Set()
let streamState = 'idle'

function streamsChanged() {
  const states = [...sources].map((s) => s.readyState)
  streamState = !states.length
    ? 'idle'
    : states.includes(NativeEventSource.CLOSED)
      ? 'closed'
      : states.includes(NativeEventSource.CONNECTING)
        ? 'connecting'
        : 'live'
  for (const listener of streamListeners) listener()
}

export function subscribeStreams(listener) {
  streamListeners.add(listener)
  return () => streamListeners.delete(listener)
}

export const currentStreams = () => streamState

async function whyClosed(url) {
  const abort = new AbortController()
  try {
    const response = await fetch(url, { signal: abort.signal, headers: { accept: 'text/event-stream' } })
    if (!response.ok && !currentProblem()) {
      report({ status: response.status, error: 'stream_refused', error_description: response.statusText })
    }
  } catch {
    // the network is gone: the stream's state already says so
  } finally {
    abort.abort()
  }
}

// Durably ends a run's own stream (/subscribe?runId=) after the run's last event; an
// EventSource then reconnects every few seconds for as long as the page shows the run, and
// each time gets the same ended run again. Once a run's stream has carried its last event,
// its end is final here: the source is closed instead of reconnecting (and the client's own
// error handler, which would report a failed connection, is not called).
const LAST_EVENTS = new Set(['run:complete', 'run:fail', 'run:cancel', 'run:delete'])

function lastEvent(data) {
  try {
    return LAST_EVENTS.has(JSON.parse(data).type)
  } catch {
    return false
  }
}

class WatchedEventSource extends NativeEventSource {
  constructor(url, init) {
    super(url, init)
    const oneRun = new URL(this.url).pathname.endsWith('/subscribe') && new URL(this.url).searchParams.has('runId')
    let finished = false
    sources.add(this)
    this.addEventListener('open', streamsChanged)
    this.addEventListener('message', (event) => {
      finished ||= oneRun && lastEvent(event.data)
    })
    this.addEventListener('error', (event) => {
      if (finished) {
        event.stopImmediatePropagation()
        this.close()
        return
      }
      streamsChanged()
      if (this.readyState === NativeEventSource.CLOSED) whyClosed(this.url)
    })
    streamsChanged()
  }

  close() {
    super.close()
    sources.delete(this)
    streamsChanged()
  }
}

window.EventSource = WatchedEventSource
