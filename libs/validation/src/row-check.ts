import { isFieldSet } from '@bufbuild/protobuf';
import { tfmdV0, type typesV1 } from '@larder/proto';
import { resolveDomain } from './validate';

/** What a single value can break, as the serving counters name it. */
export type ViolationKind = 'missing' | 'out_of_domain' | 'value_count';

/** One feature value breaking the schema, typed with the TFDV reason a whole dataset would get. */
export interface RowViolation {
  readonly feature: string;
  readonly kind: ViolationKind;
  readonly type: tfmdV0.AnomalyInfo_Type;
  readonly reason: string;
}

/** Checks one feature's value (undefined or a null Value when absent); undefined when it keeps the schema. */
export type ValueCheck = (value: typesV1.Value | undefined) => RowViolation | undefined;

const T = tfmdV0.AnomalyInfo_Type;

type Element = string | number | bigint | boolean | Uint8Array;

function elements(value: typesV1.Value): readonly Element[] | undefined {
  const v = value.val;
  switch (v.case) {
    case 'bytesListVal':
    case 'stringListVal':
    case 'int32ListVal':
    case 'int64ListVal':
    case 'doubleListVal':
    case 'floatListVal':
    case 'boolListVal':
    case 'unixTimestampListVal':
      return v.value.val;
    default:
      return undefined;
  }
}

const isAbsent = (value: typesV1.Value | undefined) => value === undefined || value.val.case === undefined || value.val.case === 'nullVal';

/**
 * The schema's constraints that a single value can break, compiled once per
 * feature (per registry version) so that checking a value costs a few
 * comparisons: a required feature (presence.min_fraction 1) absent; a list
 * length outside value_count or a fixed shape; a number outside its int or
 * float domain, or NaN where the domain disallows it; a string outside its
 * string domain (unless distribution_constraints tolerate some). Dataset-wide
 * constraints (fractions below 1, drift, unique counts) need statistics and
 * are not checked here.
 */
export function compileValueCheck(feature: tfmdV0.Feature, schema: tfmdV0.Schema): ValueCheck | undefined {
  const name = feature.name;
  const presence = feature.presenceConstraints.case === 'presence' ? feature.presenceConstraints.value : undefined;
  const required = presence !== undefined && isFieldSet(presence, tfmdV0.FeaturePresenceSchema.field.minFraction) && presence.minFraction >= 1;

  let minCount: number | undefined;
  let maxCount: number | undefined;
  if (feature.shapeType.case === 'valueCount') {
    const vc = feature.shapeType.value;
    if (isFieldSet(vc, tfmdV0.ValueCountSchema.field.min)) minCount = Number(vc.min);
    if (isFieldSet(vc, tfmdV0.ValueCountSchema.field.max)) maxCount = Number(vc.max);
  } else if (feature.shapeType.case === 'shape') {
    minCount = maxCount = Number(feature.shapeType.value.dim.reduce((n, d) => n * d.size, 1n));
  }

  const domain = resolveDomain(feature, schema);
  let lo = -Infinity;
  let hi = Infinity;
  let disallowNan = false;
  let allowed: ReadonlySet<string> | undefined;
  let domainName = '';
  if (domain.case === 'int') {
    if (isFieldSet(domain.value, tfmdV0.IntDomainSchema.field.min)) lo = Number(domain.value.min);
    if (isFieldSet(domain.value, tfmdV0.IntDomainSchema.field.max)) hi = Number(domain.value.max);
  } else if (domain.case === 'float') {
    if (isFieldSet(domain.value, tfmdV0.FloatDomainSchema.field.min)) lo = domain.value.min;
    if (isFieldSet(domain.value, tfmdV0.FloatDomainSchema.field.max)) hi = domain.value.max;
    disallowNan = domain.value.disallowNan;
  } else if (domain.case === 'string') {
    const c = feature.distributionConstraints;
    const tolerant = c !== undefined && isFieldSet(c, tfmdV0.DistributionConstraintsSchema.field.minDomainMass) && c.minDomainMass < 1;
    if (!tolerant) allowed = new Set(domain.value.value);
    domainName = domain.value.name;
  }
  const small = domain.case === 'int' ? T.INT_TYPE_SMALL_INT : T.FLOAT_TYPE_SMALL_FLOAT;
  const big = domain.case === 'int' ? T.INT_TYPE_BIG_INT : T.FLOAT_TYPE_BIG_FLOAT;
  const numeric = lo !== -Infinity || hi !== Infinity || disallowNan;

  if (!required && minCount === undefined && maxCount === undefined && !numeric && allowed === undefined) return undefined;

  const checkElement = (e: Element): RowViolation | undefined => {
    if (typeof e === 'number' || typeof e === 'bigint') {
      if (!numeric) return undefined;
      const n = Number(e);
      if (Number.isNaN(n))
        return disallowNan
          ? { feature: name, kind: 'out_of_domain', type: T.FLOAT_TYPE_HAS_NAN, reason: `${name}: NaN, which the domain disallows` }
          : undefined;
      if (n < lo) return { feature: name, kind: 'out_of_domain', type: small, reason: `${name}: ${String(e)} is below the domain's minimum ${lo}` };
      if (n > hi) return { feature: name, kind: 'out_of_domain', type: big, reason: `${name}: ${String(e)} is above the domain's maximum ${hi}` };
      return undefined;
    }
    if (typeof e === 'string' && allowed !== undefined && !allowed.has(e)) {
      return {
        feature: name,
        kind: 'out_of_domain',
        type: T.ENUM_TYPE_UNEXPECTED_STRING_VALUES,
        reason: `${name}: ${JSON.stringify(e.length > 100 ? `${e.slice(0, 100)}…` : e)} is not in the domain${domainName === '' ? '' : ` '${domainName}'`}`,
      };
    }
    return undefined;
  };

  return (value) => {
    if (isAbsent(value)) {
      return required
        ? { feature: name, kind: 'missing', type: T.FEATURE_TYPE_LOW_FRACTION_PRESENT, reason: `${name} is missing; the schema requires it in every example` }
        : undefined;
    }
    const list = elements(value as typesV1.Value);
    if (list === undefined) {
      if (minCount !== undefined && minCount > 1)
        return {
          feature: name,
          kind: 'value_count',
          type: T.FEATURE_TYPE_LOW_NUMBER_VALUES,
          reason: `${name} has 1 value; the schema asks for at least ${minCount}`,
        };
      return checkElement((value as typesV1.Value).val.value as Element);
    }
    if (minCount !== undefined && list.length < minCount)
      return {
        feature: name,
        kind: 'value_count',
        type: T.FEATURE_TYPE_LOW_NUMBER_VALUES,
        reason: `${name} has ${list.length} values; the schema asks for at least ${minCount}`,
      };
    if (maxCount !== undefined && list.length > maxCount)
      return {
        feature: name,
        kind: 'value_count',
        type: T.FEATURE_TYPE_HIGH_NUMBER_VALUES,
        reason: `${name} has ${list.length} values; the schema allows at most ${maxCount}`,
      };
    for (const e of list) {
      const problem = checkElement(e);
      if (problem !== undefined) return problem;
    }
    return undefined;
  };
}

/** Per-feature value checks of the named features (those the schema constrains value by value). */
export function compileValueChecks(schema: tfmdV0.Schema, featureNames: readonly string[]): Map<string, ValueCheck> {
  const checks = new Map<string, ValueCheck>();
  const wanted = new Set(featureNames);
  for (const feature of schema.feature) {
    if (!wanted.has(feature.name) || feature.deprecated) continue;
    const check = compileValueCheck(feature, schema);
    if (check !== undefined) checks.set(feature.name, check);
  }
  return checks;
}

/** Checks a row's values; the first violation, or undefined. */
export type RowCheck = (values: Readonly<Record<string, typesV1.Value>>) => RowViolation | undefined;

/** A row check over the named features, or undefined when the schema constrains none of them value by value. */
export function compileRowCheck(schema: tfmdV0.Schema, featureNames: readonly string[]): RowCheck | undefined {
  const checks = [...compileValueChecks(schema, featureNames)];
  if (checks.length === 0) return undefined;
  return (values) => {
    for (const [name, check] of checks) {
      const problem = check(values[name]);
      if (problem !== undefined) return problem;
    }
    return undefined;
  };
}
