import type { registryV1 } from '@larder/proto';
import { compileDomainCheck, inEnvironment } from '@larder/validation';
import type { DomainCheck } from '@larder/validation';
import { Counter, Registry } from 'prom-client';

/** Slots of a feature's counts array. */
export const SERVED = 0;
export const OUT_OF_DOMAIN = 1;
export const MISSING = 2;
export const STALE = 3;
const REASONS: readonly [number, string][] = [
  [OUT_OF_DOMAIN, 'out_of_domain'],
  [MISSING, 'missing'],
  [STALE, 'stale'],
];

/** TFDV's name for the serving environment: a feature the schema keeps out of it is not counted. */
const SERVING_ENVIRONMENT = 'SERVING';

/**
 * What serving counts for one feature of a view with a schema: a plain array the hot
 * path increments (values served, out of domain, missing, stale), and the feature's
 * domain check. The array outlives registry versions; the check is the current one.
 */
export interface FeatureCounts {
  readonly counts: Float64Array;
  readonly outOfDomain: DomainCheck | undefined;
}

interface Slot {
  readonly labels: { project: string; feature_view: string; feature: string };
  readonly counts: Float64Array;
}

/**
 * Per-feature counters of what online serving returns for views that carry a TFDV
 * schema (FeatureView.validation): values out of the schema's domain, missing
 * (NOT_FOUND or a stored null) and stale (OUTSIDE_MAX_AGE). The checks are compiled
 * once per registry version, when a plan is; a request only adds to Float64Arrays, and
 * the prom-client counters are filled from them when /metrics is scraped. Only
 * features a view's schema names get series, so cardinality is bounded by the
 * registry; a view without a schema has none and costs nothing.
 */
export class ServingValueMetrics {
  readonly registry = new Registry();
  /** Arrays by project, view and feature; kept for the process's life, as counters are. */
  private readonly slots = new Map<string, Slot>();
  private version = -1n;
  private compiled = new Map<string, ReadonlyMap<string, FeatureCounts> | undefined>();

  constructor() {
    const slots = this.slots;
    const registers = [this.registry];
    const labelNames = ['project', 'feature_view', 'feature'] as const;
    new Counter({
      name: 'larder_serving_feature_values_total',
      help: 'Values online serving returned for features of views with a TFDV schema (the denominator of larder_serving_feature_anomalies_total).',
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const slot of slots.values()) this.inc(slot.labels, slot.counts[SERVED] as number);
      },
    });
    new Counter({
      name: 'larder_serving_feature_anomalies_total',
      help: "Values online serving returned that break their view's TFDV schema, by reason: out_of_domain (outside the int/float range or string value set), missing (NOT_FOUND or a stored null), stale (OUTSIDE_MAX_AGE, older than the view's ttl).",
      labelNames: [...labelNames, 'reason'],
      registers,
      collect() {
        this.reset();
        for (const slot of slots.values()) {
          for (const [index, reason] of REASONS) this.inc({ ...slot.labels, reason }, slot.counts[index] as number);
        }
      },
    });
  }

  /**
   * The counted features of a view at a registry version (compiled at the first plan of
   * that version that reads the view), or undefined when its schema names none of them.
   */
  view(version: bigint, project: string, view: registryV1.FeatureView): ReadonlyMap<string, FeatureCounts> | undefined {
    if (version !== this.version) {
      this.compiled = new Map();
      this.version = version;
    }
    const key = `${project}\u0000${view.name}`;
    if (this.compiled.has(key)) return this.compiled.get(key);
    const compiled = this.compile(project, view);
    this.compiled.set(key, compiled);
    return compiled;
  }

  private compile(project: string, view: registryV1.FeatureView): ReadonlyMap<string, FeatureCounts> | undefined {
    const schema = view.validation?.schema;
    if (schema === undefined) return undefined;
    const own = new Set(view.schema.map((f) => f.name));
    const out = new Map<string, FeatureCounts>();
    for (const feature of schema.feature) {
      if (!own.has(feature.name) || feature.deprecated || !inEnvironment(feature, schema, SERVING_ENVIRONMENT)) continue;
      out.set(feature.name, { counts: this.slot(project, view.name, feature.name), outOfDomain: compileDomainCheck(feature, schema) });
    }
    return out.size === 0 ? undefined : out;
  }

  private slot(project: string, view: string, feature: string): Float64Array {
    const key = `${project}\u0000${view}\u0000${feature}`;
    let slot = this.slots.get(key);
    if (slot === undefined) {
      slot = { labels: { project, feature_view: view, feature }, counts: new Float64Array(4) };
      this.slots.set(key, slot);
    }
    return slot.counts;
  }
}
