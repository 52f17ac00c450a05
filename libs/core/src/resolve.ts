import type { registryV1, typesV1 } from '@larder/proto';
import { compileOnDemandView, OnDemandCompileError } from './cel/compile';
import type { CompiledOnDemandView } from './cel/compile';
import { FeatureRefError, parseFeatureRef } from './feature-ref';
import type { RegistrySet } from './registry-set';
import { FeatureResolutionError, suggestName } from './resolve-errors';
import { joinKeyOf } from './validate';

/** Which features to resolve: a list of `view:feature` refs, or a feature service by name. */
export type FeatureRequest = { refs: readonly string[] } | { featureService: string };

export interface ResolveOptions {
  /** Output names `view__feature` (alias when given) instead of `feature`. */
  fullFeatureNames: boolean;
}

/** A typed column: a feature, an entity column or a request field. */
export interface TypedName {
  readonly name: string;
  readonly valueType: typesV1.ValueType;
}

/** One join key of a view as it is looked up: the view's key name and the entity-row column carrying it. */
export interface ResolvedJoinKey {
  /** The join key as the view (and the stored entity key) names it. */
  readonly name: string;
  /** The entity-row column holding its values (differs from `name` under a join_key_map). */
  readonly column: string;
  readonly valueType: typesV1.ValueType;
}

/**
 * One read of a feature view: its features (a subset of the view's, in the order the
 * plan needs them) for entity keys built from `joinKeys`. A view requested under two
 * different join-key mappings is read twice; the same view under the same mapping once.
 */
export interface ResolvedView {
  readonly name: string;
  readonly joinKeys: readonly ResolvedJoinKey[];
  readonly features: readonly TypedName[];
  /** 0 = values never expire. */
  readonly ttlMs: number;
  /** The registry definition, for engines that need more (sources, schema). */
  readonly definition: registryV1.FeatureView;
}

/** One input variable of an on-demand view and where its values come from. */
export type ResolvedOnDemandInput =
  | { readonly kind: 'request'; readonly variable: string; readonly fields: readonly TypedName[] }
  | { readonly kind: 'view'; readonly variable: string; readonly view: number; readonly features: readonly string[] }
  | { readonly kind: 'on-demand'; readonly variable: string; readonly onDemand: number; readonly features: readonly string[] };

/** An on-demand view to compute, after every view and on-demand view it reads (lower indexes). */
export interface ResolvedOnDemand {
  readonly name: string;
  readonly compiled: CompiledOnDemandView;
  readonly inputs: readonly ResolvedOnDemandInput[];
  /** Join keys its inputs are looked up by (union, by column). */
  readonly joinKeys: readonly ResolvedJoinKey[];
}

/** One output column, in response order. */
export type ResolvedOutput =
  | {
      readonly kind: 'view';
      readonly name: string;
      readonly valueType: typesV1.ValueType;
      readonly view: number;
      readonly feature: number;
      readonly ref: string;
    }
  | {
      readonly kind: 'on-demand';
      readonly name: string;
      readonly valueType: typesV1.ValueType;
      readonly onDemand: number;
      readonly output: number;
      readonly ref: string;
    };

/**
 * What a request for features means against one registry version: what to read, what
 * to compute, and the columns to answer with. Engine-agnostic: online serving reads
 * `views` from the online store, offline retrieval joins them in SQL.
 */
export interface ResolvedFeatures {
  readonly project: string;
  readonly views: readonly ResolvedView[];
  readonly onDemand: readonly ResolvedOnDemand[];
  readonly outputs: readonly ResolvedOutput[];
  /** Entity-row columns the views need, each once, in first-use order. */
  readonly entityColumns: readonly TypedName[];
  /** Request-context fields the on-demand views need, each once. */
  readonly requestFields: readonly TypedName[];
}

interface Projection {
  view: string;
  alias: string;
  features: readonly string[];
  joinKeyMap: Readonly<Record<string, string>>;
  /** Where the projection came from, for messages (`features[2]`, `feature_service 'x' projections[1]`). */
  field: string;
}

/**
 * Resolves feature refs or a feature service against a project's definitions. Throws
 * FeatureResolutionError naming the field and the problem: a malformed ref, an unknown
 * view, feature or service, two outputs with the same name, join keys of different
 * types behind one column, or an on-demand view that does not compile.
 */
export function resolveFeatures(set: RegistrySet, request: FeatureRequest, options: ResolveOptions): ResolvedFeatures {
  return new Resolver(set, options).resolve(request);
}

class Resolver {
  private readonly views: ResolvedView[] = [];
  private readonly viewIndex = new Map<string, number>();
  private readonly onDemand: ResolvedOnDemand[] = [];
  private readonly onDemandIndex = new Map<string, number>();
  private readonly onDemandVisiting = new Set<string>();
  private readonly entityColumns = new Map<string, TypedName & { field: string }>();
  private readonly requestFields = new Map<string, TypedName>();
  private readonly featureViews: Map<string, registryV1.FeatureView>;
  private readonly onDemandViews: Map<string, registryV1.OnDemandFeatureView>;
  private readonly entities: Map<string, registryV1.Entity>;

  constructor(
    private readonly set: RegistrySet,
    private readonly options: ResolveOptions,
  ) {
    this.featureViews = new Map(set.featureViews.map((v) => [v.name, v]));
    this.onDemandViews = new Map(set.onDemandFeatureViews.map((v) => [v.name, v]));
    this.entities = new Map(set.entities.map((e) => [e.name, e]));
  }

  resolve(request: FeatureRequest): ResolvedFeatures {
    const projections = 'refs' in request ? this.fromRefs(request.refs) : this.fromService(request.featureService);
    const outputs: ResolvedOutput[] = [];
    const byName = new Map<string, string>();
    for (const p of projections) {
      const prefix = p.alias === '' ? p.view : p.alias;
      const add = (out: ResolvedOutput): void => {
        const earlier = byName.get(out.name);
        if (earlier !== undefined) {
          throw new FeatureResolutionError(
            'collision',
            p.field,
            earlier === out.ref
              ? `feature '${out.ref}' is requested twice`
              : `features '${earlier}' and '${out.ref}' would both be named '${out.name}' in the response; request full feature names or give a view an alias`,
          );
        }
        byName.set(out.name, out.ref);
        outputs.push(out);
      };
      const fv = this.featureViews.get(p.view);
      if (fv !== undefined) {
        const schema = this.pickFeatures(
          p,
          fv.schema.map(({ name, valueType }) => ({ name, valueType })),
        );
        const view = this.viewRead(
          fv,
          p,
          schema.map((f) => f.name),
        );
        const read = this.views[view] as ResolvedView;
        for (const f of schema) {
          add({
            kind: 'view',
            name: this.outputName(prefix, f.name),
            valueType: f.valueType,
            view,
            feature: read.features.findIndex((x) => x.name === f.name),
            ref: `${prefix}:${f.name}`,
          });
        }
        continue;
      }
      const odfv = this.onDemandViews.get(p.view);
      if (odfv !== undefined) {
        const outs = this.pickFeatures(
          p,
          odfv.outputs.map(({ name, valueType }) => ({ name, valueType })),
        );
        const index = this.onDemandView(odfv, p.field);
        const compiled = (this.onDemand[index] as ResolvedOnDemand).compiled;
        for (const o of outs) {
          add({
            kind: 'on-demand',
            name: this.outputName(prefix, o.name),
            valueType: o.valueType,
            onDemand: index,
            output: compiled.outputs.findIndex((x) => x.name === o.name),
            ref: `${prefix}:${o.name}`,
          });
        }
        continue;
      }
      throw this.unknownView(p.view, p.field);
    }
    if (outputs.length === 0)
      throw new FeatureResolutionError('empty', 'features', 'no features requested; give at least one `view:feature` ref or a feature service');
    return {
      project: this.set.project.name,
      views: this.views,
      onDemand: this.onDemand,
      outputs,
      entityColumns: [...this.entityColumns.values()].map(({ name, valueType }) => ({ name, valueType })),
      requestFields: [...this.requestFields.values()],
    };
  }

  private outputName(prefix: string, feature: string): string {
    return this.options.fullFeatureNames ? `${prefix}__${feature}` : feature;
  }

  private fromRefs(refs: readonly string[]): Projection[] {
    // Consecutive refs of one view become one projection; order of outputs is kept.
    return refs.map((ref, i) => {
      let parsed;
      try {
        parsed = parseFeatureRef(ref);
      } catch (error) {
        if (error instanceof FeatureRefError) throw new FeatureResolutionError('bad-ref', `features[${i}]`, error.message);
        throw error;
      }
      return { view: parsed.featureView, alias: '', features: [parsed.feature], joinKeyMap: {}, field: `features[${i}] '${ref}'` };
    });
  }

  private fromService(name: string): Projection[] {
    const service = this.set.featureServices.find((s) => s.name === name);
    if (service === undefined) {
      const hint = suggestName(
        name,
        this.set.featureServices.map((s) => s.name),
      );
      throw new FeatureResolutionError(
        'unknown-service',
        'feature_service',
        `feature service '${name}' is not defined in project '${this.set.project.name}'${hint}`,
      );
    }
    return service.projections.map((p, i) => ({
      view: p.featureView,
      alias: p.alias,
      features: p.features,
      joinKeyMap: p.joinKeyMap,
      field: `feature service '${name}' projections[${i}]`,
    }));
  }

  private pickFeatures(p: Projection, all: TypedName[]): TypedName[] {
    if (p.features.length === 0) return all;
    return p.features.map((name) => {
      const found = all.find((f) => f.name === name);
      if (found === undefined) {
        const hint = suggestName(
          name,
          all.map((f) => f.name),
        );
        throw new FeatureResolutionError(
          'unknown-feature',
          p.field,
          `view '${p.view}' has no feature '${name}'${hint}; its features: ${all.map((f) => f.name).join(', ')}`,
        );
      }
      return found;
    });
  }

  private unknownView(name: string, field: string): FeatureResolutionError {
    const hint = suggestName(name, [...this.featureViews.keys(), ...this.onDemandViews.keys()]);
    return new FeatureResolutionError('unknown-view', field, `feature view '${name}' is not defined in project '${this.set.project.name}'${hint}`);
  }

  private joinKeysOf(fv: registryV1.FeatureView, p: Pick<Projection, 'joinKeyMap' | 'field'>): ResolvedJoinKey[] {
    return fv.entities.map((entityName) => {
      const entity = this.entities.get(entityName);
      if (entity === undefined) {
        throw new FeatureResolutionError('invalid-definition', p.field, `feature view '${fv.name}' references entity '${entityName}', which is not defined`);
      }
      const name = joinKeyOf(entity);
      const column = p.joinKeyMap[name] ?? name;
      const key = { name, column, valueType: entity.valueType };
      const seen = this.entityColumns.get(column);
      if (seen === undefined) this.entityColumns.set(column, { name: column, valueType: entity.valueType, field: p.field });
      else if (seen.valueType !== entity.valueType) {
        throw new FeatureResolutionError(
          'invalid-definition',
          p.field,
          `entity column '${column}' would carry join keys of two types (for ${seen.field} and for view '${fv.name}'); map one of them to another column with join_key_map`,
        );
      }
      return key;
    });
  }

  /** Index of the read of `fv` under this projection's key mapping, adding the features it needs. */
  private viewRead(fv: registryV1.FeatureView, p: Pick<Projection, 'joinKeyMap' | 'field'>, features: readonly string[]): number {
    const joinKeys = this.joinKeysOf(fv, p);
    const key = `${fv.name}\u0000${joinKeys.map((k) => `${k.name}=${k.column}`).join('\u0000')}`;
    let index = this.viewIndex.get(key);
    if (index === undefined) {
      index = this.views.length;
      this.viewIndex.set(key, index);
      this.views.push({ name: fv.name, joinKeys, features: [], ttlMs: ttlMs(fv), definition: fv });
    }
    const read = this.views[index] as ResolvedView & { features: TypedName[] };
    for (const name of features) {
      if (read.features.some((f) => f.name === name)) continue;
      const spec = fv.schema.find((f) => f.name === name);
      if (spec === undefined) throw new FeatureResolutionError('unknown-feature', p.field, `view '${fv.name}' has no feature '${name}'`);
      read.features.push({ name, valueType: spec.valueType });
    }
    return index;
  }

  private onDemandView(odfv: registryV1.OnDemandFeatureView, field: string): number {
    const known = this.onDemandIndex.get(odfv.name);
    if (known !== undefined) return known;
    if (this.onDemandVisiting.has(odfv.name)) {
      throw new FeatureResolutionError('invalid-definition', field, `on-demand feature view '${odfv.name}' reads itself through its sources`);
    }
    this.onDemandVisiting.add(odfv.name);
    let compiled: CompiledOnDemandView;
    try {
      compiled = compileOnDemandView(odfv, this.set);
    } catch (error) {
      if (error instanceof OnDemandCompileError) throw new FeatureResolutionError('invalid-definition', field, error.message);
      throw error;
    }
    const inputs: ResolvedOnDemandInput[] = [];
    const joinKeys = new Map<string, ResolvedJoinKey>();
    odfv.sources.forEach(({ source }, i) => {
      const input = compiled.inputs[i];
      if (input === undefined) return;
      const where = `${field} (on-demand feature view '${odfv.name}' sources[${i}])`;
      if (source.case === 'requestSource') {
        const fields = input.fields ?? [];
        for (const f of fields) {
          const seen = this.requestFields.get(f.name);
          if (seen !== undefined && seen.valueType !== f.valueType) {
            throw new FeatureResolutionError(
              'invalid-definition',
              where,
              `request field '${f.name}' is declared with two types by the requested on-demand views`,
            );
          }
          this.requestFields.set(f.name, { name: f.name, valueType: f.valueType });
        }
        inputs.push({ kind: 'request', variable: input.variable, fields });
      } else if (source.case === 'featureView') {
        const p = source.value;
        const names = (input.fields ?? []).map((f) => f.name);
        const fv = this.featureViews.get(p.featureView);
        if (fv !== undefined) {
          const view = this.viewRead(fv, { joinKeyMap: p.joinKeyMap, field: where }, names);
          for (const k of (this.views[view] as ResolvedView).joinKeys) joinKeys.set(k.column, k);
          inputs.push({ kind: 'view', variable: input.variable, view, features: names });
          return;
        }
        const inner = this.onDemandViews.get(p.featureView);
        if (inner === undefined) throw this.unknownView(p.featureView, where);
        const index = this.onDemandView(inner, where);
        for (const k of (this.onDemand[index] as ResolvedOnDemand).joinKeys) joinKeys.set(k.column, k);
        inputs.push({ kind: 'on-demand', variable: input.variable, onDemand: index, features: names });
      }
    });
    this.onDemandVisiting.delete(odfv.name);
    const index = this.onDemand.length;
    this.onDemand.push({ name: odfv.name, compiled, inputs, joinKeys: [...joinKeys.values()] });
    this.onDemandIndex.set(odfv.name, index);
    return index;
  }
}

function ttlMs(fv: registryV1.FeatureView): number {
  if (fv.ttl === undefined) return 0;
  return Number(fv.ttl.seconds) * 1000 + Math.floor(fv.ttl.nanos / 1e6);
}
