import { create } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { TimestampSchema } from '@bufbuild/protobuf/wkt';
import { feastJson, servingV1, typesV1 } from './index';

const S = typesV1.FieldStatus;
const value = (init: MessageInitShape<typeof typesV1.ValueSchema>): typesV1.Value => create(typesV1.ValueSchema, init);

test('each Value case as Feast writes it', () => {
  const cases: [MessageInitShape<typeof typesV1.ValueSchema>, unknown][] = [
    [{}, null],
    [{ val: { case: 'nullVal', value: typesV1.Null.UNSPECIFIED } }, null],
    [{ val: { case: 'int64Val', value: 1001n } }, 1001],
    [{ val: { case: 'int64Val', value: 2n ** 53n + 1n } }, '9007199254740993'],
    [{ val: { case: 'int64Val', value: -9223372036854775808n } }, '-9223372036854775808'],
    [{ val: { case: 'unixTimestampVal', value: 1_700_000_000n } }, 1_700_000_000],
    [{ val: { case: 'int32Val', value: -7 } }, -7],
    [{ val: { case: 'doubleVal', value: 0.1 } }, 0.1],
    [{ val: { case: 'doubleVal', value: Number.NaN } }, 'NaN'],
    [{ val: { case: 'doubleVal', value: -Infinity } }, '-Infinity'],
    // A float32 as its shortest decimal, not the double it widens to.
    [{ val: { case: 'floatVal', value: Math.fround(0.123) } }, 0.123],
    [{ val: { case: 'floatVal', value: Infinity } }, 'Infinity'],
    [{ val: { case: 'stringVal', value: 'Zürich' } }, 'Zürich'],
    [{ val: { case: 'boolVal', value: false } }, false],
    [{ val: { case: 'bytesVal', value: new Uint8Array([0, 255, 7]) } }, 'AP8H'],
    [{ val: { case: 'int64ListVal', value: { val: [1n, 2n ** 62n] } } }, [1, '4611686018427387904']],
    [{ val: { case: 'unixTimestampListVal', value: { val: [-5n] } } }, [-5]],
    [{ val: { case: 'doubleListVal', value: { val: [0.5, Number.NaN] } } }, [0.5, 'NaN']],
    [{ val: { case: 'floatListVal', value: { val: [Math.fround(0.1), 1.5] } } }, [0.1, 1.5]],
    [{ val: { case: 'bytesListVal', value: { val: [new Uint8Array([1]), new Uint8Array()] } } }, ['AQ==', '']],
    [{ val: { case: 'stringListVal', value: { val: ['a', ''] } } }, ['a', '']],
    [{ val: { case: 'int32ListVal', value: { val: [] } } }, []],
    [{ val: { case: 'boolListVal', value: { val: [true, false] } } }, [true, false]],
  ];
  for (const [init, json] of cases) expect(feastJson.valueToJson(value(init))).toEqual(json);
});

test('timestamps carry only the fraction digits they need', () => {
  expect(feastJson.timestampToJson(create(TimestampSchema, { seconds: 0n, nanos: 0 }))).toBe('1970-01-01T00:00:00Z');
  expect(feastJson.timestampToJson(create(TimestampSchema, { seconds: 1_767_261_600n, nanos: 120_000_000 }))).toBe('2026-01-01T10:00:00.120Z');
  expect(feastJson.timestampToJson(create(TimestampSchema, { seconds: 1n, nanos: 5_000 }))).toBe('1970-01-01T00:00:01.000005Z');
  expect(feastJson.timestampToJson(create(TimestampSchema, { seconds: -1n, nanos: 999_999_999 }))).toBe('1969-12-31T23:59:59.999999999Z');
});

test('a response in the shape of Feast POST /get-online-features', () => {
  const response = create(servingV1.GetOnlineFeaturesResponseSchema, {
    metadata: { featureNames: { val: ['driver_id', 'driver_stats__conv_rate'] } },
    results: [
      { values: [{ val: { case: 'int64Val', value: 1001n } }], statuses: [S.PRESENT], eventTimestamps: [{}] },
      { values: [{}, {}], statuses: [S.NOT_FOUND, S.UNSPECIFIED], eventTimestamps: [{ seconds: 60n }, {}] },
    ],
  });
  expect(feastJson.onlineResponseToJson(response)).toEqual({
    metadata: { feature_names: ['driver_id', 'driver_stats__conv_rate'] },
    results: [
      { values: [1001], statuses: ['PRESENT'], event_timestamps: ['1970-01-01T00:00:00Z'] },
      { values: [null, null], statuses: ['NOT_FOUND', 'INVALID'], event_timestamps: ['1970-01-01T00:01:00Z', '1970-01-01T00:00:00Z'] },
    ],
  });
  expect(feastJson.onlineResponseToJson(create(servingV1.GetOnlineFeaturesResponseSchema, {}))).toEqual({ metadata: { feature_names: [] }, results: [] });
});

describe("Feast's exact numbers (?format=feast)", () => {
  // Python's repr of each double (python3 -c 'print(repr(x))'): what json.dumps writes for Feast.
  test.each([
    [0, '0.0'],
    [-0, '-0.0'],
    [1, '1.0'],
    [-1, '-1.0'],
    [0.5, '0.5'],
    [0.1, '0.1'],
    [100, '100.0'],
    [1e15, '1000000000000000.0'],
    [1234567890123456, '1234567890123456.0'],
    [2 ** 53, '9007199254740992.0'],
    [1e16, '1e+16'],
    [1e17, '1e+17'],
    [12345678901234568, '1.2345678901234568e+16'],
    [2 ** 60, '1.152921504606847e+18'],
    [1e21, '1e+21'],
    [1e22, '1e+22'],
    [1.7976931348623157e308, '1.7976931348623157e+308'],
    [123.456, '123.456'],
    [1e-4, '0.0001'],
    [0.00012345, '0.00012345'],
    [1e-5, '1e-05'],
    [1.5e-7, '1.5e-07'],
    [5e-324, '5e-324'],
    [Math.fround(0.1), '0.10000000149011612'],
  ])('%p is %s', (n, repr) => {
    expect(feastJson.pythonFloatRepr(n)).toBe(repr);
  });

  test('a whole response as Feast writes it: results first, widened float32, every int64 a number', () => {
    const response = create(servingV1.GetOnlineFeaturesResponseSchema, {
      metadata: { featureNames: { val: ['driver_id', 'f'] } },
      results: [
        { values: [value({ val: { case: 'int64Val', value: 2n ** 60n + 1n } })], statuses: [S.PRESENT], eventTimestamps: [create(TimestampSchema)] },
        {
          values: [value({ val: { case: 'floatListVal', value: { val: [Math.fround(0.1), Number.NaN] } } })],
          statuses: [S.PRESENT],
          eventTimestamps: [create(TimestampSchema, { seconds: 1_700_000_000n })],
        },
      ],
    });
    expect(feastJson.onlineResponseToFeastJsonText(response)).toBe(
      '{"results":[{"values":[1152921504606846977],"statuses":["PRESENT"],"event_timestamps":["1970-01-01T00:00:00Z"]},' +
        '{"values":[[0.10000000149011612,"NaN"]],"statuses":["PRESENT"],"event_timestamps":["2023-11-14T22:13:20Z"]}],' +
        '"metadata":{"feature_names":["driver_id","f"]}}',
    );
  });
});
