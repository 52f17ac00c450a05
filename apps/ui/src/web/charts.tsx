// Plots of the data-quality page, drawn as SVG by hand: a histogram, top values, a
// share meter and a line over spans. A chart library would outweigh the whole app;
// these need scales and rectangles, nothing more.
import type { HistogramBucket } from '../shared/quality-api';

const numberFormat = new Intl.NumberFormat('en', { maximumSignificantDigits: 4 });
const countFormat = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });

/** Numbers as a person reads them: 4 significant digits, no exponent below a trillion. */
export function num(x: number | undefined): string {
  if (x === undefined || Number.isNaN(x)) return '-';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '-∞';
  return numberFormat.format(x);
}

/** Bucket counts are estimates (from the quantile grid), so may carry fractions. */
export const count = (x: number): string => countFormat.format(x);

const truncate = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** Equal-width histogram; the part of the axis outside the schema's [min, max] is shaded. */
export function Histogram({ buckets, label, domain }: { buckets: readonly HistogramBucket[]; label: string; domain?: { min?: number; max?: number } }) {
  const W = 420;
  const H = 150;
  const left = 8;
  const right = 8;
  const top = 18;
  const bottom = 22;
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  if (buckets.length === 0) return <p class="muted">No histogram: no valid values.</p>;
  const lo = buckets[0]!.low;
  const hi = buckets[buckets.length - 1]!.high;
  const span = hi - lo;
  const x = (v: number): number => left + (span > 0 ? ((v - lo) / span) * plotW : plotW / 2);
  const maxCount = Math.max(...buckets.map((b) => b.count), 0);
  const fullest = buckets.reduce((best, b) => (b.count > best.count ? b : best), buckets[0]!);
  const outsideLow = domain?.min !== undefined && domain.min > lo ? x(Math.min(domain.min, hi)) : undefined;
  const outsideHigh = domain?.max !== undefined && domain.max < hi ? x(Math.max(domain.max, lo)) : undefined;
  const beyond = (b: HistogramBucket): boolean => (domain?.max !== undefined && b.low > domain.max) || (domain?.min !== undefined && b.high < domain.min);
  return (
    <svg
      class="chart histogram"
      viewBox={`0 0 ${W} ${H}`}
      width={W}
      height={H}
      role="img"
      aria-label={`Histogram of ${label}: ${buckets.length} buckets from ${num(lo)} to ${num(hi)}; the fullest, ${num(fullest.low)} to ${num(fullest.high)}, holds ${count(fullest.count)} values`}
    >
      {outsideLow !== undefined && <rect class="outside-domain" x={left} y={top} width={outsideLow - left} height={plotH} />}
      {outsideHigh !== undefined && <rect class="outside-domain" x={outsideHigh} y={top} width={left + plotW - outsideHigh} height={plotH} />}
      {buckets.map((b, i) => {
        const x0 = span > 0 ? x(b.low) : left;
        const width = span > 0 ? Math.max(1, x(b.high) - x(b.low) - 1) : plotW;
        const height = maxCount > 0 ? (b.count / maxCount) * plotH : 0;
        return (
          <rect key={i} class={beyond(b) ? 'bar outside' : 'bar'} x={x0} y={top + plotH - height} width={width} height={height} data-count={b.count}>
            <title>{`${num(b.low)} to ${num(b.high)}: ${count(b.count)}`}</title>
          </rect>
        );
      })}
      {outsideLow !== undefined && <line class="domain-line" x1={outsideLow} x2={outsideLow} y1={top - 4} y2={top + plotH} />}
      {outsideHigh !== undefined && <line class="domain-line" x1={outsideHigh} x2={outsideHigh} y1={top - 4} y2={top + plotH} />}
      <line class="axis" x1={left} x2={left + plotW} y1={top + plotH} y2={top + plotH} />
      <text class="tick" x={left} y={H - 6}>
        {num(lo)}
      </text>
      <text class="tick" x={left + plotW} y={H - 6} text-anchor="end">
        {num(hi)}
      </text>
      <text class="tick" x={left} y={12}>
        {`max ${count(maxCount)}`}
      </text>
      {outsideHigh !== undefined && (
        <text class="tick bad" x={Math.min(outsideHigh + 4, W - right)} y={12} text-anchor={outsideHigh > W * 0.75 ? 'end' : 'start'}>
          {`above domain max ${num(domain!.max)}`}
        </text>
      )}
      {outsideLow !== undefined && outsideHigh === undefined && (
        <text class="tick bad" x={W - right} y={12} text-anchor="end">
          {`below domain min ${num(domain!.min)}`}
        </text>
      )}
    </svg>
  );
}

/** The most frequent values as horizontal bars; those outside the schema's string domain stand out. */
export function TopValues({ values, label, allowed }: { values: readonly { value: string; count: number }[]; label: string; allowed?: ReadonlySet<string> }) {
  const W = 420;
  const row = 20;
  const labelW = 130;
  const countW = 70;
  const H = values.length * row + 4;
  const max = Math.max(...values.map((v) => v.count), 0);
  if (values.length === 0) return <p class="muted">No values.</p>;
  return (
    <svg
      class="chart top-values"
      viewBox={`0 0 ${W} ${H}`}
      width={W}
      height={H}
      role="img"
      aria-label={`Most frequent values of ${label}: ${values
        .slice(0, 5)
        .map((v) => `${v.value} ${count(v.count)}`)
        .join(', ')}${values.length > 5 ? ', …' : ''}`}
    >
      {values.map((v, i) => {
        const outside = allowed !== undefined && !allowed.has(v.value);
        const width = max > 0 ? (v.count / max) * (W - labelW - countW) : 0;
        return (
          <g key={v.value} class={outside ? 'outside' : undefined}>
            <text class="label" x={labelW - 6} y={i * row + 15} text-anchor="end">
              {truncate(v.value === '' ? '(empty)' : v.value, 18)}
            </text>
            <rect class="bar" x={labelW} y={i * row + 4} width={Math.max(1, width)} height={row - 6} data-count={v.count}>
              <title>{`${v.value}: ${count(v.count)}${outside ? ' (not in the domain)' : ''}`}</title>
            </rect>
            <text class="tick" x={labelW + width + 6} y={i * row + 15}>
              {outside ? `${count(v.count)} · not in domain` : count(v.count)}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

/** A share in [0, 100] as a bar. */
export function Meter({ pct, label, bad }: { pct: number; label: string; bad?: boolean }) {
  const W = 120;
  return (
    <svg class="chart meter" viewBox={`0 0 ${W} 10`} width={W} height={10} role="img" aria-label={`${label}: ${num(pct)}%`}>
      <rect class="track" x={0} y={0} width={W} height={10} rx={3} />
      <rect class={bad ? 'fill bad' : 'fill'} x={0} y={0} width={(Math.max(0, Math.min(100, pct)) / 100) * W} height={10} rx={3} />
    </svg>
  );
}

export interface LinePoint {
  value: number | undefined;
  /** Drawn as a problem (the span had an anomaly). */
  bad: boolean;
  label: string;
}

/** One value per span, left (oldest) to right, with the schema's threshold as a dashed line. */
export function Line({ points, label, threshold, unit = '' }: { points: readonly LinePoint[]; label: string; threshold?: number; unit?: string }) {
  const W = 200;
  const H = 60;
  const pad = 6;
  const values = points.map((p) => p.value).filter((v): v is number => v !== undefined && Number.isFinite(v));
  const max = Math.max(...values, threshold ?? 0, 0);
  const min = Math.min(...values, 0);
  const y = (v: number): number => H - pad - (max > min ? ((v - min) / (max - min)) * (H - 2 * pad) : 0);
  const x = (i: number): number => (points.length <= 1 ? W / 2 : pad + (i / (points.length - 1)) * (W - 2 * pad));
  const path = points
    .map((p, i) => (p.value === undefined || !Number.isFinite(p.value) ? undefined : `${x(i)},${y(p.value)}`))
    .filter((s): s is string => s !== undefined)
    .join(' ');
  const last = values.at(-1);
  return (
    <svg
      class="chart line"
      viewBox={`0 0 ${W} ${H}`}
      width={W}
      height={H}
      role="img"
      aria-label={`${label} over ${points.length} spans${last === undefined ? '' : `, latest ${num(last)}${unit}`}${threshold === undefined ? '' : `, threshold ${num(threshold)}`}`}
    >
      <line class="axis" x1={pad} x2={W - pad} y1={H - pad} y2={H - pad} />
      {threshold !== undefined && <line class="threshold" x1={pad} x2={W - pad} y1={y(threshold)} y2={y(threshold)} />}
      {path !== '' && <polyline class="series" points={path} />}
      {points.map((p, i) =>
        p.value === undefined || !Number.isFinite(p.value) ? null : (
          <circle key={i} class={p.bad ? 'point bad' : 'point'} cx={x(i)} cy={y(p.value)} r={p.bad ? 4 : 3}>
            <title>{`${p.label}: ${num(p.value)}${unit}`}</title>
          </circle>
        ),
      )}
    </svg>
  );
}
