// One organization's jobs, with Durably's own client (createDurably, useJob, useRuns,
// useRunActions) talking to /<tenant>/orgs/<org>/api/durably: the gateway checks the
// membership and the role held there, and keeps every call and stream to this organization.
import { createDurably } from '@coji/durably-react'
import { useMemo, useState, useSyncExternalStore } from 'react'
import { base, currentProblem, currentStreams, describe, orgUrl, subscribeStreams } from './gateway.js'

const JOBS = {
  'send-report': { reportId: 'weekly', steps: 3 },
  'long-task': { durationMs: 8000 },
  'failing-task': { message: 'printer on fire' },
}
const STREAM_LABELS = { idle: 'no stream', connecting: 'connecting…', live: 'live', closed: 'stream ended' }

function refusal(error) {
  const problem = currentProblem()
  return problem ? describe(problem) : `Failed: ${error.message}`
}

export function Header({ me, org, roles }) {
  const streams = useSyncExternalStore(subscribeStreams, currentStreams)
  const tenant = base.replace(/^\//, '') || 'gateway'
  return (
    <header>
      <h1>Jobs · {tenant}</h1>
      <nav id="orgs" aria-label="organizations">
        {me.memberships.map((m) => (
          <a
            key={m.organization_id}
            href={orgUrl(m.organization_id)}
            data-org={m.organization_id}
            aria-current={m.organization_id === org ? 'page' : undefined}
          >
            {m.organization_id}
          </a>
        ))}
      </nav>
      <span className="who">
        {org && (
          <>
            organization <b id="org">{org}</b> · role <b id="roles">{roles.join(', ') || '-'}</b> ·{' '}
          </>
        )}
        user <code id="user">{me.subject}</code>{' '}
        {org && (
          <span id="live" className={streams}>
            {STREAM_LABELS[streams]}
          </span>
        )}
      </span>
      <form id="logout" method="POST" action={`${base}/auth/logout`}>
        <button className="quiet" type="submit">
          Sign out
        </button>
      </form>
    </header>
  )
}

function Progress({ progress }) {
  if (!progress?.total) return <span className="empty">-</span>
  const percent = Math.round((100 * progress.current) / progress.total)
  return (
    <span className="bar" title={progress.message ?? `${progress.current} / ${progress.total}`}>
      <span style={{ width: `${percent}%` }} />
    </span>
  )
}

function TriggerPanel({ durably }) {
  const [job, setJob] = useState('send-report')
  const [notice, setNotice] = useState(null)
  const run = durably[job].useJob()

  async function trigger() {
    setNotice(null)
    try {
      const { runId } = await run.trigger(JOBS[job])
      setNotice({ ok: true, text: `Triggered ${job} (run ${runId})` })
    } catch (error) {
      setNotice({ ok: false, text: refusal(error) })
    }
  }

  return (
    <section>
      <h2>Trigger a job</h2>
      <select id="job" value={job} onChange={(event) => setJob(event.target.value)}>
        {Object.keys(JOBS).map((name) => (
          <option key={name} value={name}>
            {name}
          </option>
        ))}
      </select>{' '}
      <button id="trigger" type="button" onClick={trigger}>
        Trigger
      </button>
      {notice && (
        <p id="notice" role="status" className={notice.ok ? 'ok' : 'error'}>
          {notice.text}
        </p>
      )}
      {run.currentRunId && (
        <p id="current" data-run-id={run.currentRunId} data-status={run.status ?? ''}>
          Latest {job} run <code>{run.currentRunId}</code>: <span className={`status ${run.status}`}>{run.status}</span>{' '}
          <Progress progress={run.progress} />
          {run.isFailed && <span className="error-text"> {run.error}</span>}
        </p>
      )}
    </section>
  )
}

function RunRow({ run, actions, onRefused }) {
  const act = (name, call) => () =>
    call(run.id).catch((error) => onRefused(`${name}: ${refusal(error)}`))
  return (
    <tr data-run-id={run.id} data-org={run.labels?.organizationId ?? ''} data-status={run.status}>
      <td>
        <code title={run.id}>{run.id.slice(-8)}</code>
      </td>
      <td>{run.jobName}</td>
      <td>
        <span className={`status ${run.status}`}>{run.status}</span>
      </td>
      <td>
        <Progress progress={run.progress} />
      </td>
      <td>{new Date(run.createdAt).toLocaleTimeString()}</td>
      <td className="actions">
        {run.isTerminal && (
          <button type="button" className="retrigger" onClick={act('retrigger', actions.retrigger)}>
            Retrigger
          </button>
        )}
        {run.isActive && (
          <button type="button" className="cancel" onClick={act('cancel', actions.cancel)}>
            Cancel
          </button>
        )}
        {run.isTerminal && (
          <button type="button" className="delete" onClick={act('delete', actions.deleteRun)}>
            Delete
          </button>
        )}
      </td>
    </tr>
  )
}

function RunsPanel({ durably, org }) {
  const { runs, page, hasMore, isLoading, error, nextPage, prevPage } = durably.useRuns({ pageSize: 10 })
  const actions = durably.useRunActions()
  const [refused, setRefused] = useState(null)
  return (
    <section>
      <h2>
        Runs of {org} {isLoading && <span className="empty">loading…</span>}
      </h2>
      {error && <p className="error-text">{error}</p>}
      {refused && (
        <p id="action-refused" className="error">
          {refused}
        </p>
      )}
      <table id="runs">
        <thead>
          <tr>
            <th>run</th>
            <th>job</th>
            <th>status</th>
            <th>progress</th>
            <th>created</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {runs.map((run) => (
            <RunRow key={run.id} run={run} actions={actions} onRefused={setRefused} />
          ))}
        </tbody>
      </table>
      {!runs.length && !isLoading && <p className="empty">No runs yet.</p>}
      <p className="pages">
        <button type="button" className="quiet-dark" disabled={page === 0} onClick={prevPage}>
          ← newer
        </button>{' '}
        page {page + 1}{' '}
        <button type="button" className="quiet-dark" disabled={!hasMore} onClick={nextPage}>
          older →
        </button>
      </p>
    </section>
  )
}

export function OrgPage({ me, org }) {
  const durably = useMemo(() => createDurably({ api: `${base}/orgs/${encodeURIComponent(org)}/api/durably` }), [org])
  const roles = me.memberships.find((m) => m.organization_id === org)?.roles ?? []
  return (
    <>
      <Header me={me} org={org} roles={roles} />
      <main>
        <TriggerPanel durably={durably} />
        <RunsPanel durably={durably} org={org} />
      </main>
    </>
  )
}
