import { create } from '@bufbuild/protobuf';
import { registryV1, typesV1 } from '@larder/proto';
import { featureInfos, listFeatures, searchFeatures } from './discovery';
import { matchesFilter } from './filter';
import { driverStatsSet } from './test-fixtures';

const refs = (infos: registryV1.FeatureInfo[]): string[] => infos.map((f) => `${f.featureView}:${f.name}`);

describe('matchesFilter', () => {
  const obj = { name: 'driver_hourly_stats', tags: { team: 'drivers', tier: '1' } };
  it('matches by name prefix and by every tag', () => {
    expect(matchesFilter(obj, undefined)).toBe(true);
    expect(matchesFilter(obj, create(registryV1.ObjectFilterSchema))).toBe(true);
    expect(matchesFilter(obj, { namePrefix: 'driver_' })).toBe(true);
    expect(matchesFilter(obj, { namePrefix: 'hourly' })).toBe(false);
    expect(matchesFilter(obj, { tags: { team: 'drivers' } })).toBe(true);
    expect(matchesFilter(obj, { tags: { team: 'drivers', tier: '2' } })).toBe(false);
    expect(matchesFilter(obj, { tags: { owner: '' } })).toBe(false);
    expect(matchesFilter({ name: 'x' }, { tags: { toString: 'x' } })).toBe(false);
  });
});

describe('featureInfos', () => {
  it('describes every feature with its view facts, merging tags', () => {
    const infos = featureInfos(driverStatsSet());
    expect(refs(infos)).toEqual([
      'customer_profile:lifetime_value',
      'customer_profile:segment',
      'driver_hourly_stats:acc_rate',
      'driver_hourly_stats:avg_daily_trips',
      'driver_hourly_stats:conv_rate',
      'transformed_conv_rate:conv_rate_plus_val',
      'transformed_conv_rate:is_usd',
      'transformed_conv_rate:trips_plus_val',
    ]);
    const conv = infos.find((f) => f.name === 'conv_rate')!;
    expect(conv).toMatchObject({
      project: 'driver_stats',
      valueType: typesV1.ValueType.FLOAT,
      description: 'Conversion rate',
      tags: { team: 'drivers', quality: 'gold' },
      owner: 'ml-team@example.com',
      entities: ['driver'],
      onDemand: false,
      online: true,
      featureViewDescription: 'Hourly driver statistics',
    });
    expect(conv.ttl?.seconds).toBe(86400n);
    expect(infos.find((f) => f.name === 'segment')!.ttl).toBeUndefined();
    const odfv = infos.find((f) => f.name === 'is_usd')!;
    expect(odfv).toMatchObject({ onDemand: true, entities: ['driver'], valueType: typesV1.ValueType.BOOL });
  });
});

describe('listFeatures', () => {
  const set = driverStatsSet();
  it('filters by name prefix, tags, view, entity, owner and type', () => {
    expect(refs(listFeatures(set, { filter: { namePrefix: 'conv' } }))).toEqual(['driver_hourly_stats:conv_rate', 'transformed_conv_rate:conv_rate_plus_val']);
    expect(refs(listFeatures(set, { filter: { tags: { quality: 'silver' } } }))).toEqual([
      'driver_hourly_stats:acc_rate',
      'driver_hourly_stats:avg_daily_trips',
    ]);
    expect(refs(listFeatures(set, { featureView: 'customer_profile' }))).toEqual(['customer_profile:lifetime_value', 'customer_profile:segment']);
    expect(refs(listFeatures(set, { entity: 'customer' }))).toEqual(['customer_profile:lifetime_value', 'customer_profile:segment']);
    expect(refs(listFeatures(set, { owner: 'growth@example.com' }))).toEqual(['customer_profile:lifetime_value', 'customer_profile:segment']);
    expect(refs(listFeatures(set, { valueType: typesV1.ValueType.DOUBLE }))).toEqual([
      'customer_profile:lifetime_value',
      'driver_hourly_stats:acc_rate',
      'transformed_conv_rate:conv_rate_plus_val',
    ]);
    expect(refs(listFeatures(set, { valueType: typesV1.ValueType.DOUBLE, entity: 'driver', filter: { namePrefix: 'acc' } }))).toEqual([
      'driver_hourly_stats:acc_rate',
    ]);
  });
  it('accepts a ListFeaturesRequest and honours its project', () => {
    const req = create(registryV1.ListFeaturesRequestSchema, { project: 'driver_stats', entity: 'customer' });
    expect(listFeatures(set, req)).toHaveLength(2);
    expect(listFeatures(set, { ...req, project: 'other' })).toEqual([]);
    expect(listFeatures(set)).toHaveLength(8);
  });
});

describe('searchFeatures', () => {
  const set = driverStatsSet();
  it('ranks exact names over prefixes over other matches', () => {
    expect(refs(searchFeatures(set, { query: 'conv_rate' }))).toEqual([
      'driver_hourly_stats:conv_rate', // the name itself
      'transformed_conv_rate:conv_rate_plus_val', // a name prefix
      'transformed_conv_rate:is_usd', // only the view name
      'transformed_conv_rate:trips_plus_val',
    ]);
    expect(refs(searchFeatures(set, { query: 'CONV' }))[0]).toBe('driver_hourly_stats:conv_rate');
  });
  it('needs every word to match somewhere: names, descriptions, tags', () => {
    expect(refs(searchFeatures(set, { query: 'rate acceptance' }))).toEqual(['driver_hourly_stats:acc_rate']);
    expect(refs(searchFeatures(set, { query: 'marketing' }))).toEqual(['customer_profile:segment']);
    expect(refs(searchFeatures(set, { query: 'gold' }))).toEqual(['driver_hourly_stats:conv_rate']);
    expect(refs(searchFeatures(set, { query: 'hourly trips' }))).toEqual(['driver_hourly_stats:avg_daily_trips']);
    expect(searchFeatures(set, { query: 'nothing-like-this' })).toEqual([]);
  });
  it('applies filters and the limit', () => {
    expect(refs(searchFeatures(set, { query: 'rate', tags: { quality: 'gold' } }))).toEqual(['driver_hourly_stats:conv_rate']);
    expect(refs(searchFeatures(set, { query: '', owner: 'growth@example.com' }))).toEqual(['customer_profile:lifetime_value', 'customer_profile:segment']);
    expect(searchFeatures(set, { query: 'rate', limit: 1 })).toHaveLength(1);
    expect(searchFeatures(set, { project: 'other' })).toEqual([]);
    expect(
      searchFeatures(set, create(registryV1.SearchFeaturesRequestSchema, { query: 'trips', valueType: typesV1.ValueType.INT64 })).map((f) => f.name),
    ).toEqual(['trips_plus_val', 'avg_daily_trips']);
  });
});
