import { equals } from '@bufbuild/protobuf';
import { registryV1, typesV1 } from '@larder/proto';
import {
  DefinitionError,
  defineBigQuerySource,
  defineEntity,
  defineFeatureService,
  defineFeatureView,
  defineFileSource,
  defineKafkaSource,
  defineOnDemandFeatureView,
  definePermission,
  definePostgresSource,
  definePushSource,
  defineRequestSource,
  definitionInfo,
  isDefinition,
  parseDuration,
} from './index';

const driver = defineEntity({ name: 'driver', joinKey: 'driver_id', valueType: 'int64', tags: { team: 'rides' } });
const source = defineFileSource({ name: 'stats', path: 'data/stats.parquet', timestampField: 'ts' });

describe('sdk builders', () => {
  it('build registry messages with friendly inputs', () => {
    expect(driver.$typeName).toBe('larder.registry.v1.Entity');
    expect(driver.valueType).toBe(typesV1.ValueType.INT64);
    expect(driver.tags).toEqual({ team: 'rides' });

    const view = defineFeatureView({
      name: 'driver_hourly_stats',
      entities: [driver, 'rider'],
      schema: [
        { name: 'conv_rate', valueType: 'float32' },
        { name: 'trips', valueType: 'int64_list', description: 'per day' },
      ],
      ttl: '1d2h',
      online: false,
      batchSource: source,
      streamSource: 'push',
    });
    expect(view.entities).toEqual(['driver', 'rider']);
    expect(view.schema.map((f) => f.valueType)).toEqual([typesV1.ValueType.FLOAT, typesV1.ValueType.INT64_LIST]);
    expect(view.ttl?.seconds).toBe(93600n);
    expect(view.online).toBe(false);
    expect(view.offline).toBeUndefined();
    expect(view.batchSource).toBe('stats');
    expect(view.streamSource).toBe('push');
    expect(definitionInfo(view)?.kind).toBe('feature-view');
    // The mark stays out of enumeration, so spreads and serializers never see it.
    expect(Object.keys(view)).not.toContain('Symbol(larder.sdk.definition)');

    // A stream-fed view needs no batch source.
    const streamed = defineFeatureView({
      name: 'fresh',
      entities: [driver],
      schema: [{ name: 'x', valueType: 'double' }],
      online: true,
      offline: false,
      streamSource: 'push',
    });
    expect(streamed.batchSource).toBe('');
    expect(streamed.streamSource).toBe('push');
    expect(Object.getOwnPropertySymbols({ ...view })).toEqual([]);
    expect(Object.getOwnPropertySymbols(view)).toHaveLength(1);
  });

  it('sets the oneof of each source kind', () => {
    expect(source.kind).toEqual({ case: 'file', value: expect.objectContaining({ path: 'data/stats.parquet', format: registryV1.FileFormat.UNSPECIFIED }) });
    expect(defineBigQuerySource({ name: 'bq', table: 'p.d.t' }).kind.case).toBe('bigquery');
    const pg = definePostgresSource({ name: 'pg', query: 'select 1' });
    expect(pg.kind.case === 'postgres' && pg.kind.value.location).toEqual({ case: 'query', value: 'select 1' });
    const kafka = defineKafkaSource({
      name: 'k',
      bootstrapServers: ['localhost:9092'],
      topic: 'trips',
      messageFormat: { avro: { schemaRegistryUrl: 'http://sr:8081' } },
      watermarkDelay: '30s',
      batchSource: source,
    });
    expect(kafka.kind.case).toBe('kafka');
    if (kafka.kind.case === 'kafka') {
      expect(kafka.kind.value.watermarkDelay?.seconds).toBe(30n);
      expect(kafka.kind.value.batchSource).toBe('stats');
      expect(kafka.kind.value.messageFormat?.format).toEqual({
        case: 'avro',
        value: expect.objectContaining({ schema: { case: 'schemaRegistryUrl', value: 'http://sr:8081' } }),
      });
    }
    const push = definePushSource({ name: 'push', batchSource: 'stats' });
    expect(push.kind.case === 'push' && push.kind.value.batchSource).toBe('stats');
    const request = defineRequestSource({ name: 'req', schema: [{ name: 'amount', valueType: 'double' }] });
    expect(request.kind.case === 'request' && request.kind.value.schema[0]?.valueType).toBe(typesV1.ValueType.DOUBLE);
  });

  it('turns objects into references for on-demand views and services', () => {
    const view = defineFeatureView({ name: 'v', schema: [{ name: 'x', valueType: 'double' }], batchSource: source });
    const request = defineRequestSource({ name: 'req', schema: [{ name: 'amount', valueType: 'double' }] });
    const odfv = defineOnDemandFeatureView({
      name: 'o',
      sources: [view, request, { featureView: { featureView: 'w', alias: 'ww', features: ['a'] } }, { requestSource: 'req2' }],
      outputs: [{ name: 'y', valueType: 'float64', expression: 'v.x + req.amount' }],
    });
    expect(odfv.sources.map((s) => s.source.case)).toEqual(['featureView', 'requestSource', 'featureView', 'requestSource']);
    expect(odfv.sources[0]?.source.value).toEqual(expect.objectContaining({ featureView: 'v', features: [] }));
    expect(odfv.sources[2]?.source.value).toEqual(expect.objectContaining({ featureView: 'w', alias: 'ww', features: ['a'] }));
    const service = defineFeatureService({ name: 's', projections: [view, { featureView: odfv, features: ['y'], joinKeyMap: { driver_id: 'rider_id' } }] });
    expect(service.projections.map((p) => [p.featureView, p.features, p.joinKeyMap])).toEqual([
      ['v', [], {}],
      ['o', ['y'], { driver_id: 'rider_id' }],
    ]);
  });

  it('gives equal messages for equal inputs, whatever the spelling', () => {
    const a = defineFeatureView({ name: 'v', entities: ['driver'], schema: [{ name: 'x', valueType: 'float64' }], ttl: 86400, batchSource: 'stats' });
    const b = defineFeatureView({
      name: 'v',
      entities: [driver],
      schema: [{ name: 'x', valueType: typesV1.ValueType.DOUBLE }],
      ttl: '24h',
      batchSource: source,
    });
    expect(equals(registryV1.FeatureViewSchema, a, b)).toBe(true);
  });

  it('marks what it builds and nothing else', () => {
    expect(isDefinition(driver)).toBe(true);
    expect(isDefinition({ ...driver })).toBe(false);
    expect(isDefinition(null)).toBe(false);
  });

  it('records the line that called the builder', () => {
    const here = new Error().stack?.split('\n')[1] ?? '';
    const entity = defineEntity({ name: 'e', valueType: 'string' });
    const callsite = definitionInfo(entity)?.callsite;
    expect(callsite?.file).toBe(__filename);
    const line = Number(/:(\d+):\d+\)?$/.exec(here)?.[1]);
    expect(callsite?.line).toBe(line + 1);
  });

  it('rejects bad input with the field at fault', () => {
    const attempt = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return error as DefinitionError;
      }
      throw new Error('expected a DefinitionError');
    };
    const badType = attempt(() =>
      defineFeatureView({
        name: 'v',
        schema: [
          { name: 'a', valueType: 'int64' },
          { name: 'b', valueType: 'decimal' as 'int64' },
        ],
        batchSource: 's',
      }),
    );
    expect(badType).toBeInstanceOf(DefinitionError);
    expect(badType.field).toBe('schema[1].value_type');
    expect(badType.message).toContain("unknown value type 'decimal'");
    expect(badType.callsite?.file).toBe(__filename);

    expect(attempt(() => defineFeatureView({ name: 'v', schema: [], ttl: 'a day', batchSource: 's' })).field).toBe('ttl');
    expect(attempt(() => defineBigQuerySource({ name: 'b' } as never)).message).toContain('exactly one of table and query');
    expect(attempt(() => defineFeatureView({ name: 'v', schema: [], batchSource: driver as never })).field).toBe('batch_source');

    const badAction = attempt(() => definePermission({ name: 'p', actions: ['describe', 'READ_ONLINE' as 'describe'], policy: { roles: ['r'] } }));
    expect([badAction.kind, badAction.field, badAction.reason]).toEqual([
      'permission',
      'actions[1]',
      expect.stringMatching(/^"READ_ONLINE" is not an action; use one of describe, create/),
    ]);
    const badKind = attempt(() => definePermission({ name: 'p', types: [99 as registryV1.ObjectKind], actions: ['describe'], policy: { roles: ['r'] } }));
    expect([badKind.field, badKind.reason]).toEqual(['types[0]', expect.stringMatching(/^99 is not an object type; use one of project, entity/)]);
    expect(attempt(() => definePermission({ name: 'p', actions: [registryV1.Action.UNSPECIFIED], policy: {} })).field).toBe('actions[0]');
  });

  it('builds permissions from lower-case names or enum numbers', () => {
    const byName = definePermission({
      name: 'readers',
      types: ['feature_view', 'on_demand_feature_view'],
      namePatterns: ['driver_*'],
      requiredTags: { team: 'rides' },
      actions: ['describe', 'read_online', 'manage_permissions'],
      policy: { roles: ['analysts'], serviceAccounts: ['serving/kserve'], anyAuthenticated: false },
      owner: 'me',
    });
    const byNumber = definePermission({
      name: 'readers',
      types: [registryV1.ObjectKind.FEATURE_VIEW, registryV1.ObjectKind.ON_DEMAND_FEATURE_VIEW],
      namePatterns: ['driver_*'],
      requiredTags: { team: 'rides' },
      actions: [registryV1.Action.DESCRIBE, registryV1.Action.READ_ONLINE, registryV1.Action.MANAGE_PERMISSIONS],
      policy: { serviceAccounts: ['serving/kserve'], roles: ['analysts'] },
      owner: 'me',
    });
    expect(equals(registryV1.PermissionSchema, byName, byNumber)).toBe(true);
    expect(byName.actions).toEqual([registryV1.Action.DESCRIBE, registryV1.Action.READ_ONLINE, registryV1.Action.MANAGE_PERMISSIONS]);
    expect(definitionInfo(byName)?.kind).toBe('permission');
    // Absent lists mean every type and every name.
    expect(definePermission({ name: 'all', actions: ['describe'], policy: { anyAuthenticated: true } })).toMatchObject({
      types: [],
      namePatterns: [],
      requiredTags: {},
    });
  });
});

describe('parseDuration', () => {
  it.each([
    ['1d', 86400n, 0],
    ['2h30m', 9000n, 0],
    ['500ms', 0n, 500_000_000],
    [90, 90n, 0],
    [1.5, 1n, 500_000_000],
    ['-1h', -3600n, 0],
  ] as const)('%s', (input, seconds, nanos) => {
    const d = parseDuration(input);
    expect([d.seconds, d.nanos]).toEqual([seconds, nanos]);
  });

  it.each(['', 'd', '1 day', '1x', '1h-1m'])('rejects %j', (input) => {
    expect(() => parseDuration(input)).toThrow(/not a duration/);
  });
});
