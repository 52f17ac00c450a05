import { typesV1 } from '@larder/proto';
import { VALUE_TYPE_NAMES, VALUE_TYPE_SPELLINGS, isUsableValueType, lookupValueType, parseValueTypeName, valueTypeName } from './value-types';

const T = typesV1.ValueType;

describe('value type names', () => {
  it('gives each usable type one canonical name that reads back to it', () => {
    expect(VALUE_TYPE_NAMES).toHaveLength(16);
    for (const name of VALUE_TYPE_NAMES) {
      const type = lookupValueType(name);
      expect(type !== undefined && isUsableValueType(type)).toBe(true);
      expect(valueTypeName(type as typesV1.ValueType)).toBe(name);
    }
    expect(valueTypeName(T.UNIX_TIMESTAMP_LIST)).toBe('unix_timestamp_list');
    expect(valueTypeName(T.NULL)).toBe('null');
    expect(valueTypeName(T.UNSPECIFIED)).toBe('unspecified');
    expect(valueTypeName(99 as typesV1.ValueType)).toBe('99');
  });

  it('accepts in definitions the aliases users wrote, exactly as written', () => {
    const aliases: Array<[string, typesV1.ValueType]> = [
      ['float64', T.DOUBLE],
      ['float32', T.FLOAT],
      ['boolean', T.BOOL],
      ['timestamp', T.UNIX_TIMESTAMP],
      ['float64_list', T.DOUBLE_LIST],
      ['float32_list', T.FLOAT_LIST],
      ['timestamp_list', T.UNIX_TIMESTAMP_LIST],
    ];
    for (const [alias, type] of aliases) {
      expect(lookupValueType(alias)).toBe(type);
      expect(VALUE_TYPE_SPELLINGS).toContain(alias);
    }
    expect(VALUE_TYPE_SPELLINGS).toHaveLength(VALUE_TYPE_NAMES.length + aliases.length);
    // Definitions are exact: no case folding, no enum prefix, and no null or unspecified.
    for (const rejected of ['INT64', 'VALUE_TYPE_INT64', 'null', 'unspecified', 'int128', 'toString', '__proto__']) {
      expect(lookupValueType(rejected)).toBeUndefined();
    }
  });

  it('reads command-line spellings loosely over the same table', () => {
    expect(parseValueTypeName('INT64')).toBe(T.INT64);
    expect(parseValueTypeName('VALUE_TYPE_DOUBLE_LIST')).toBe(T.DOUBLE_LIST);
    expect(parseValueTypeName('Float32')).toBe(T.FLOAT);
    expect(parseValueTypeName('unixtimestamp')).toBe(T.UNIX_TIMESTAMP);
    expect(parseValueTypeName('Boolean')).toBe(T.BOOL);
    expect(parseValueTypeName('timestamp_list')).toBe(T.UNIX_TIMESTAMP_LIST);
    for (const name of VALUE_TYPE_SPELLINGS) expect(parseValueTypeName(name)).toBe(lookupValueType(name));
    expect(parseValueTypeName('int128')).toBeUndefined();
    expect(parseValueTypeName('unspecified')).toBeUndefined();
  });
});
