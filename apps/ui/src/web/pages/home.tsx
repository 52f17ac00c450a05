import type { Overview } from '../../shared/api';
import { useApi } from '../api';
import { Failure, Loading, Page } from '../components';
import { objectHref } from '../router';

const ATTENTION_SHOWN = 20;

export function Home() {
  const loaded = useApi<Overview>('/api/overview', 10_000);
  return (
    <Page title="Home">
      {loaded.state === 'loading' && <Loading />}
      {loaded.state === 'error' && <Failure error={loaded.error} />}
      {loaded.state === 'ok' && <HomeBody overview={loaded.data} />}
    </Page>
  );
}

function HomeBody({ overview }: { overview: Overview }) {
  const { projects, attention, problems } = overview;
  return (
    <>
      {problems.map((p) => (
        <p class="notice warn" key={p.service}>
          The {p.service} service did not answer ({p.message}); its part is missing below.
        </p>
      ))}
      <section aria-labelledby="projects-heading">
        <h2 id="projects-heading">Projects</h2>
        {projects.length === 0 && (
          <p>
            No projects yet: apply a feature repo with <code>larder apply</code>.
          </p>
        )}
        <ul class="cards">
          {projects.map((p) => (
            <li class="card" key={p.name}>
              <h3>
                <a href={`/p/${encodeURIComponent(p.name)}`}>{p.name}</a>
              </h3>
              {p.description && <p>{p.description}</p>}
              <dl class="counts">
                <div>
                  <dt>entities</dt>
                  <dd>{p.counts.entities}</dd>
                </div>
                <div>
                  <dt>sources</dt>
                  <dd>{p.counts.dataSources}</dd>
                </div>
                <div>
                  <dt>views</dt>
                  <dd>{p.counts.featureViews}</dd>
                </div>
                <div>
                  <dt>on-demand views</dt>
                  <dd>{p.counts.onDemandFeatureViews}</dd>
                </div>
                <div>
                  <dt>services</dt>
                  <dd>{p.counts.featureServices}</dd>
                </div>
              </dl>
              <p class="links">
                <a href={`/lineage/${encodeURIComponent(p.name)}`}>Lineage</a>
                {p.owner && <span class="muted"> · owner {p.owner}</span>}
              </p>
            </li>
          ))}
        </ul>
      </section>
      <section aria-labelledby="attention-heading">
        <h2 id="attention-heading">Needs attention</h2>
        {attention.length === 0 ? (
          <p class="notice ok">Nothing: every view is fresh, no job failed, no consumer lags.</p>
        ) : (
          <>
            <ul class="attention">
              {attention.slice(0, ATTENTION_SHOWN).map((a, i) => (
                <li key={i} class={`attention-${a.kind}`}>
                  <span class="badge">{a.kind.replace('-', ' ')}</span> <span class="muted">{a.project}</span>{' '}
                  {a.href !== undefined ? (
                    <a href={a.href}>{a.message}</a>
                  ) : a.object ? (
                    <a href={objectHref(a.project, a.object.kind, a.object.name)}>{a.message}</a>
                  ) : (
                    a.message
                  )}
                </li>
              ))}
            </ul>
            {attention.length > ATTENTION_SHOWN && (
              <p>
                and {attention.length - ATTENTION_SHOWN} more on the <a href="/freshness">freshness page</a>.
              </p>
            )}
          </>
        )}
      </section>
    </>
  );
}
