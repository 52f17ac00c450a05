import { typesV1 } from './index';

describe('Value cases and ValueTypes', () => {
  it('pairs every oneof case of Value with the ValueType of the same number, both ways', () => {
    const cases = typesV1.ValueSchema.fields.filter((f) => f.oneof?.name === 'val');
    expect(Object.keys(typesV1.VALUE_TYPE_OF_CASE).sort()).toEqual(cases.map((f) => f.localName).sort());
    for (const field of cases) {
      const type = typesV1.VALUE_TYPE_OF_CASE[field.localName as typesV1.ValueCase];
      expect(type).toBe(field.number);
      expect(typesV1.VALUE_CASE_OF_TYPE.get(type)).toBe(field.localName);
    }
    expect(typesV1.VALUE_CASE_OF_TYPE.has(typesV1.ValueType.UNSPECIFIED)).toBe(false);
  });
});
