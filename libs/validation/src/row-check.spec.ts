import { create } from '@bufbuild/protobuf';
import { tfmdV0, typesV1 } from '@larder/proto';
import { compileRowCheck, compileValueChecks } from './row-check';
import { schemaFromText } from './schema-io';

const T = tfmdV0.AnomalyInfo_Type;
const v = (val: { case: string; value: unknown }): typesV1.Value => create(typesV1.ValueSchema, { val } as never);

const SCHEMA = schemaFromText(`
feature { name: "rate" type: FLOAT presence { min_fraction: 1.0 } float_domain { min: 0 max: 1 disallow_nan: true } }
feature { name: "trips" type: INT int_domain { min: 0 max: 100 } }
feature { name: "payment" type: BYTES domain: "payment" }
feature { name: "tolerant" type: BYTES string_domain { value: "a" } distribution_constraints { min_domain_mass: 0.9 } }
feature { name: "tags" type: BYTES value_count { min: 1 max: 2 } string_domain { value: "x" value: "y" } }
feature { name: "free" type: FLOAT presence { min_fraction: 0.5 } }
string_domain { name: "payment" value: "Cash" value: "Card" }
`);

describe('row checks', () => {
  const checks = compileValueChecks(SCHEMA, ['rate', 'trips', 'payment', 'tolerant', 'tags', 'free', 'not_in_schema']);

  it('compiles checks only for what a single value can break', () => {
    expect([...checks.keys()]).toEqual(['rate', 'trips', 'payment', 'tags']);
  });

  const cases: [string, typesV1.Value | undefined, tfmdV0.AnomalyInfo_Type | undefined, RegExp | null][] = [
    ['rate', v({ case: 'doubleVal', value: 0.5 }), undefined, null],
    ['rate', v({ case: 'floatVal', value: 1.5 }), T.FLOAT_TYPE_BIG_FLOAT, /rate: 1\.5 is above the domain's maximum 1/],
    ['rate', v({ case: 'doubleVal', value: -0.1 }), T.FLOAT_TYPE_SMALL_FLOAT, null],
    ['rate', v({ case: 'doubleVal', value: NaN }), T.FLOAT_TYPE_HAS_NAN, null],
    ['rate', undefined, T.FEATURE_TYPE_LOW_FRACTION_PRESENT, /rate is missing/],
    ['rate', v({ case: 'nullVal', value: typesV1.Null.UNSPECIFIED }), T.FEATURE_TYPE_LOW_FRACTION_PRESENT, null],
    ['trips', v({ case: 'int64Val', value: 101n }), T.INT_TYPE_BIG_INT, null],
    ['trips', v({ case: 'int32Val', value: -1 }), T.INT_TYPE_SMALL_INT, null],
    ['trips', v({ case: 'int64Val', value: 100n }), undefined, null],
    ['trips', undefined, undefined, null],
    ['payment', v({ case: 'stringVal', value: 'Cash' }), undefined, null],
    ['payment', v({ case: 'stringVal', value: 'Bitcoin' }), T.ENUM_TYPE_UNEXPECTED_STRING_VALUES, /payment: "Bitcoin" is not in the domain 'payment'/],
    ['tags', v({ case: 'stringListVal', value: { val: ['x'] } }), undefined, null],
    ['tags', v({ case: 'stringListVal', value: { val: [] } }), T.FEATURE_TYPE_LOW_NUMBER_VALUES, null],
    ['tags', v({ case: 'stringListVal', value: { val: ['x', 'y', 'x'] } }), T.FEATURE_TYPE_HIGH_NUMBER_VALUES, null],
    ['tags', v({ case: 'stringListVal', value: { val: ['x', 'z'] } }), T.ENUM_TYPE_UNEXPECTED_STRING_VALUES, null],
  ];
  it.each(cases)('%s = %p -> %p', (name, value, type, reason) => {
    const problem = checks.get(name)?.(value);
    expect(problem?.type).toBe(type);
    if (reason !== null) expect(problem?.reason).toMatch(reason);
  });

  it('a row check reports the first broken feature, and is undefined when nothing is checked value by value', () => {
    const row = compileRowCheck(SCHEMA, ['rate', 'payment']);
    expect(row?.({ rate: v({ case: 'doubleVal', value: 0.2 }), payment: v({ case: 'stringVal', value: 'Card' }) })).toBeUndefined();
    expect(row?.({ rate: v({ case: 'doubleVal', value: 0.2 }), payment: v({ case: 'stringVal', value: 'IOU' }) })).toEqual(
      expect.objectContaining({ feature: 'payment', kind: 'out_of_domain' }),
    );
    expect(compileRowCheck(SCHEMA, ['free', 'tolerant'])).toBeUndefined();
  });
});
