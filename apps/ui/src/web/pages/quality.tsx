import { qualityHref, SPAN_KIND_LABELS } from '../../shared/quality-api';
import type { AnomalyReason, DataQuality, DomainInfo, FeatureQuality, SpanHeader, SpanPoint } from '../../shared/quality-api';
import { useApi } from '../api';
import { Histogram, Line, Meter, num, TopValues } from '../charts';
import { Failure, Loading, Page, Time } from '../components';
import { navigate, objectHref } from '../router';
import { NotFoundBody } from './not-found';

/** Span times in UTC, and said so: the same text whatever the browser's time zone. */
const utc = (iso: string | undefined): string => (iso === undefined ? '?' : iso.slice(0, 16).replace('T', ' '));
const rangeText = (s: SpanHeader): string => `${utc(s.start)} to ${utc(s.end)} UTC`;
const MEASURE_LABELS = { L_INFTY: 'L-infinity distance', JENSEN_SHANNON_DIVERGENCE: 'Jensen-Shannon divergence' } as const;

export function QualityPage({ project, view, record }: { project: string; view: string; record: string | undefined }) {
  const href = qualityHref(project, view);
  const loaded = useApi<DataQuality>(`/api${href}${record === undefined ? '' : `?record=${encodeURIComponent(record)}`}`);
  if (loaded.state === 'error' && loaded.error.status === 404) {
    return (
      <NotFoundBody
        what={record === undefined ? `feature view “${view}” in project ${project}` : `statistics ${record} of feature view “${view}”`}
        detail={loaded.error.message}
        search={view}
      />
    );
  }
  return (
    <Page
      title={`Data quality of ${view}`}
      heading={
        <>
          <span class="kind">data quality</span> {view}
        </>
      }
    >
      <p class="muted">
        feature view <a href={objectHref(project, 'feature-view', view)}>{view}</a> in project <a href={`/p/${encodeURIComponent(project)}`}>{project}</a>
      </p>
      {loaded.state === 'loading' && <Loading />}
      {loaded.state === 'error' && <Failure error={loaded.error} />}
      {loaded.state === 'ok' && <QualityBody quality={loaded.data} />}
    </Page>
  );
}

function QualityBody({ quality }: { quality: DataQuality }) {
  const { current, previous } = quality;
  const href = qualityHref(quality.project, quality.featureView);
  const withAnomalies = quality.features.filter((f) => f.anomalies.length > 0);
  return (
    <>
      {quality.problems.map((p) => (
        <p class="notice warn" key={p.service}>
          The {p.service} service did not answer ({p.message}): no statistics to show.
        </p>
      ))}
      {current === undefined ? (
        quality.problems.length === 0 && (
          <p class="notice warn">
            No statistics are stored for this view yet. Compute some, and they show here:{' '}
            <code>larder stats --view {quality.featureView} --start … --end …</code>
          </p>
        )
      ) : (
        <>
          <dl class="facts">
            <div>
              <dt>span</dt>
              <dd>
                {SPAN_KIND_LABELS[current.kind]}, {rangeText(current)}
              </dd>
            </div>
            <div>
              <dt>rows</dt>
              <dd>{current.rows}</dd>
            </div>
            <div>
              <dt>computed</dt>
              <dd>
                <Time iso={current.computedAt} /> on {current.engine}
              </dd>
            </div>
            <div>
              <dt>drift against</dt>
              <dd>
                {previous === undefined ? (
                  'nothing: no earlier span of this kind'
                ) : (
                  <a href={`${href}?record=${encodeURIComponent(previous.id)}`}>{rangeText(previous)}</a>
                )}
              </dd>
            </div>
          </dl>
          {quality.records.length > 1 && (
            <p>
              <label for="span-select">Span </label>
              <select
                id="span-select"
                value={current.id}
                onChange={(e) => navigate(`${href}?record=${encodeURIComponent((e.target as HTMLSelectElement).value)}`)}
              >
                {quality.records.map((r) => (
                  <option key={r.id} value={r.id}>
                    {`${SPAN_KIND_LABELS[r.kind]}: ${rangeText(r)} (${r.rows} rows)`}
                  </option>
                ))}
              </select>
            </p>
          )}
        </>
      )}

      <section aria-labelledby="anomalies-heading" id="anomalies">
        <h2 id="anomalies-heading">Anomalies</h2>
        {!quality.hasSchema ? (
          <p class="muted">
            The view has no schema to check against. Propose one from statistics with <code>larder infer-schema --view {quality.featureView} --stats FILE</code>
            .
          </p>
        ) : current === undefined ? (
          <p class="muted">Nothing to check yet.</p>
        ) : withAnomalies.length === 0 && quality.datasetAnomalies.length === 0 && !quality.dataMissing ? (
          <p class="notice ok">None: this span keeps the schema{previous === undefined ? '' : ', drift included'}.</p>
        ) : (
          <ul class="anomalies notice bad">
            {quality.dataMissing && <li>No rows in this span.</li>}
            {quality.datasetAnomalies.map((a, i) => (
              <Reason key={`d${i}`} reason={a} />
            ))}
            {withAnomalies.flatMap((f) => f.anomalies.map((a, i) => <Reason key={`${f.name}-${i}`} reason={a} feature={f.name} />))}
          </ul>
        )}
      </section>

      {quality.timeline.length > 1 && <Timeline spans={quality.timeline} href={href} current={current?.id} />}

      {quality.features.length > 0 && (
        <section aria-labelledby="features-heading">
          <h2 id="features-heading">Features</h2>
          <div class="quality-grid">
            {quality.features.map((f) => (
              <FeatureCard key={f.name} feature={f} spans={quality.timeline} hasSpan={current !== undefined} />
            ))}
          </div>
        </section>
      )}
    </>
  );
}

function Reason({ reason, feature }: { reason: AnomalyReason; feature?: string }) {
  return (
    <li>
      {feature === undefined ? <strong>dataset</strong> : <a href={`#quality-${feature}`}>{feature}</a>}: {reason.short}{' '}
      <code class="anomaly-type">{reason.type}</code>
      <div>{reason.description}</div>
    </li>
  );
}

/** Rows per span over time; a span with anomalies is marked; each links to its own page. */
function Timeline({ spans, href, current }: { spans: readonly SpanPoint[]; href: string; current: string | undefined }) {
  const W = Math.max(320, Math.min(900, spans.length * 70));
  const H = 130;
  const top = 16;
  const bottom = 34;
  const slot = W / spans.length;
  const max = Math.max(...spans.map((s) => Number(s.rows)), 1);
  return (
    <section aria-labelledby="timeline-heading">
      <h2 id="timeline-heading">Over time</h2>
      <p class="muted">Rows per span, oldest first; a span with anomalies is red. Each bar opens its span.</p>
      <div class="graph-scroll">
        <svg class="chart timeline" viewBox={`0 0 ${W} ${H}`} width={W} height={H} role="group" aria-label="spans over time">
          {spans.map((s, i) => {
            const height = (Number(s.rows) / max) * (H - top - bottom);
            const label = `${rangeText(s)}: ${s.rows} rows, ${s.anomalies === 0 ? 'no anomalies' : `${s.anomalies} ${s.anomalies === 1 ? 'anomaly' : 'anomalies'}`}`;
            // The labels sit beside the link, not in it: its name is the whole sentence.
            return (
              <g key={s.id}>
                <a
                  href={`${href}?record=${encodeURIComponent(s.id)}`}
                  class={`span${s.anomalies > 0 ? ' bad' : ''}${s.id === current ? ' current' : ''}`}
                  aria-label={label}
                  aria-current={s.id === current ? 'page' : undefined}
                >
                  <title>{label}</title>
                  <rect class="bar" x={i * slot + slot * 0.15} y={H - bottom - height} width={slot * 0.7} height={Math.max(1, height)} />
                </a>
                <text class="tick" x={i * slot + slot / 2} y={H - bottom + 14} text-anchor="middle" aria-hidden="true">
                  {(s.start ?? '').slice(5, 10)}
                </text>
                {s.anomalies > 0 && (
                  <text class="tick bad" x={i * slot + slot / 2} y={H - 6} text-anchor="middle" aria-hidden="true">
                    {`${s.anomalies} ⚠`}
                  </text>
                )}
              </g>
            );
          })}
        </svg>
      </div>
    </section>
  );
}

function domainText(d: DomainInfo): string {
  const named = d.kind !== 'other' && d.name !== undefined ? ` '${d.name}'` : '';
  switch (d.kind) {
    case 'int':
    case 'float':
      return (
        `${d.kind} domain${named}: ${d.min === undefined ? 'any' : num(d.min)} to ` +
        `${d.max === undefined ? 'any' : num(d.max)}${d.kind === 'float' && d.disallowNan ? ', no NaN' : ''}${d.kind === 'float' && d.disallowInf ? ', no infinity' : ''}`
      );
    case 'string':
      return `string domain${named}: ${d.values.join(', ')}${d.more > 0 ? ` and ${d.more} more` : ''}${d.minDomainMass === undefined ? '' : ` (at least ${num(d.minDomainMass * 100)}% of values)`}`;
    default:
      return `${d.what}`;
  }
}

function FeatureCard({ feature: f, spans, hasSpan }: { feature: FeatureQuality; spans: readonly SpanPoint[]; hasSpan: boolean }) {
  const e = f.expectations;
  const domain = e?.domain;
  const numericDomain = domain !== undefined && (domain.kind === 'int' || domain.kind === 'float') ? domain : undefined;
  const allowed = domain?.kind === 'string' && domain.more === 0 ? new Set(domain.values) : undefined;
  const headingId = `quality-${f.name}-heading`;
  const labelOf = (i: number): string => (spans[i] === undefined ? `span ${i + 1}` : rangeText(spans[i]!));
  return (
    <section class={`card quality${f.anomalies.length > 0 ? ' has-anomalies' : ''}`} id={`quality-${f.name}`} aria-labelledby={headingId}>
      <h3 id={headingId}>
        {f.name} <span class="type">{f.valueType ?? f.statsType?.toLowerCase() ?? ''}</span>{' '}
        {f.anomalies.length > 0 && <span class="state bad">{f.anomalies.length === 1 ? '1 anomaly' : `${f.anomalies.length} anomalies`}</span>}
      </h3>
      {!f.described ? (
        <p class="muted">{hasSpan ? "Not in this span's statistics." : 'No statistics yet; what the schema expects:'}</p>
      ) : (
        <>
          <p class="missing">
            <Meter pct={f.missingPct} label={`missing in ${f.name}`} bad={f.anomalies.some((a) => a.type.includes('PRESENT'))} /> {num(f.missingPct)}% missing (
            {f.missing} of {Number(f.missing) + Number(f.present)})
          </p>
          {f.numeric !== undefined && (
            <>
              <Histogram buckets={f.numeric.histogram} label={f.name} {...(numericDomain === undefined ? {} : { domain: numericDomain })} />
              <dl class="counts small">
                <div>
                  <dt>mean</dt>
                  <dd>{num(f.numeric.mean)}</dd>
                </div>
                <div>
                  <dt>std dev</dt>
                  <dd>{num(f.numeric.stdDev)}</dd>
                </div>
                <div>
                  <dt>min</dt>
                  <dd>{num(f.numeric.min)}</dd>
                </div>
                <div>
                  <dt>median</dt>
                  <dd>{num(f.numeric.median)}</dd>
                </div>
                <div>
                  <dt>max</dt>
                  <dd>{num(f.numeric.max)}</dd>
                </div>
                <div>
                  <dt>zeros</dt>
                  <dd>{f.numeric.zeros}</dd>
                </div>
                {f.numeric.nan !== '0' && (
                  <div>
                    <dt>NaN</dt>
                    <dd>{f.numeric.nan}</dd>
                  </div>
                )}
              </dl>
            </>
          )}
          {f.string !== undefined && (
            <>
              <TopValues values={f.string.topValues} label={f.name} {...(allowed === undefined ? {} : { allowed })} />
              <p class="muted">
                {f.string.unique} distinct values{f.string.moreValues > 0 ? ` (${f.string.moreValues} not shown)` : ''}, average length{' '}
                {num(f.string.avgLength)}
              </p>
            </>
          )}
        </>
      )}
      {e !== undefined && (
        <ul class="expectations">
          {e.type !== undefined && <li>type {e.type}</li>}
          {e.presence !== undefined && (
            <li>
              present in at least {e.presence.minFraction !== undefined ? `${num(e.presence.minFraction * 100)}% of rows` : ''}
              {e.presence.minFraction !== undefined && e.presence.minCount !== undefined ? ' and ' : ''}
              {e.presence.minCount !== undefined ? `${e.presence.minCount} rows` : ''}
            </li>
          )}
          {domain !== undefined && <li>{domainText(domain)}</li>}
          {e.drift !== undefined && (
            <li>
              drift: {MEASURE_LABELS[e.drift.measure]} at most {num(e.drift.threshold)}
            </li>
          )}
          {e.skipped && <li>not checked (deprecated or in a lifecycle stage that is not validated)</li>}
        </ul>
      )}
      {f.drift !== undefined && (
        <p>
          Drift from the previous span: {MEASURE_LABELS[f.drift.measure]} <strong>{num(f.drift.value)}</strong>
          {f.drift.threshold !== undefined && ` (threshold ${num(f.drift.threshold)})`}
          {f.drift.moved !== undefined && `; moved most: ${f.drift.moved}`}
        </p>
      )}
      {f.timeline.length > 1 && (
        <div class="sparklines">
          <figure>
            <Line
              label={`missing share of ${f.name}`}
              unit="%"
              points={f.timeline.map((p, i) => ({ value: p.missingPct, bad: p.anomalies > 0, label: labelOf(i) }))}
            />
            <figcaption>missing %</figcaption>
          </figure>
          {f.timeline.filter((p) => p.drift !== undefined).length > 1 && (
            <figure>
              <Line
                label={`drift of ${f.name}`}
                points={f.timeline.map((p, i) => ({ value: p.drift, bad: p.anomalies > 0, label: labelOf(i) }))}
                {...(e?.drift === undefined ? {} : { threshold: e.drift.threshold })}
              />
              <figcaption>drift{e?.drift === undefined ? '' : ' (dashed: threshold)'}</figcaption>
            </figure>
          )}
          {f.timeline.some((p) => p.mean !== undefined) && (
            <figure>
              <Line label={`mean of ${f.name}`} points={f.timeline.map((p, i) => ({ value: p.mean, bad: p.anomalies > 0, label: labelOf(i) }))} />
              <figcaption>mean</figcaption>
            </figure>
          )}
        </div>
      )}
    </section>
  );
}
