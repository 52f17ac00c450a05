import { KIND_LABELS } from '../../shared/api';
import { qualityHref } from '../../shared/quality-api';
import type { ObjectDetail, ObjectKindSlug } from '../../shared/api';
import { useApi } from '../api';
import { Failure, Loading, Page, Tags, Time } from '../components';
import { stateClass, ttl, valueType } from '../format';
import { objectHref } from '../router';
import { NotFoundBody } from './not-found';

type Json = Record<string, unknown>;
const list = (value: unknown): Json[] => (Array.isArray(value) ? (value as Json[]) : []);
const text = (value: unknown): string => (typeof value === 'string' ? value : '');
const tags = (value: unknown): Record<string, string> => (value !== null && typeof value === 'object' ? (value as Record<string, string>) : {});

export function ObjectPage({ project, kind, name }: { project: string; kind: ObjectKindSlug; name: string }) {
  const loaded = useApi<ObjectDetail>(`/api/objects/${encodeURIComponent(project)}/${kind}/${encodeURIComponent(name)}`);
  if (loaded.state === 'error' && loaded.error.status === 404) {
    return <NotFoundBody what={`${KIND_LABELS[kind]} “${name}” in project ${project}`} detail={loaded.error.message} search={name} />;
  }
  return (
    <Page
      title={`${name} (${KIND_LABELS[kind]})`}
      heading={
        <>
          <span class="kind">{KIND_LABELS[kind]}</span> {name}
        </>
      }
    >
      <p class="muted">
        in project <a href={`/p/${encodeURIComponent(project)}`}>{project}</a>
      </p>
      {loaded.state === 'loading' && <Loading />}
      {loaded.state === 'error' && <Failure error={loaded.error} />}
      {loaded.state === 'ok' && <ObjectBody detail={loaded.data} />}
    </Page>
  );
}

function Fields({ fields, caption }: { fields: Json[]; caption: string }) {
  return (
    <table>
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">name</th>
          <th scope="col">type</th>
          <th scope="col">description</th>
          <th scope="col">tags</th>
        </tr>
      </thead>
      <tbody>
        {fields.map((f) => (
          <tr key={text(f['name'])} id={`feature-${text(f['name'])}`}>
            <th scope="row">{text(f['name'])}</th>
            <td>{valueType(f['value_type'])}</td>
            <td>{text(f['description'])}</td>
            <td>
              <Tags tags={tags(f['tags'])} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ObjectBody({ detail }: { detail: ObjectDetail }) {
  const o = detail.object;
  const p = detail.project;
  const link = (kind: ObjectKindSlug, name: string) => <a href={objectHref(p, kind, name)}>{name}</a>;
  const source = Object.keys(o).find((k) => ['file', 'bigquery', 'postgres', 'kafka', 'push', 'request'].includes(k));
  return (
    <>
      {text(o['description']) && <p>{text(o['description'])}</p>}
      <dl class="facts">
        {text(o['owner']) && (
          <div>
            <dt>owner</dt>
            <dd>
              <a href={`/search?q=${encodeURIComponent(`owner:${text(o['owner'])}`)}`}>{text(o['owner'])}</a>
            </dd>
          </div>
        )}
        {detail.kind === 'entity' && (
          <>
            <div>
              <dt>join key</dt>
              <dd>{text(o['join_key'])}</dd>
            </div>
            <div>
              <dt>type</dt>
              <dd>{valueType(o['value_type'])}</dd>
            </div>
          </>
        )}
        {detail.kind === 'feature-view' && (
          <>
            <div>
              <dt>entities</dt>
              <dd>
                {(o['entities'] as string[] | undefined)?.map((e, i) => (
                  <span key={e}>
                    {i > 0 && ', '}
                    {link('entity', e)}
                  </span>
                )) ?? 'none'}
              </dd>
            </div>
            <div>
              <dt>ttl</dt>
              <dd>{ttl(o['ttl'])}</dd>
            </div>
            <div>
              <dt>online</dt>
              <dd>{o['online'] === false ? 'no' : 'yes'}</dd>
            </div>
            {text(o['batch_source']) && (
              <div>
                <dt>batch source</dt>
                <dd>{link('data-source', text(o['batch_source']))}</dd>
              </div>
            )}
            {text(o['stream_source']) && (
              <div>
                <dt>stream source</dt>
                <dd>{link('data-source', text(o['stream_source']))}</dd>
              </div>
            )}
            <div>
              <dt>data quality</dt>
              <dd>
                <a href={qualityHref(p, detail.name)}>histograms, anomalies and drift</a>
              </dd>
            </div>
          </>
        )}
        {detail.kind === 'data-source' && source !== undefined && (
          <>
            <div>
              <dt>kind</dt>
              <dd>{source}</dd>
            </div>
            {text(o['timestamp_field']) && (
              <div>
                <dt>timestamp field</dt>
                <dd>{text(o['timestamp_field'])}</dd>
              </div>
            )}
          </>
        )}
        <div>
          <dt>tags</dt>
          <dd>{Object.keys(tags(o['tags'])).length === 0 ? 'none' : <Tags tags={tags(o['tags'])} />}</dd>
        </div>
      </dl>

      {detail.materialization && (
        <section aria-labelledby="mat-heading">
          <h2 id="mat-heading">Materialization</h2>
          <dl class="facts">
            <div>
              <dt>watermark</dt>
              <dd>
                <Time iso={detail.materialization.watermark} />
              </dd>
            </div>
            <div>
              <dt>last job</dt>
              <dd>
                <span class={`state ${stateClass(detail.materialization.lastJobStatus)}`}>{detail.materialization.lastJobStatus.toLowerCase()}</span>{' '}
                {detail.materialization.lastJobId}
              </dd>
            </div>
            {detail.materialization.lastError && (
              <div>
                <dt>last error</dt>
                <dd>{detail.materialization.lastError}</dd>
              </div>
            )}
          </dl>
        </section>
      )}

      {detail.kind === 'feature-view' && <Fields fields={list(o['schema'])} caption="Schema" />}
      {detail.kind === 'data-source' && source === 'request' && (
        <Fields fields={list((o['request'] as Json | undefined)?.['schema'])} caption="Request fields" />
      )}
      {detail.kind === 'on-demand-feature-view' && (
        <>
          <section aria-labelledby="inputs-heading">
            <h2 id="inputs-heading">Inputs</h2>
            <ul>
              {list(o['sources']).map((s, i) => {
                const view = s['feature_view'] as Json | undefined;
                return (
                  <li key={i}>
                    {view ? (
                      <>feature view {link('feature-view', text(view['feature_view']))}</>
                    ) : (
                      <>request source {link('data-source', text(s['request_source']))}</>
                    )}
                  </li>
                );
              })}
            </ul>
          </section>
          <table>
            <caption>Outputs (CEL expressions)</caption>
            <thead>
              <tr>
                <th scope="col">name</th>
                <th scope="col">type</th>
                <th scope="col">expression</th>
                <th scope="col">description</th>
              </tr>
            </thead>
            <tbody>
              {list(o['outputs']).map((f) => (
                <tr key={text(f['name'])} id={`feature-${text(f['name'])}`}>
                  <th scope="row">{text(f['name'])}</th>
                  <td>{valueType(f['value_type'])}</td>
                  <td>
                    <code class="cel">{text(f['expression'])}</code>
                  </td>
                  <td>{text(f['description'])}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {detail.kind === 'feature-service' && (
        <table>
          <caption>Features served</caption>
          <thead>
            <tr>
              <th scope="col">view</th>
              <th scope="col">features</th>
              <th scope="col">alias</th>
            </tr>
          </thead>
          <tbody>
            {list(o['projections']).map((pr, i) => (
              <tr key={i}>
                <th scope="row">
                  <a href={`/search?q=${encodeURIComponent(`project:${p} ${text(pr['feature_view'])}`)}`}>{text(pr['feature_view'])}</a>
                </th>
                <td>{((pr['features'] as string[] | undefined) ?? []).join(', ') || 'all'}</td>
                <td>{text(pr['alias']) || '-'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <section aria-labelledby="used-heading">
        <h2 id="used-heading">Used by</h2>
        {detail.usedBy.length === 0 ? (
          <p class="muted">Nothing in this project refers to it.</p>
        ) : (
          <ul>
            {detail.usedBy.map((u) => (
              <li key={`${u.kind}/${u.name}`}>
                {KIND_LABELS[u.kind]} {link(u.kind, u.name)}
              </li>
            ))}
          </ul>
        )}
      </section>

      <section aria-labelledby="history-heading">
        <h2 id="history-heading">Change history</h2>
        {detail.history.length === 0 ? (
          <p class="muted">No change seen yet.</p>
        ) : (
          <table>
            <caption class="visually-hidden">Changes, newest first</caption>
            <thead>
              <tr>
                <th scope="col">registry version</th>
                <th scope="col">change</th>
                <th scope="col">when</th>
              </tr>
            </thead>
            <tbody>
              {detail.history.map((h) => (
                <tr key={`${h.version ?? ''}-${h.change}-${h.time ?? ''}`}>
                  <td>{h.version ?? '-'}</td>
                  <td>{h.change === 'CREATE' ? 'created' : h.change === 'UPDATE' ? 'changed' : 'deleted'}</td>
                  <td>
                    <Time iso={h.time} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section aria-labelledby="yaml-heading">
        <h2 id="yaml-heading">Definition (YAML)</h2>
        <pre class="yaml" tabIndex={0} aria-label="definition as YAML">
          {detail.yaml}
        </pre>
      </section>
    </>
  );
}
