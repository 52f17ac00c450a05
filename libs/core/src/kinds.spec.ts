import { registryV1 } from '@larder/proto';
import { FeatureRefError, formatFeatureRef, parseFeatureRef, tryParseFeatureRef } from './feature-ref';
import { KIND_NAMES, kindLabel, kindName, parseKindName } from './kinds';
import { parseValueTypeName, valueTypeName } from './value-types';
import { typesV1 } from '@larder/proto';

const K = registryV1.ObjectKind;

describe('kind names', () => {
  it('names every kind and reads the names back', () => {
    expect(KIND_NAMES).toEqual([
      'project',
      'entity',
      'data-source',
      'feature-view',
      'on-demand-feature-view',
      'feature-service',
      'saved-dataset',
      'permission',
    ]);
    for (const kind of [K.PROJECT, K.ENTITY, K.DATA_SOURCE, K.FEATURE_VIEW, K.ON_DEMAND_FEATURE_VIEW, K.FEATURE_SERVICE, K.SAVED_DATASET, K.PERMISSION]) {
      expect(parseKindName(kindName(kind))).toBe(kind);
    }
    expect(kindName(K.ON_DEMAND_FEATURE_VIEW)).toBe('on-demand-feature-view');
    expect(kindLabel(K.DATA_SOURCE)).toBe('data source');
  });

  it('accepts plurals, underscores, PascalCase and short forms', () => {
    expect(parseKindName('feature_views')).toBe(K.FEATURE_VIEW);
    expect(parseKindName('FeatureView')).toBe(K.FEATURE_VIEW);
    expect(parseKindName('entities')).toBe(K.ENTITY);
    expect(parseKindName('OnDemandFeatureView')).toBe(K.ON_DEMAND_FEATURE_VIEW);
    expect(parseKindName('odfv')).toBe(K.ON_DEMAND_FEATURE_VIEW);
    expect(parseKindName('data-sources')).toBe(K.DATA_SOURCE);
    expect(parseKindName('saved_datasets')).toBe(K.SAVED_DATASET);
    expect(parseKindName('projects')).toBe(K.PROJECT);
    expect(parseKindName('permissions')).toBe(K.PERMISSION);
    expect(parseKindName('Permission')).toBe(K.PERMISSION);
  });

  it('rejects unknown kinds', () => {
    expect(parseKindName('feature')).toBeUndefined();
    expect(parseKindName('')).toBeUndefined();
    expect(() => kindName(K.UNSPECIFIED)).toThrow(/has no name/);
  });
});

describe('feature refs', () => {
  it('parses and formats view:feature', () => {
    expect(parseFeatureRef('driver_hourly_stats:conv_rate')).toEqual({ featureView: 'driver_hourly_stats', feature: 'conv_rate' });
    expect(formatFeatureRef({ featureView: 'v', feature: 'f' })).toBe('v:f');
    expect(formatFeatureRef('v', 'f')).toBe('v:f');
  });

  it('rejects malformed refs with a message saying what is expected', () => {
    expect(() => parseFeatureRef('conv_rate')).toThrow(
      "invalid feature reference 'conv_rate': no colon; expected 'view:feature', e.g. 'driver_hourly_stats:conv_rate'",
    );
    expect(() => parseFeatureRef('a:b:c')).toThrow(/more than one colon/);
    expect(() => parseFeatureRef(':f')).toThrow(/the view name is empty/);
    expect(() => parseFeatureRef('v:')).toThrow(FeatureRefError);
    expect(tryParseFeatureRef('v:')).toBeUndefined();
    expect(tryParseFeatureRef('v:f')).toEqual({ featureView: 'v', feature: 'f' });
  });
});

describe('value type names', () => {
  it('names types and reads common spellings', () => {
    expect(valueTypeName(typesV1.ValueType.INT64)).toBe('int64');
    expect(valueTypeName(typesV1.ValueType.UNSPECIFIED)).toBe('unspecified');
    expect(parseValueTypeName('INT64')).toBe(typesV1.ValueType.INT64);
    expect(parseValueTypeName('VALUE_TYPE_DOUBLE_LIST')).toBe(typesV1.ValueType.DOUBLE_LIST);
    expect(parseValueTypeName('float64')).toBe(typesV1.ValueType.DOUBLE);
    expect(parseValueTypeName('float32')).toBe(typesV1.ValueType.FLOAT);
    expect(parseValueTypeName('unixtimestamp')).toBe(typesV1.ValueType.UNIX_TIMESTAMP);
    expect(parseValueTypeName('int128')).toBeUndefined();
    expect(parseValueTypeName('unspecified')).toBeUndefined();
  });
});
