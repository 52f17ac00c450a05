import { isFieldSet } from '@bufbuild/protobuf';
import { tfmdV0, typesV1 } from '@larder/proto';
import type { registryV1 } from '@larder/proto';
import { valueTypeName } from './value-types';

const V = typesV1.ValueType;
const F = tfmdV0.FeatureType;

/** A problem of a view's TFDV schema; `field` is the path under `validation.schema`, `message` follows "feature view 'name' ". */
export interface ValidationSchemaProblem {
  readonly field: string;
  readonly message: string;
}

/** The families of values a TFDV domain can speak about; a Larder value type belongs to one. */
type Family = 'int' | 'float' | 'string' | 'bool';

const FAMILY = new Map<typesV1.ValueType, Family>([
  [V.INT32, 'int'],
  [V.INT64, 'int'],
  [V.UNIX_TIMESTAMP, 'int'],
  [V.INT32_LIST, 'int'],
  [V.INT64_LIST, 'int'],
  [V.UNIX_TIMESTAMP_LIST, 'int'],
  [V.FLOAT, 'float'],
  [V.DOUBLE, 'float'],
  [V.FLOAT_LIST, 'float'],
  [V.DOUBLE_LIST, 'float'],
  [V.STRING, 'string'],
  [V.BYTES, 'string'],
  [V.STRING_LIST, 'string'],
  [V.BYTES_LIST, 'string'],
  [V.BOOL, 'bool'],
  [V.BOOL_LIST, 'bool'],
]);

/**
 * Which families each TFDV domain fits. TFDV keeps booleans as INT, so an int_domain
 * (0..1) fits a bool feature too; time domains describe strings or integers.
 */
const DOMAIN_FITS: Record<string, { readonly label: string; readonly families: readonly Family[]; readonly advice: string }> = {
  intDomain: { label: 'int_domain', families: ['int', 'bool'], advice: 'int_domain describes int32, int64, unix_timestamp and bool features' },
  floatDomain: { label: 'float_domain', families: ['float'], advice: 'float_domain describes float and double features' },
  stringDomain: { label: 'string_domain', families: ['string'], advice: 'string_domain describes string and bytes features' },
  boolDomain: { label: 'bool_domain', families: ['bool'], advice: 'bool_domain describes bool features' },
  timeDomain: { label: 'time_domain', families: ['string', 'int'], advice: 'time_domain describes string or integer features' },
  timeOfDayDomain: { label: 'time_of_day_domain', families: ['string', 'int'], advice: 'time_of_day_domain describes string or integer features' },
  structDomain: { label: 'struct_domain', families: [], advice: 'struct_domain describes STRUCT features, which feature views do not have' },
};

/** TFDV's physical type each family is stored as (FeatureType). */
const TFDV_TYPE: Record<Family, tfmdV0.FeatureType> = { int: F.INT, bool: F.INT, float: F.FLOAT, string: F.BYTES };

/**
 * Checks a feature view's TFDV schema against the view itself, so that nothing
 * downstream (ingestion, materialization, training, serving) meets a schema that
 * cannot apply: every schema feature must be one of the view's features, named
 * once; its `type`, if set, and its domain (inline, or a schema-level domain named
 * by `domain`, which must exist) must fit the feature's value type; a domain's
 * min may not exceed its max.
 */
export function validationSchemaProblems(view: registryV1.FeatureView): ValidationSchemaProblem[] {
  const schema = view.validation?.schema;
  if (schema === undefined) return [];
  const problems: ValidationSchemaProblem[] = [];
  const types = new Map(view.schema.map((f) => [f.name, f.valueType]));
  const own = view.schema.map((f) => f.name).join(', ');
  const seen = new Set<string>();
  schema.feature.forEach((feature, i) => {
    const at = `feature[${i}]`;
    const add = (field: string, message: string) => problems.push({ field: `${at}${field}`, message });
    if (feature.name === '') {
      add('.name', `has a validation schema whose feature #${i + 1} has no name; name one of the view's features (${own})`);
      return;
    }
    if (seen.has(feature.name)) add('.name', `has a validation schema naming feature '${feature.name}' more than once`);
    seen.add(feature.name);
    const valueType = types.get(feature.name);
    if (valueType === undefined) {
      add('.name', `has a validation schema naming feature '${feature.name}', which the view does not have; its features are ${own}`);
      return;
    }
    const family = FAMILY.get(valueType);
    if (family === undefined) return;
    const typeName = valueTypeName(valueType);
    if (isFieldSet(feature, tfmdV0.FeatureSchema.field.type) && feature.type !== F.TYPE_UNKNOWN && feature.type !== TFDV_TYPE[family]) {
      add(
        '.type',
        `has a validation schema giving feature '${feature.name}' type ${F[feature.type] ?? feature.type}, but the feature is ${typeName}, which TFDV calls ${F[TFDV_TYPE[family]]}`,
      );
    }
    const info = feature.domainInfo;
    if (info.case === undefined) return;
    let domainCase: string = info.case;
    let domainValue: unknown = info.value;
    let via = '';
    if (info.case === 'domain') {
      const named =
        schema.stringDomain.find((d) => d.name === info.value) ??
        schema.intDomain.find((d) => d.name === info.value) ??
        schema.floatDomain.find((d) => d.name === info.value);
      if (named === undefined) {
        add(
          '.domain',
          `has a validation schema giving feature '${feature.name}' domain '${info.value}', which the schema does not ` +
            `define; add a string_domain, int_domain or float_domain named '${info.value}' at its top level`,
        );
        return;
      }
      domainCase =
        named.$typeName === 'tensorflow.metadata.v0.StringDomain'
          ? 'stringDomain'
          : named.$typeName === 'tensorflow.metadata.v0.IntDomain'
            ? 'intDomain'
            : 'floatDomain';
      domainValue = named;
      via = ` (domain '${info.value}')`;
    }
    const fit = DOMAIN_FITS[domainCase];
    const field = info.case === 'domain' ? '.domain' : `.${fit?.label ?? domainCase}`;
    if (fit === undefined) return;
    if (!fit.families.includes(family)) {
      add(
        field,
        `has a validation schema giving feature '${feature.name}' ${fit.label === 'int_domain' ? 'an' : 'a'} ${fit.label}${via}, which does not fit its value type ${typeName}: ${fit.advice}`,
      );
      return;
    }
    const bounds = boundsOf(domainCase, domainValue);
    if (bounds !== undefined && bounds.min > bounds.max) {
      add(
        field,
        `has a validation schema giving feature '${feature.name}' ${fit.label === 'int_domain' ? 'an' : 'a'} ${fit.label}${via} with min ${bounds.min} above max ${bounds.max}`,
      );
    }
  });
  return problems;
}

function boundsOf(domainCase: string, value: unknown): { min: number | bigint; max: number | bigint } | undefined {
  if (domainCase === 'intDomain') {
    const d = value as tfmdV0.IntDomain;
    if (isFieldSet(d, tfmdV0.IntDomainSchema.field.min) && isFieldSet(d, tfmdV0.IntDomainSchema.field.max)) return { min: d.min, max: d.max };
  } else if (domainCase === 'floatDomain') {
    const d = value as tfmdV0.FloatDomain;
    if (isFieldSet(d, tfmdV0.FloatDomainSchema.field.min) && isFieldSet(d, tfmdV0.FloatDomainSchema.field.max)) return { min: d.min, max: d.max };
  }
  return undefined;
}
