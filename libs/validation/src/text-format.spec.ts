import { create, equals, toBinary } from '@bufbuild/protobuf';
import { tfmdV0 } from '@larder/proto';
import { parseTextFormat, printTextFormat, TextFormatError } from './text-format';

const SCHEMA_TEXT = `# written by hand, in TFDV's layout
feature {
  name: "payment_type"
  type: BYTES
  domain: "payment_type"
  presence {
    min_fraction: 1.0
    min_count: 1
  }
  shape { dim { size: 1 } }
  drift_comparator { infinity_norm { threshold: 0.01 } }
}
feature <
  name: 'fare'; type: FLOAT
  float_domain { min: -0.5 max: 1e3 disallow_nan: true }
  skew_comparator { jensen_shannon_divergence { threshold: 0.1 source { type: QUANTILES } } }
>
feature { name: "trips" type: 2 int_domain { max: 10 } value_count { min: 1 max: 1 } lifecycle_stage: PRODUCTION }
string_domain {
  name: "payment_type"
  value: ["Cash", "Credit" "Card", 'caf\\303\\251 \\"x\\"\\n']
}
default_environment: "TRAINING"
dataset_constraints { min_examples_count: 0x10 }
`;

describe('protobuf text format', () => {
  it('parses the grammar TFDV writes and people type, into the same message a builder gives', () => {
    const schema = parseTextFormat(tfmdV0.SchemaSchema, SCHEMA_TEXT);
    expect(schema.feature.map((f) => f.name)).toEqual(['payment_type', 'fare', 'trips']);
    const [payment, fare, trips] = schema.feature as [tfmdV0.Feature, tfmdV0.Feature, tfmdV0.Feature];
    expect(payment.domainInfo).toEqual({ case: 'domain', value: 'payment_type' });
    expect(payment.presenceConstraints.case).toBe('presence');
    expect(payment.shapeType.case === 'shape' && payment.shapeType.value.dim[0]?.size).toBe(1n);
    expect(payment.driftComparator?.infinityNorm?.threshold).toBe(0.01);
    expect(fare.type).toBe(tfmdV0.FeatureType.FLOAT);
    expect(fare.domainInfo.case === 'floatDomain' && [fare.domainInfo.value.min, fare.domainInfo.value.max, fare.domainInfo.value.disallowNan]).toEqual([
      -0.5,
      1000,
      true,
    ]);
    expect(fare.skewComparator?.jensenShannonDivergence?.source?.type).toBe(tfmdV0.HistogramSelection_Type.QUANTILES);
    expect(trips.type).toBe(tfmdV0.FeatureType.INT);
    expect(trips.lifecycleStage).toBe(tfmdV0.LifecycleStage.PRODUCTION);
    // Adjacent literals concatenate; octal escapes are UTF-8 bytes.
    expect(schema.stringDomain[0]?.value).toEqual(['Cash', 'CreditCard', 'café "x"\n']);
    expect(schema.datasetConstraints?.minExamplesCount).toBe(16n);
    // int_domain { max: 10 } leaves min unset (proto2 presence), which validation relies on.
    const domain = trips.domainInfo.case === 'intDomain' ? trips.domainInfo.value : undefined;
    expect(domain !== undefined && Object.prototype.hasOwnProperty.call(domain, 'min')).toBe(false);
  });

  it('prints what it parses back to an equal message, byte for byte on the wire', () => {
    const schema = parseTextFormat(tfmdV0.SchemaSchema, SCHEMA_TEXT);
    const text = printTextFormat(tfmdV0.SchemaSchema, schema);
    const again = parseTextFormat(tfmdV0.SchemaSchema, text);
    expect(equals(tfmdV0.SchemaSchema, schema, again)).toBe(true);
    expect(toBinary(tfmdV0.SchemaSchema, again)).toEqual(toBinary(tfmdV0.SchemaSchema, schema));
    expect(text).toContain('  presence {\n    min_fraction: 1.0\n    min_count: 1\n  }\n');
    expect(text).toContain('value: "caf\u00e9 \\"x\\"\\n"');
  });

  it('keeps an explicit zero (proto2 presence) and float32 values exactly', () => {
    const schema = create(tfmdV0.SchemaSchema, {
      feature: [
        {
          name: 'x',
          presenceConstraints: { case: 'presence', value: { minFraction: 0, minCount: 0n } },
          domainInfo: { case: 'floatDomain', value: { min: Math.fround(0.1), max: Math.fround(3.4e38) } },
        },
      ],
    });
    const text = printTextFormat(tfmdV0.SchemaSchema, schema);
    expect(text).toContain('min_fraction: 0.0');
    expect(text).toContain('min: 0.1\n');
    const again = parseTextFormat(tfmdV0.SchemaSchema, text);
    expect(equals(tfmdV0.SchemaSchema, schema, again)).toBe(true);
  });

  it('prints maps, nan and inf, and reads them back', () => {
    const anomalies = create(tfmdV0.AnomaliesSchema, {
      anomalyInfo: {
        b: { severity: tfmdV0.AnomalyInfo_Severity.ERROR, reason: [{ type: tfmdV0.AnomalyInfo_Type.SCHEMA_NEW_COLUMN }] },
        a: { shortDescription: 'x' },
      },
      driftSkewInfo: [{ driftMeasurements: [{ value: NaN, threshold: Infinity }] }],
    });
    const text = printTextFormat(tfmdV0.AnomaliesSchema, anomalies);
    expect(text.indexOf('key: "a"')).toBeLessThan(text.indexOf('key: "b"'));
    expect(text).toContain('type: SCHEMA_NEW_COLUMN');
    expect(text).toContain('value: nan');
    expect(text).toContain('threshold: inf');
    const again = parseTextFormat(tfmdV0.AnomaliesSchema, text);
    expect(again.anomalyInfo['b']?.reason[0]?.type).toBe(tfmdV0.AnomalyInfo_Type.SCHEMA_NEW_COLUMN);
    expect(Number.isNaN(again.driftSkewInfo[0]?.driftMeasurements[0]?.value)).toBe(true);
    expect(again.driftSkewInfo[0]?.driftMeasurements[0]?.threshold).toBe(Infinity);
  });

  const refusals: [string, string, RegExp][] = [
    [
      'an unknown field, with its position',
      'feature {\n  name: "x"\n  sparse_feature: 1\n}',
      /^3:3: tensorflow\.metadata\.v0\.Feature has no field 'sparse_feature'/,
    ],
    ['an unknown enum value', 'feature { type: DOUBLE }', /'DOUBLE' is not a value of tensorflow\.metadata\.v0\.FeatureType/],
    ['an out-of-range integer', 'dataset_constraints { min_examples_count: 9223372036854775808 }', /out of range for int64/],
    ['a float for an integer', 'dataset_constraints { min_examples_count: 1.5 }', /expected an integer/],
    ['an unterminated string', 'feature { name: "x }', /unterminated string/],
    ['an unclosed message', 'feature { name: "x"', /expected a field name or '}'/],
    ['a singular field set twice', 'feature { name: "x" name: "y" }', /field 'name' is set twice/],
    ['two members of one oneof', 'feature { int_domain { } float_domain { } }', /same oneof 'domain_info'/],
    ['an expanded Any', 'annotation { extra_metadata { [type.googleapis.com/x.Y] { } } }', /not supported/],
    ['a missing colon before a scalar', 'feature { name "x" }', /expected ':' after 'name'/],
    ['invalid UTF-8 in a string field', 'feature { name: "\\377" }', /invalid UTF-8/],
  ];
  it.each(refusals)('refuses %s', (_, text, message) => {
    expect(() => parseTextFormat(tfmdV0.SchemaSchema, text)).toThrow(TextFormatError);
    expect(() => parseTextFormat(tfmdV0.SchemaSchema, text)).toThrow(message);
  });

  it('refuses nesting deep enough to exhaust the stack, without recursing into it', () => {
    const deep = 'struct_domain { feature { '.repeat(5000);
    expect(() => parseTextFormat(tfmdV0.FeatureSchema, deep)).toThrow(/nest deeper than 100 levels/);
  });
});
