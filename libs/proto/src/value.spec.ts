// Wire facts that make Value, EntityKey and FieldStatus interchangeable with
// Feast's feast.types messages. Expected bytes are written out by hand from
// Feast's field numbers, not derived from our own descriptors.
import { ScalarType, create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { typesV1 } from './index';

const { ValueSchema, EntityKeySchema, ValueTypeSchema, FieldStatus, ValueType, Null } = typesV1;

type ValueCase = NonNullable<MessageInitShape<typeof ValueSchema>['val']>;

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

// Feast's ValueType.Enum numbers, which are also its Value oneof numbers.
const feastValueTypes: Record<string, number> = {
  BYTES: 1,
  STRING: 2,
  INT32: 3,
  INT64: 4,
  DOUBLE: 5,
  FLOAT: 6,
  BOOL: 7,
  UNIX_TIMESTAMP: 8,
  BYTES_LIST: 11,
  STRING_LIST: 12,
  INT32_LIST: 13,
  INT64_LIST: 14,
  DOUBLE_LIST: 15,
  FLOAT_LIST: 16,
  BOOL_LIST: 17,
  UNIX_TIMESTAMP_LIST: 18,
  NULL: 19,
};

// One value per oneof case, with the leading tag bytes Feast's encoding has:
// (field number << 3 | wire type) as a varint.
const tagCases: Array<[string, string, ValueCase]> = [
  ['bytes_val', '0a', { case: 'bytesVal', value: new Uint8Array([1]) }],
  ['string_val', '12', { case: 'stringVal', value: 'a' }],
  ['int32_val', '18', { case: 'int32Val', value: 7 }],
  ['int64_val', '20', { case: 'int64Val', value: 7n }],
  ['double_val', '29', { case: 'doubleVal', value: 1.5 }],
  ['float_val', '35', { case: 'floatVal', value: 1.5 }],
  ['bool_val', '38', { case: 'boolVal', value: true }],
  ['unix_timestamp_val', '40', { case: 'unixTimestampVal', value: 1700000000n }],
  ['bytes_list_val', '5a', { case: 'bytesListVal', value: { val: [new Uint8Array([1])] } }],
  ['string_list_val', '62', { case: 'stringListVal', value: { val: ['a'] } }],
  ['int32_list_val', '6a', { case: 'int32ListVal', value: { val: [1] } }],
  ['int64_list_val', '72', { case: 'int64ListVal', value: { val: [1n] } }],
  ['double_list_val', '7a', { case: 'doubleListVal', value: { val: [1.5] } }],
  ['float_list_val', '8201', { case: 'floatListVal', value: { val: [1.5] } }],
  ['bool_list_val', '8a01', { case: 'boolListVal', value: { val: [true] } }],
  ['unix_timestamp_list_val', '9201', { case: 'unixTimestampListVal', value: { val: [1n] } }],
  ['null_val', '9801', { case: 'nullVal', value: Null.UNSPECIFIED }],
];

describe('larder.types.v1.Value on the wire', () => {
  it.each(tagCases)('%s starts with tag bytes %s', (_name, tag, val) => {
    const bytes = toBinary(ValueSchema, create(ValueSchema, { val }));
    expect(hex(bytes).startsWith(tag)).toBe(true);
  });

  it('covers every oneof case with a tag test', () => {
    const oneofFields = ValueSchema.oneofs[0]?.fields.map((f) => f.name) ?? [];
    expect(oneofFields.sort()).toEqual(tagCases.map(([name]) => name).sort());
  });

  it('encodes whole values byte for byte as Feast does', () => {
    const encode = (val: ValueCase): string => hex(toBinary(ValueSchema, create(ValueSchema, { val })));
    // int64_val = 1001: tag 0x20, varint e9 07.
    expect(encode({ case: 'int64Val', value: 1001n })).toBe('20e907');
    // string_val = "abc": tag 0x12, length 3.
    expect(encode({ case: 'stringVal', value: 'abc' })).toBe('1203616263');
    // null_val = NULL: a set oneof member is written even at its zero value.
    expect(encode({ case: 'nullVal', value: Null.UNSPECIFIED })).toBe('980100');
    // double_list_val = [1.5]: the list is packed, as proto3 does by default.
    expect(encode({ case: 'doubleListVal', value: { val: [1.5] } })).toBe('7a0a0a08000000000000f83f');
    // unix_timestamp_list_val uses Int64List, packed varints.
    expect(encode({ case: 'unixTimestampListVal', value: { val: [1n, 2n] } })).toBe('920104' + '0a020102');
  });

  it('decodes bytes laid out by Feast', () => {
    const int64 = fromBinary(ValueSchema, Buffer.from('20e907', 'hex'));
    expect(int64.val).toEqual({ case: 'int64Val', value: 1001n });
    const ts = fromBinary(ValueSchema, Buffer.from('4080e2cfaa06', 'hex'));
    expect(ts.val).toEqual({ case: 'unixTimestampVal', value: 1700000000n });
    const nul = fromBinary(ValueSchema, Buffer.from('980100', 'hex'));
    expect(nul.val.case).toBe('nullVal');
    const strings = fromBinary(ValueSchema, Buffer.from('62060a01610a0162', 'hex'));
    expect(strings.val.case === 'stringListVal' && strings.val.value.val).toEqual(['a', 'b']);
  });

  it('types unix_timestamp_list_val as Int64List and null_val as a varint enum', () => {
    const field = ValueSchema.field;
    expect(field.unixTimestampListVal.message?.typeName).toBe('larder.types.v1.Int64List');
    expect(field.nullVal.fieldKind).toBe('enum');
    expect(field.unixTimestampVal.scalar).toBe(ScalarType.INT64);
  });
});

describe('larder.types.v1.ValueType', () => {
  it('has Feast numbers', () => {
    const ours = Object.fromEntries(ValueTypeSchema.values.filter((v) => v.number !== 0).map((v) => [v.localName, v.number]));
    expect(ours).toEqual(feastValueTypes);
    expect(ValueType.UNSPECIFIED).toBe(0);
  });

  it('numbers every type like its Value oneof field', () => {
    for (const v of ValueTypeSchema.values.filter((value) => value.number !== 0)) {
      const field = ValueSchema.fields.find((f) => f.name === `${v.localName.toLowerCase()}_val`);
      expect({ type: v.name, field: field?.number }).toEqual({ type: v.name, field: v.number });
    }
    expect(ValueSchema.fields).toHaveLength(ValueTypeSchema.values.length - 1);
  });
});

describe('larder.types.v1.EntityKey', () => {
  it('puts join keys in field 1 and values in field 2, as Feast does', () => {
    const key = create(EntityKeySchema, {
      joinKeys: ['driver_id'],
      entityValues: [{ val: { case: 'int64Val', value: 1001n } }],
    });
    const expected = '0a09' + Buffer.from('driver_id').toString('hex') + '1203' + '20e907';
    expect(hex(toBinary(EntityKeySchema, key))).toBe(expected);
    expect(EntityKeySchema.field.joinKeys.number).toBe(1);
    expect(EntityKeySchema.field.entityValues.number).toBe(2);
  });
});

describe('larder.types.v1.FieldStatus', () => {
  it('has Feast numbers', () => {
    expect(FieldStatus.UNSPECIFIED).toBe(0);
    expect(FieldStatus.PRESENT).toBe(1);
    expect(FieldStatus.NULL_VALUE).toBe(2);
    expect(FieldStatus.NOT_FOUND).toBe(3);
    expect(FieldStatus.OUTSIDE_MAX_AGE).toBe(4);
  });
});
