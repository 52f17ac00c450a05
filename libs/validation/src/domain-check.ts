import { isFieldSet } from '@bufbuild/protobuf';
import { tfmdV0, type typesV1 } from '@larder/proto';
import { resolveDomain } from './validate';

/**
 * True when a present value (scalar or list) has an element outside the feature's
 * domain. Meant for hot paths (online serving counts every value it returns): it
 * allocates nothing, and a value of a kind the domain does not speak about (a string
 * under a float domain, bytes, bools) is not out of it.
 */
export type DomainCheck = (value: typesV1.Value) => boolean;

/**
 * The feature's int, float or string domain (inline, or a schema-level domain named
 * by `domain`) as a DomainCheck, or undefined when it has none that constrains values:
 * int_domain min/max, float_domain min/max, disallow_nan and disallow_inf,
 * string_domain's value set. Unlike the row checks ingestion runs, a string outside
 * the set is out of the domain even when `min_domain_mass` tolerates some: this
 * counts what is outside, it does not decide whether that is acceptable.
 */
export function compileDomainCheck(feature: tfmdV0.Feature, schema: tfmdV0.Schema): DomainCheck | undefined {
  const domain = resolveDomain(feature, schema);
  if (domain.case === 'string') {
    if (domain.value.value.length === 0) return undefined;
    const allowed: ReadonlySet<string> = new Set(domain.value.value);
    return (value) => {
      const v = value.val;
      if (v.case === 'stringVal') return !allowed.has(v.value);
      if (v.case === 'stringListVal') {
        const list = v.value.val;
        for (let i = 0; i < list.length; i++) if (!allowed.has(list[i] as string)) return true;
      }
      return false;
    };
  }
  let lo = -Infinity;
  let hi = Infinity;
  let loInt: bigint | undefined;
  let hiInt: bigint | undefined;
  let nan = false;
  let inf = false;
  if (domain.case === 'int') {
    if (isFieldSet(domain.value, tfmdV0.IntDomainSchema.field.min)) {
      loInt = domain.value.min;
      lo = Number(loInt);
    }
    if (isFieldSet(domain.value, tfmdV0.IntDomainSchema.field.max)) {
      hiInt = domain.value.max;
      hi = Number(hiInt);
    }
  } else if (domain.case === 'float') {
    if (isFieldSet(domain.value, tfmdV0.FloatDomainSchema.field.min)) lo = domain.value.min;
    if (isFieldSet(domain.value, tfmdV0.FloatDomainSchema.field.max)) hi = domain.value.max;
    nan = domain.value.disallowNan;
    inf = domain.value.disallowInf;
  } else {
    return undefined;
  }
  if (lo === -Infinity && hi === Infinity && !nan && !inf) return undefined;
  // int64 values arrive as bigint: compared as bigints so that values past 2^53 are exact.
  const outInt = (n: bigint): boolean => (loInt !== undefined ? n < loInt : Number(n) < lo) || (hiInt !== undefined ? n > hiInt : Number(n) > hi);
  const outNumber = (n: number): boolean => {
    if (n !== n) return nan;
    if (inf && (n === Infinity || n === -Infinity)) return true;
    return n < lo || n > hi;
  };
  return (value) => {
    const v = value.val;
    switch (v.case) {
      case 'doubleVal':
      case 'floatVal':
      case 'int32Val':
        return outNumber(v.value);
      case 'int64Val':
      case 'unixTimestampVal':
        return outInt(v.value);
      case 'doubleListVal':
      case 'floatListVal':
      case 'int32ListVal': {
        const list = v.value.val;
        for (let i = 0; i < list.length; i++) if (outNumber(list[i] as number)) return true;
        return false;
      }
      case 'int64ListVal':
      case 'unixTimestampListVal': {
        const list = v.value.val;
        for (let i = 0; i < list.length; i++) if (outInt(list[i] as bigint)) return true;
        return false;
      }
      default:
        return false;
    }
  };
}
