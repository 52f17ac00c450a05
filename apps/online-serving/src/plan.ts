import { FeatureResolutionError, resolveFeatures } from '@larder/core';
import type { FeatureRequest, RegistrySet, ResolvedFeatures, TypedName } from '@larder/core';
import type { ViewDescriptor } from '@larder/online-store';
import { Code, RpcError } from '@larder/rpc';
import type { FeatureCounts, ServingValueMetrics } from './value-metrics';

/** A distinct way of building entity keys from the request's columns, shared by the views that use it. */
export interface KeyShape {
  /** The join keys as stored (the views' names). */
  readonly joinKeys: readonly string[];
  /** The entity-row column of each join key. */
  readonly columns: readonly string[];
}

/** Everything a request of one shape needs, computed once per registry version. */
export interface ServingPlan {
  readonly version: bigint;
  readonly resolved: ResolvedFeatures;
  /** Parallel to resolved.views. */
  readonly reads: readonly { readonly descriptor: ViewDescriptor; readonly features: readonly string[]; readonly shape: number }[];
  readonly shapes: readonly KeyShape[];
  /** Join-key columns echoed first in the response, as Feast does. */
  readonly echoed: readonly TypedName[];
  /** Entity columns first, then features: the response's metadata. */
  readonly outputNames: readonly string[];
  /** Parallel to resolved.outputs: what to count for a view feature whose schema names it. */
  readonly counted: readonly (FeatureCounts | undefined)[];
}

export interface PlanRequest {
  project: string;
  features: FeatureRequest;
  fullFeatureNames: boolean;
}

/** The registry as the plan cache needs it; RegistryClient satisfies it. */
export interface RegistrySource {
  readonly version: bigint;
  registrySet(project: string): RegistrySet | undefined;
  projectNames(): string[];
}

/**
 * Compiled plans per request shape, valid for one registry version: the first request
 * of a shape resolves it, later ones look it up. A new registry version empties the
 * cache (lazily, on the next lookup), so a change takes effect without a restart.
 */
export class PlanCache {
  private plans = new Map<string, ServingPlan>();
  private version = -1n;

  constructor(
    private readonly registry: RegistrySource,
    private readonly maxSize: number,
    /** Per-feature schema counters; without it nothing is counted. */
    private readonly valueMetrics?: ServingValueMetrics,
  ) {}

  get size(): number {
    return this.plans.size;
  }

  plan(request: PlanRequest): ServingPlan {
    const version = this.registry.version;
    if (version !== this.version) {
      this.plans = new Map();
      this.version = version;
    }
    const key = cacheKey(request);
    const cached = this.plans.get(key);
    if (cached !== undefined) return cached;
    const plan = this.compile(request, version);
    if (this.plans.size >= this.maxSize) {
      const oldest = this.plans.keys().next();
      if (oldest.done !== true) this.plans.delete(oldest.value);
    }
    this.plans.set(key, plan);
    return plan;
  }

  private compile(request: PlanRequest, version: bigint): ServingPlan {
    const set = this.registry.registrySet(request.project);
    if (set === undefined) {
      const known = this.registry.projectNames();
      throw new RpcError(Code.NOT_FOUND, `project '${request.project}' is not in the registry${known.length > 0 ? `; projects: ${known.join(', ')}` : ''}`);
    }
    let resolved: ResolvedFeatures;
    try {
      resolved = resolveFeatures(set, request.features, { fullFeatureNames: request.fullFeatureNames });
    } catch (error) {
      if (error instanceof FeatureResolutionError) {
        throw new RpcError(error.problem === 'unknown-service' ? Code.NOT_FOUND : Code.INVALID_ARGUMENT, error.message);
      }
      throw error;
    }
    const shapes: KeyShape[] = [];
    const shapeIndex = new Map<string, number>();
    const reads = resolved.views.map((view) => {
      const key = view.joinKeys.map((k) => `${k.name}=${k.column}`).join(',');
      let shape = shapeIndex.get(key);
      if (shape === undefined) {
        shape = shapes.length;
        shapeIndex.set(key, shape);
        shapes.push({ joinKeys: view.joinKeys.map((k) => k.name), columns: view.joinKeys.map((k) => k.column) });
      }
      const descriptor: ViewDescriptor = {
        project: resolved.project,
        name: view.name,
        features: view.definition.schema.map((f) => ({ name: f.name, type: f.valueType })),
        joinKeys: view.definition.entities.length === 0 ? [] : view.joinKeys.map((k) => k.name),
      };
      return { descriptor, features: view.features.map((f) => f.name), shape };
    });
    const metrics = this.valueMetrics;
    const viewCounts = resolved.views.map((view) => metrics?.view(version, resolved.project, view.definition));
    const counted = resolved.outputs.map((o) => {
      if (o.kind !== 'view') return undefined;
      const name = resolved.views[o.view]?.features[o.feature]?.name;
      return name === undefined ? undefined : viewCounts[o.view]?.get(name);
    });
    const outputs = new Set(resolved.outputs.map((o) => o.name));
    const echoed = resolved.entityColumns.filter((c) => !outputs.has(c.name));
    return {
      version,
      resolved,
      reads,
      shapes,
      echoed,
      // Frozen: the response encoder keeps its encoded bytes per (frozen) array.
      outputNames: Object.freeze([...echoed.map((c) => c.name), ...resolved.outputs.map((o) => o.name)]),
      counted,
    };
  }
}

function cacheKey(request: PlanRequest): string {
  const what = 'refs' in request.features ? `r\u0000${request.features.refs.join('\u0000')}` : `s\u0000${request.features.featureService}`;
  return `${request.project}\u0000${request.fullFeatureNames ? 1 : 0}\u0000${what}`;
}
