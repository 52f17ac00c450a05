import { create } from '@bufbuild/protobuf';
import { typesV1 } from '@larder/proto';
import type { tfmdV0 } from '@larder/proto';
import { compileDomainCheck } from './domain-check';
import { schemaFromText } from './schema-io';

const v = (val: { case: string; value: unknown }): typesV1.Value => create(typesV1.ValueSchema, { val } as never);
const list = (kind: string, values: unknown[]): typesV1.Value => v({ case: kind, value: { val: values } });

const SCHEMA = schemaFromText(`
feature { name: "rate" type: FLOAT float_domain { min: 0 max: 1 disallow_nan: true disallow_inf: true } }
feature { name: "loose" type: FLOAT float_domain { min: 0 } }
feature { name: "trips" type: INT int_domain { min: -5 max: 9007199254740993 } }
feature { name: "payment" type: BYTES domain: "payment" distribution_constraints { min_domain_mass: 0.5 } }
feature { name: "free" type: FLOAT }
feature { name: "flag" type: INT bool_domain { } }
string_domain { name: "payment" value: "Cash" value: "Card" }
`);
const check = (name: string) => compileDomainCheck(SCHEMA.feature.find((f) => f.name === name) as tfmdV0.Feature, SCHEMA);

describe('compileDomainCheck', () => {
  it('has nothing to check without a value-constraining domain', () => {
    expect(check('free')).toBeUndefined();
    expect(check('flag')).toBeUndefined();
  });

  it.each<[string, typesV1.Value, boolean]>([
    ['rate', v({ case: 'doubleVal', value: 0.5 }), false],
    ['rate', v({ case: 'doubleVal', value: 1 }), false],
    ['rate', v({ case: 'floatVal', value: 1.5 }), true],
    ['rate', v({ case: 'doubleVal', value: -0.1 }), true],
    ['rate', v({ case: 'doubleVal', value: NaN }), true],
    ['rate', v({ case: 'doubleVal', value: Infinity }), true],
    ['rate', list('doubleListVal', [0.1, 0.2]), false],
    ['rate', list('doubleListVal', [0.1, 2]), true],
    ['rate', v({ case: 'stringVal', value: 'x' }), false],
    ['loose', v({ case: 'doubleVal', value: NaN }), false],
    ['loose', v({ case: 'doubleVal', value: Infinity }), false],
    ['loose', v({ case: 'doubleVal', value: -1 }), true],
    ['trips', v({ case: 'int64Val', value: 9007199254740993n }), false],
    // Past 2^53 a double comparison would call this equal to the maximum.
    ['trips', v({ case: 'int64Val', value: 9007199254740994n }), true],
    ['trips', v({ case: 'int64Val', value: -6n }), true],
    ['trips', v({ case: 'int32Val', value: -5 }), false],
    ['trips', v({ case: 'int32Val', value: -6 }), true],
    ['trips', list('int64ListVal', [1n, -7n]), true],
    ['trips', v({ case: 'unixTimestampVal', value: 10n }), false],
    // A string domain counts strays even where min_domain_mass tolerates some.
    ['payment', v({ case: 'stringVal', value: 'Card' }), false],
    ['payment', v({ case: 'stringVal', value: 'Bitcoin' }), true],
    ['payment', list('stringListVal', ['Cash', 'Bitcoin']), true],
  ])('%s, case %#: out of domain %s', (name, value, expected) => {
    expect(check(name)?.(value)).toBe(expected);
  });
});
