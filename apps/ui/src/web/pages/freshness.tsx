import type { Freshness } from '../../shared/api';
import { useApi } from '../api';
import { Failure, Loading, Page, Time } from '../components';
import { elapsedText, stateClass } from '../format';
import { objectHref } from '../router';

/** How often the page asks again: fresh enough to watch a job run, cheap for the services. */
const POLL_MS = 2_000;

export function FreshnessPage() {
  const loaded = useApi<Freshness>('/api/freshness', POLL_MS);
  return (
    <Page title="Freshness">
      {loaded.state === 'loading' && <Loading />}
      {loaded.state === 'error' && <Failure error={loaded.error} />}
      {loaded.state === 'ok' && <FreshnessBody f={loaded.data} />}
    </Page>
  );
}

function FreshnessBody({ f }: { f: Freshness }) {
  const stale = f.views.filter((v) => v.stale).length;
  return (
    <>
      <p class="muted">
        Updated every {POLL_MS / 1000} s; as of <Time iso={f.asOf} />.
      </p>
      {f.problems.map((p) => (
        <p class="notice warn" key={p.service}>
          The {p.service} service did not answer ({p.message}).
        </p>
      ))}
      <section aria-labelledby="jobs-heading">
        <h2 id="jobs-heading">Materialization jobs</h2>
        {f.jobs.length === 0 ? (
          <p class="muted">No job yet.</p>
        ) : (
          <div class="table-scroll">
            <table id="jobs">
              <caption class="visually-hidden">Newest first</caption>
              <thead>
                <tr>
                  <th scope="col">job</th>
                  <th scope="col">project</th>
                  <th scope="col">state</th>
                  <th scope="col">views</th>
                  <th scope="col">rows written</th>
                  <th scope="col">duration</th>
                  <th scope="col">created</th>
                  <th scope="col">error</th>
                </tr>
              </thead>
              <tbody>
                {f.jobs.map((j) => (
                  <tr key={j.id} data-job={j.id}>
                    <th scope="row">
                      <code>{j.id}</code>
                    </th>
                    <td>{j.project}</td>
                    <td>
                      <span class={`state ${stateClass(j.state)}`}>{j.state.toLowerCase()}</span>
                    </td>
                    <td>{j.views.map((v) => v.featureView).join(', ')}</td>
                    <td>{j.rowsWritten}</td>
                    <td>{elapsedText(j.durationMs)}</td>
                    <td>
                      <Time iso={j.createTime} />
                    </td>
                    <td>{j.error || j.views.find((v) => v.error !== '')?.error || ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <section aria-labelledby="views-heading">
        <h2 id="views-heading">
          Feature views ({f.views.length}, {stale} stale)
        </h2>
        <div class="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">view</th>
                <th scope="col">project</th>
                <th scope="col">watermark</th>
                <th scope="col">last job</th>
                <th scope="col">fresh</th>
              </tr>
            </thead>
            <tbody>
              {f.views.map((v) => (
                <tr key={`${v.project}/${v.name}`}>
                  <th scope="row">
                    <a href={objectHref(v.project, 'feature-view', v.name)}>{v.name}</a>
                  </th>
                  <td>{v.project}</td>
                  <td>
                    <Time iso={v.watermark} />
                  </td>
                  <td>
                    <span class={`state ${stateClass(v.lastJobStatus)}`}>{v.lastJobStatus === 'UNSPECIFIED' ? 'none' : v.lastJobStatus.toLowerCase()}</span>
                    {v.lastError && <span class="muted"> {v.lastError}</span>}
                  </td>
                  <td>{v.stale ? <span class="state bad">stale</span> : v.online ? 'yes' : 'offline only'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
      <section aria-labelledby="consumers-heading">
        <h2 id="consumers-heading">Ingestion consumers</h2>
        {f.consumers.length === 0 ? (
          <p class="muted">No Kafka source is being consumed.</p>
        ) : (
          <div class="table-scroll">
            <table>
              <thead>
                <tr>
                  <th scope="col">source</th>
                  <th scope="col">topic</th>
                  <th scope="col">state</th>
                  <th scope="col">lag</th>
                  <th scope="col">events/s</th>
                  <th scope="col">dead letters</th>
                  <th scope="col">last error</th>
                </tr>
              </thead>
              <tbody>
                {f.consumers.map((c) => (
                  <tr key={`${c.project}/${c.dataSource}`}>
                    <th scope="row">
                      <a href={objectHref(c.project, 'data-source', c.dataSource)}>{c.dataSource}</a>
                    </th>
                    <td>{c.topic}</td>
                    <td>
                      <span class={`state ${stateClass(c.state)}`}>{c.state.toLowerCase()}</span>
                    </td>
                    <td>{c.lag}</td>
                    <td>{c.eventsPerSecond.toFixed(1)}</td>
                    <td>
                      {c.deadLetters}
                      {c.deadLetterTopic && <span class="muted"> → {c.deadLetterTopic}</span>}
                    </td>
                    <td>{c.lastError}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}
