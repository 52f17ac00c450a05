import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { EVERY_VALUE_CASE } from '@larder/testing';
import type { ValueInit } from '@larder/testing';
import { servingV1, wire } from '../index';

type RequestInit = MessageInitShape<typeof servingV1.GetOnlineFeaturesRequestSchema>;
const Schema = servingV1.GetOnlineFeaturesRequestSchema;
const { decodeGetOnlineFeaturesRequest: decode } = wire;

const encode = (init: RequestInit): Buffer => Buffer.from(toBinary(Schema, create(Schema, init)));

/** fromBinary's message for the bytes, or its error. */
function reference(bytes: Buffer): servingV1.GetOnlineFeaturesRequest | Error {
  try {
    return fromBinary(Schema, bytes);
  } catch (error) {
    // protobuf-es's errors come from another realm under jest; wrap so instanceof works.
    return new Error(String(error));
  }
}

/** The hand decoder either leaves the bytes (undefined) or returns exactly fromBinary's message; returns which. */
function expectSameOrLeft(bytes: Buffer): 'decoded' | 'left' {
  const ours = decode(bytes);
  if (ours === undefined) return 'left';
  const theirs = reference(bytes);
  expect(theirs).not.toBeInstanceOf(Error);
  expect(ours).toEqual(theirs);
  return 'decoded';
}

// JSON escapes control characters, so printable ASCII is all an ASCII-only value shows.
const ascii = (v: ValueInit): boolean => !/[^ -~]/.test(JSON.stringify(v, (_, x: unknown) => (typeof x === 'bigint' ? String(x) : x)));
const ASCII_VALUES = EVERY_VALUE_CASE.filter(ascii);

// The shapes clients send: refs or a service, int64/string/every-case entity columns, request context.
const SHAPED: RequestInit[] = [
  {},
  { kind: { case: 'features', value: { val: ['view_0:f0', 'view_1:f9'] } }, entities: { driver_id: { val: [{ val: { case: 'int64Val', value: 1001n } }] } } },
  {
    fullFeatureNames: true,
    project: 'bench',
    kind: { case: 'features', value: { val: Array.from({ length: 50 }, (_, i) => `view_${i % 5}:f${i}`) } },
    entities: { driver_id: { val: Array.from({ length: 100 }, (_, i) => ({ val: { case: 'int64Val' as const, value: BigInt(i * 7919) } })) } },
  },
  { kind: { case: 'featureService', value: 'driver_activity' }, entities: { customer: { val: [{ val: { case: 'stringVal', value: 'c-1' } }] } } },
  { kind: { case: 'featureService', value: '' }, fullFeatureNames: false, project: '' },
  { kind: { case: 'features', value: { val: [] } }, entities: { a: { val: [] }, b: { val: [{}] } } },
  {
    kind: { case: 'features', value: { val: ['odfv:out'] } },
    entities: { every: { val: ASCII_VALUES }, second: { val: [...ASCII_VALUES].reverse() } },
    requestContext: { amount: { val: ASCII_VALUES }, '': { val: [] } },
  },
];

describe('decodeGetOnlineFeaturesRequest', () => {
  test('reads every shaped request itself, exactly as fromBinary does', () => {
    for (const init of SHAPED) {
      const bytes = encode(init);
      expect(expectSameOrLeft(bytes)).toBe('decoded');
    }
  });

  test('non-ASCII strings, keys that repeat or name a prototype property, unknown and repeated fields are left to fromBinary', () => {
    const left = (bytes: Buffer): void => expect(decode(bytes)).toBeUndefined();
    // Non-ASCII text anywhere (fromBinary checks proto3 strings are valid UTF-8).
    left(encode({ project: 'Zürich' }));
    left(encode({ entities: { ключ: { val: [] } } }));
    left(encode({ entities: { k: { val: [{ val: { case: 'stringVal', value: 'é' } }] } } }));
    left(encode({ entities: { k: { val: [{ val: { case: 'stringListVal', value: { val: ['ok', '東京'] } } }] } } }));
    left(Buffer.from([0x32, 0x02, 0xc3, 0x28])); // project: invalid UTF-8 (fromBinary throws)
    expect(reference(Buffer.from([0x32, 0x02, 0xc3, 0x28]))).toBeInstanceOf(Error);
    // Map entries: a repeated key (the last wins), __proto__ and other prototype names.
    const entry = (key: string, id: bigint): Buffer => encode({ entities: { [key]: { val: [{ val: { case: 'int64Val', value: id } }] } } });
    const twice = Buffer.concat([entry('driver_id', 1n), entry('driver_id', 2n)]);
    left(twice);
    expect((reference(twice) as servingV1.GetOnlineFeaturesRequest).entities.driver_id?.val[0]?.val.value).toBe(2n);
    for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      const keyBytes = Buffer.from(key);
      // map entry: key (1) then an empty RepeatedValue (2)
      const inner = Buffer.concat([Buffer.from([0x0a, keyBytes.length]), keyBytes, Buffer.from([0x12, 0x00])]);
      left(Buffer.concat([Buffer.from([0x1a, inner.length]), inner]));
    }
    // Unknown field 7, a second project, a second kind, features given twice (a merge).
    left(Buffer.concat([encode({ project: 'p' }), Buffer.from([0x38, 0x01])]));
    left(Buffer.concat([encode({ project: 'p' }), encode({ project: 'q' })]));
    left(Buffer.concat([encode({ kind: { case: 'featureService', value: 's' } }), encode({ kind: { case: 'features', value: { val: ['a:b'] } } })]));
    left(Buffer.concat([encode({ kind: { case: 'features', value: { val: ['a:b'] } } }), encode({ kind: { case: 'features', value: { val: ['c:d'] } } })]));
    // A map entry with its value before its key, and one without a value.
    left(Buffer.from([0x1a, 0x05, 0x12, 0x00, 0x0a, 0x01, 0x6b]));
    left(Buffer.from([0x1a, 0x03, 0x0a, 0x01, 0x6b]));
    // full_feature_names as a varint whose low 32 bits are zero: true for protobuf-es.
    const high = Buffer.from([0x20, 0x80, 0x80, 0x80, 0x80, 0x10]);
    expect(expectSameOrLeft(high)).toBe('decoded');
    expect(decode(high)?.fullFeatureNames).toBe(true);
  });

  test('hostile bytes: every truncation and thousands of corruptions of real requests decode exactly as fromBinary does or are left to it', () => {
    let seed = 0x2f6b1d;
    const random = (n: number): number => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      return seed % n;
    };
    let decoded = 0;
    let left = 0;
    const count = (outcome: 'decoded' | 'left'): void => {
      if (outcome === 'decoded') decoded++;
      else left++;
    };
    for (const init of SHAPED.slice(1)) {
      const bytes = encode(init);
      for (let cut = 0; cut < bytes.length; cut++) count(expectSameOrLeft(bytes.subarray(0, cut)));
      for (let i = 0; i < 250; i++) {
        const copy = Buffer.from(bytes);
        for (let flips = 1 + random(3); flips > 0; flips--) copy[random(copy.length)] = random(256);
        count(expectSameOrLeft(copy));
      }
    }
    // Both paths are exercised: many corruptions still decode (values changed in place), many are left.
    expect(decoded).toBeGreaterThan(100);
    expect(left).toBeGreaterThan(300);
  });
});
