import { create } from '@bufbuild/protobuf';
import { tfmdV0 } from '@larder/proto';
import { categoricalCounts } from './distance';
import { commonStatistics, featureStatsName } from './validate';

export interface InferOptions {
  /** A string feature with at most this many distinct values gets a string domain listing them (TFDV's default: 100). */
  maxStringDomainSize?: number;
}

const FEATURE_TYPES: Record<number, tfmdV0.FeatureType> = {
  [tfmdV0.FeatureNameStatistics_Type.INT]: tfmdV0.FeatureType.INT,
  [tfmdV0.FeatureNameStatistics_Type.FLOAT]: tfmdV0.FeatureType.FLOAT,
  [tfmdV0.FeatureNameStatistics_Type.STRING]: tfmdV0.FeatureType.BYTES,
  [tfmdV0.FeatureNameStatistics_Type.BYTES]: tfmdV0.FeatureType.BYTES,
  [tfmdV0.FeatureNameStatistics_Type.STRUCT]: tfmdV0.FeatureType.STRUCT,
};

/**
 * A first schema from statistics, in the spirit of `tfdv.infer_schema`:
 * every feature with its physical type; presence at least once, and in every
 * example when no example lacked it; the value count seen; and, for a string
 * feature with few distinct values all listed in its statistics, a
 * schema-level string domain of them. Numeric ranges and comparators are left
 * for people to add: what was seen once is a poor bound.
 */
export function inferSchema(stats: tfmdV0.DatasetFeatureStatistics, options: InferOptions = {}): tfmdV0.Schema {
  const maxDomain = options.maxStringDomainSize ?? 100;
  const schema = create(tfmdV0.SchemaSchema);
  for (const featureStats of stats.features) {
    const name = featureStatsName(featureStats);
    const common = commonStatistics(featureStats);
    const feature = create(tfmdV0.FeatureSchema, { name, type: FEATURE_TYPES[featureStats.type] ?? tfmdV0.FeatureType.TYPE_UNKNOWN });
    const presence = create(tfmdV0.FeaturePresenceSchema, { minCount: 1n });
    if (common !== undefined && common.numMissing === 0n && common.numNonMissing > 0n) presence.minFraction = 1;
    feature.presenceConstraints = { case: 'presence', value: presence };
    if (common !== undefined && common.numNonMissing > 0n) {
      const valueCount = create(tfmdV0.ValueCountSchema);
      if (common.minNumValues >= 1n) valueCount.min = common.minNumValues < common.maxNumValues ? 1n : common.minNumValues;
      if (common.minNumValues === common.maxNumValues) valueCount.max = common.maxNumValues;
      feature.shapeType = { case: 'valueCount', value: valueCount };
    }
    if (featureStats.stats.case === 'stringStats') {
      const s = featureStats.stats.value;
      const counts = categoricalCounts(s);
      if (s.unique > 0n && s.unique <= BigInt(maxDomain) && BigInt(counts.size) === s.unique) {
        schema.stringDomain.push(create(tfmdV0.StringDomainSchema, { name, value: [...counts.keys()].sort() }));
        feature.domainInfo = { case: 'domain', value: name };
      }
    }
    schema.feature.push(feature);
  }
  return schema;
}
