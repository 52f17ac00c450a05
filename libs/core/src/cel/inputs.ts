import type { registryV1, typesV1 } from '@larder/proto';
import type { RegistrySet } from '../registry-set';

/** A typed field an expression can read. */
export interface InputField {
  name: string;
  valueType: typesV1.ValueType;
}

/**
 * One variable of an on-demand view's expressions: a request source (named
 * after it) or a view projection (named after its alias, else its view).
 * `fields` undefined means the source could not be resolved; expressions may
 * then read any field of it, untyped.
 */
export interface OnDemandInput {
  variable: string;
  source: 'request' | 'feature-view' | 'on-demand-feature-view';
  /** The request source's or view's name. */
  ref: string;
  fields: readonly InputField[] | undefined;
}

/** What resolving a view's inputs needs from the registry. */
export type InputCatalog = Pick<RegistrySet, 'dataSources' | 'featureViews' | 'onDemandFeatureViews'>;

/**
 * Resolves an on-demand view's sources against a registry: each source's
 * CEL variable name and typed fields (a projection's features, or all of its
 * view's when it lists none). Sources that do not resolve come back with
 * `fields: undefined` and are named in `unresolved`.
 */
export function onDemandInputs(view: registryV1.OnDemandFeatureView, catalog: InputCatalog): { inputs: OnDemandInput[]; unresolved: string[] } {
  const inputs: OnDemandInput[] = [];
  const unresolved: string[] = [];
  for (const { source } of view.sources) {
    if (source.case === 'requestSource') {
      const ds = catalog.dataSources.find((s) => s.name === source.value);
      const fields = ds?.kind.case === 'request' ? ds.kind.value.schema.map(({ name, valueType }) => ({ name, valueType })) : undefined;
      if (fields === undefined) unresolved.push(source.value);
      inputs.push({ variable: source.value, source: 'request', ref: source.value, fields });
    } else if (source.case === 'featureView') {
      const p = source.value;
      const variable = p.alias === '' ? p.featureView : p.alias;
      const fv = catalog.featureViews.find((v) => v.name === p.featureView);
      const odfv = fv === undefined ? catalog.onDemandFeatureViews.find((v) => v.name === p.featureView) : undefined;
      const all: InputField[] | undefined =
        fv?.schema.map(({ name, valueType }) => ({ name, valueType })) ?? odfv?.outputs.map(({ name, valueType }) => ({ name, valueType }));
      const fields = all === undefined || p.features.length === 0 ? all : all.filter((f) => p.features.includes(f.name));
      if (fields === undefined) unresolved.push(p.featureView);
      inputs.push({ variable, source: odfv === undefined ? 'feature-view' : 'on-demand-feature-view', ref: p.featureView, fields });
    }
  }
  return { inputs, unresolved };
}
