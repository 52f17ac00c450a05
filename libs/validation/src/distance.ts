import { tfmdV0 } from '@larder/proto';

/**
 * Distances between two datasets' distributions of one feature, as TFDV's
 * comparators define them: L-infinity over categorical frequencies, and an
 * approximate Jensen-Shannon divergence over numeric histograms.
 */

/** Value -> count, from the rank histogram when there is one (it covers more values than top_values). */
export function categoricalCounts(stats: tfmdV0.StringStatistics): Map<string, number> {
  const counts = new Map<string, number>();
  const buckets = stats.rankHistogram?.buckets ?? [];
  if (buckets.length > 0) {
    for (const b of buckets) counts.set(b.label, (counts.get(b.label) ?? 0) + b.sampleCount);
  } else {
    for (const v of stats.topValues) counts.set(v.value, (counts.get(v.value) ?? 0) + v.frequency);
  }
  return counts;
}

function normalize(counts: Map<string, number>): Map<string, number> {
  let total = 0;
  for (const c of counts.values()) total += c;
  const out = new Map<string, number>();
  if (total <= 0) return out;
  for (const [k, c] of counts) out.set(k, c / total);
  return out;
}

/** max over values of |p(v) - q(v)|, each side normalized over the values its statistics list. */
export function lInfinityDistance(a: Map<string, number>, b: Map<string, number>): { distance: number; value: string | undefined } {
  const p = normalize(a);
  const q = normalize(b);
  let distance = 0;
  let value: string | undefined;
  for (const key of new Set([...p.keys(), ...q.keys()])) {
    const d = Math.abs((p.get(key) ?? 0) - (q.get(key) ?? 0));
    if (d > distance) {
      distance = d;
      value = key;
    }
  }
  return { distance, value };
}

function jsdOfDistributions(p: readonly number[], q: readonly number[]): number {
  let sumP = 0;
  let sumQ = 0;
  for (const x of p) sumP += x;
  for (const x of q) sumQ += x;
  if (sumP <= 0 || sumQ <= 0) return NaN;
  let divergence = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = (p[i] as number) / sumP;
    const qi = (q[i] as number) / sumQ;
    const m = (pi + qi) / 2;
    if (pi > 0) divergence += 0.5 * pi * Math.log2(pi / m);
    if (qi > 0) divergence += 0.5 * qi * Math.log2(qi / m);
  }
  // Rounding can leave a hair below 0 or above 1.
  return Math.min(1, Math.max(0, divergence));
}

/** Jensen-Shannon divergence (base 2, so within [0, 1]) of two categorical distributions. */
export function categoricalJensenShannon(a: Map<string, number>, b: Map<string, number>): number {
  const keys = [...new Set([...a.keys(), ...b.keys()])];
  return jsdOfDistributions(
    keys.map((k) => a.get(k) ?? 0),
    keys.map((k) => b.get(k) ?? 0),
  );
}

/**
 * The two histograms are put on the union of their bucket boundaries, each
 * bucket's count spread over the cells it covers in proportion to width (the
 * usual assumption of values uniform within a bucket); a zero-width bucket
 * (a constant feature) is a cell of its own, and NaN counts are one more cell.
 * Then JSD of the two cell distributions.
 */
export function histogramJensenShannon(a: tfmdV0.Histogram, b: tfmdV0.Histogram): number {
  const bounds = [...new Set([...a.buckets, ...b.buckets].flatMap((bucket) => [bucket.lowValue, bucket.highValue]).filter(Number.isFinite))].sort(
    (x, y) => x - y,
  );
  const cells = (h: tfmdV0.Histogram): number[] => {
    // cells[0 .. n-2]: intervals between consecutive bounds; then one point cell per bound; then NaN.
    const intervals = Math.max(0, bounds.length - 1);
    const out = new Array<number>(intervals + bounds.length + 1).fill(0);
    for (const bucket of h.buckets) {
      const { lowValue: lo, highValue: hi, sampleCount: count } = bucket;
      if (!(count > 0)) continue;
      if (!Number.isFinite(lo) || !Number.isFinite(hi) || hi <= lo) {
        const at = bounds.indexOf(Number.isFinite(lo) ? lo : hi);
        out[intervals + Math.max(0, at)] = (out[intervals + Math.max(0, at)] as number) + count;
        continue;
      }
      const start = bounds.indexOf(lo);
      const end = bounds.indexOf(hi);
      for (let i = start; i < end; i++) {
        const share = ((bounds[i + 1] as number) - (bounds[i] as number)) / (hi - lo);
        out[i] = (out[i] as number) + count * share;
      }
    }
    out[out.length - 1] = Number(h.numNan);
    return out;
  };
  return jsdOfDistributions(cells(a), cells(b));
}

/** The histogram a JSD comparator reads: STANDARD unless the comparator's source asks for QUANTILES. */
export function pickHistogram(stats: tfmdV0.NumericStatistics, source: tfmdV0.HistogramSelection_Type | undefined): tfmdV0.Histogram | undefined {
  const wanted = source === tfmdV0.HistogramSelection_Type.QUANTILES ? tfmdV0.Histogram_HistogramType.QUANTILES : tfmdV0.Histogram_HistogramType.STANDARD;
  return stats.histograms.find((h) => h.type === wanted);
}
