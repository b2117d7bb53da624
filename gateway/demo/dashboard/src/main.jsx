// The jobs dashboard: /<tenant>/ asks the gateway who the person is (GET /<tenant>/me) and
// opens their organization (or lets a person of several pick one); /<tenant>/orgs/<org>/
// is Durably's own React client pointed at that organization's URL of the Durably API.
import { StrictMode, useEffect, useState, useSyncExternalStore } from 'react'
import { createRoot } from 'react-dom/client'
import './dashboard.css'
import { base, clearProblem, currentProblem, describe, orgInPath, orgUrl, subscribeProblem } from './gateway.js'
import { Header, OrgPage } from './org-page.jsx'

function useMe() {
  const [me, setMe] = useState(null)
  useEffect(() => {
    fetch(`${base}/me`)
      .then((response) => (response.ok ? response.json() : null))
      .then(setMe)
      .catch(() => setMe(null))
  }, [])
  return me
}

export function Problem() {
  const problem = useSyncExternalStore(subscribeProblem, currentProblem)
  if (!problem) return null
  const signedOut = problem.status === 401
  return (
    <p id="problem" className="error" role="alert" data-status={problem.status} data-error={problem.error}>
      {signedOut ? 'Your session has ended. ' : ''}
      {describe(problem)}
      {signedOut ? (
        <>
          {' '}
          <a href={`${base}/`}>Sign in again</a>
        </>
      ) : (
        <button type="button" className="link" onClick={clearProblem}>
          dismiss
        </button>
      )}
    </p>
  )
}

function Picker({ me }) {
  const memberships = me.memberships
  useEffect(() => {
    if (memberships.length === 1) location.replace(orgUrl(memberships[0].organization_id))
  }, [memberships])
  return (
    <>
      <Header me={me} org={null} roles={[]} />
      <main>
        <section id="choose">
          <h2>Choose an organization</h2>
          {memberships.length === 0 ? (
            <p className="empty">You belong to no organization of this tenant.</p>
          ) : (
            <ul className="orgs">
              {memberships.map((m) => (
                <li key={m.organization_id}>
                  <a className="org" href={orgUrl(m.organization_id)} data-org={m.organization_id}>
                    {m.organization_id}
                  </a>{' '}
                  <span className="roles">{m.roles.join(', ') || 'no role'}</span>
                </li>
              ))}
            </ul>
          )}
        </section>
      </main>
    </>
  )
}

function App() {
  const me = useMe()
  return (
    <>
      <Problem />
      {me === null ? (
        <p className="loading">Loading…</p>
      ) : orgInPath ? (
        <OrgPage me={me} org={orgInPath} />
      ) : (
        <Picker me={me} />
      )}
    </>
  )
}

createRoot(document.getElementById('root')).render(
  <StrictMode>
    <App />
  </StrictMode>,
)
