import { create } from '@bufbuild/protobuf';
import { registryV1, typesV1 } from '@larder/proto';
import { FeatureResolutionError } from './resolve-errors';
import { resolveFeatures } from './resolve';
import { driverStatsSet, field } from './test-fixtures';

const T = typesV1.ValueType;

function failure(fn: () => unknown): FeatureResolutionError {
  try {
    fn();
  } catch (error) {
    if (error instanceof FeatureResolutionError) return error;
    throw error;
  }
  throw new Error('expected a FeatureResolutionError');
}

describe('resolveFeatures', () => {
  it('resolves refs into one read per view, outputs in request order, with ttl and typed join keys', () => {
    const r = resolveFeatures(
      driverStatsSet(),
      { refs: ['driver_hourly_stats:acc_rate', 'customer_profile:segment', 'driver_hourly_stats:conv_rate'] },
      { fullFeatureNames: false },
    );
    expect(r.project).toBe('driver_stats');
    expect(r.views.map((v) => [v.name, v.features.map((f) => f.name), v.joinKeys, v.ttlMs])).toEqual([
      ['driver_hourly_stats', ['acc_rate', 'conv_rate'], [{ name: 'driver_id', column: 'driver_id', valueType: T.INT64 }], 86_400_000],
      ['customer_profile', ['segment'], [{ name: 'customer_id', column: 'customer_id', valueType: T.STRING }], 0],
    ]);
    expect(r.outputs.map((o) => [o.name, o.kind === 'view' ? [o.view, o.feature] : undefined, o.valueType])).toEqual([
      ['acc_rate', [0, 0], T.DOUBLE],
      ['segment', [1, 0], T.STRING],
      ['conv_rate', [0, 1], T.FLOAT],
    ]);
    expect(r.entityColumns).toEqual([
      { name: 'driver_id', valueType: T.INT64 },
      { name: 'customer_id', valueType: T.STRING },
    ]);
    expect(r.requestFields).toEqual([]);
  });

  it('names outputs view__feature with full feature names', () => {
    const r = resolveFeatures(driverStatsSet(), { refs: ['driver_hourly_stats:conv_rate', 'transformed_conv_rate:is_usd'] }, { fullFeatureNames: true });
    expect(r.outputs.map((o) => o.name)).toEqual(['driver_hourly_stats__conv_rate', 'transformed_conv_rate__is_usd']);
  });

  it('resolves a feature service: subsets, join-key maps, on-demand views with their inputs and request fields', () => {
    const r = resolveFeatures(driverStatsSet(), { featureService: 'driver_activity' }, { fullFeatureNames: false });
    expect(r.outputs.map((o) => o.name)).toEqual(['conv_rate', 'acc_rate', 'conv_rate_plus_val', 'trips_plus_val', 'is_usd', 'lifetime_value', 'segment']);
    // The on-demand view's input view is the same read as the requested one (same key mapping), with the extra feature added.
    expect(r.views.map((v) => [v.name, v.features.map((f) => f.name), v.joinKeys.map((k) => `${k.name}->${k.column}`)])).toEqual([
      ['driver_hourly_stats', ['conv_rate', 'acc_rate', 'avg_daily_trips'], ['driver_id->driver_id']],
      ['customer_profile', ['lifetime_value', 'segment'], ['customer_id->rider_id']],
    ]);
    expect(r.entityColumns.map((c) => c.name)).toEqual(['driver_id', 'rider_id']);
    expect(r.requestFields.map((f) => f.name).sort()).toEqual(['amount', 'currency', 'val_to_add']);
    const [od] = r.onDemand;
    expect(od?.name).toBe('transformed_conv_rate');
    expect(od?.inputs.map((i) => [i.kind, i.variable])).toEqual([
      ['request', 'transaction'],
      ['view', 'driver_hourly_stats'],
    ]);
    const value = od?.compiled.evaluate({
      transaction: {
        val_to_add: create(typesV1.ValueSchema, { val: { case: 'int64Val', value: 2n } }),
        currency: create(typesV1.ValueSchema, { val: { case: 'stringVal', value: 'USD' } }),
      },
      driver_hourly_stats: { conv_rate: create(typesV1.ValueSchema, { val: { case: 'floatVal', value: 0.5 } }) },
    });
    expect(value?.['conv_rate_plus_val']?.val).toEqual({ case: 'doubleVal', value: 2.5 });
    expect(value?.['is_usd']?.val).toEqual({ case: 'boolVal', value: true });
  });

  it('aliases name outputs and keep two projections of one view apart', () => {
    const set = driverStatsSet();
    set.featureServices.push(
      create(registryV1.FeatureServiceSchema, {
        name: 'two_drivers',
        projections: [
          { featureView: 'driver_hourly_stats', features: ['conv_rate'] },
          { featureView: 'driver_hourly_stats', alias: 'other', features: ['conv_rate'], joinKeyMap: { driver_id: 'other_driver_id' } },
        ],
      }),
    );
    const r = resolveFeatures(set, { featureService: 'two_drivers' }, { fullFeatureNames: true });
    expect(r.outputs.map((o) => o.name)).toEqual(['driver_hourly_stats__conv_rate', 'other__conv_rate']);
    expect(r.views.map((v) => v.joinKeys[0]?.column)).toEqual(['driver_id', 'other_driver_id']);
    const e = failure(() => resolveFeatures(set, { featureService: 'two_drivers' }, { fullFeatureNames: false }));
    expect(e.problem).toBe('collision');
    expect(e.message).toContain("would both be named 'conv_rate'");
  });

  it('names what is wrong: bad refs, unknown views, features and services, collisions, duplicates, nothing requested', () => {
    const set = driverStatsSet();
    set.featureViews.push(
      create(registryV1.FeatureViewSchema, {
        name: 'other_stats',
        entities: ['driver'],
        schema: [field('conv_rate', T.DOUBLE)],
        batchSource: 'driver_stats_source',
      }),
    );
    const cases: [() => unknown, string, RegExp][] = [
      [() => resolveFeatures(set, { refs: ['conv_rate'] }, { fullFeatureNames: false }), 'bad-ref', /features\[0\].*expected 'view:feature'/],
      [
        () => resolveFeatures(set, { refs: ['driver_hourly_stat:conv_rate'] }, { fullFeatureNames: false }),
        'unknown-view',
        /feature view 'driver_hourly_stat' is not defined.*did you mean 'driver_hourly_stats'/,
      ],
      [() => resolveFeatures(set, { refs: ['driver_hourly_stats:conv'] }, { fullFeatureNames: false }), 'unknown-feature', /no feature 'conv'.*conv_rate/],
      [
        () => resolveFeatures(set, { featureService: 'driver_activty' }, { fullFeatureNames: false }),
        'unknown-service',
        /feature service 'driver_activty' is not defined.*did you mean 'driver_activity'/,
      ],
      [
        () => resolveFeatures(set, { refs: ['driver_hourly_stats:conv_rate', 'other_stats:conv_rate'] }, { fullFeatureNames: false }),
        'collision',
        /'driver_hourly_stats:conv_rate' and 'other_stats:conv_rate' would both be named 'conv_rate'/,
      ],
      [() => resolveFeatures(set, { refs: ['other_stats:conv_rate', 'other_stats:conv_rate'] }, { fullFeatureNames: true }), 'collision', /requested twice/],
      [() => resolveFeatures(set, { refs: [] }, { fullFeatureNames: false }), 'empty', /no features requested/],
    ];
    for (const [fn, problem, message] of cases) {
      const e = failure(fn);
      expect([e.problem, e.message]).toEqual([problem, expect.stringMatching(message)]);
    }
    // With full names the two conv_rates coexist.
    expect(resolveFeatures(set, { refs: ['driver_hourly_stats:conv_rate', 'other_stats:conv_rate'] }, { fullFeatureNames: true }).outputs).toHaveLength(2);
  });

  it('compiles on-demand views that read other on-demand views, dependencies first', () => {
    const set = driverStatsSet();
    set.onDemandFeatureViews.push(
      create(registryV1.OnDemandFeatureViewSchema, {
        name: 'doubled',
        sources: [{ source: { case: 'featureView', value: { featureView: 'transformed_conv_rate', features: ['trips_plus_val'] } } }],
        outputs: [{ name: 'twice', valueType: T.INT64, expression: 'transformed_conv_rate.trips_plus_val * 2' }],
      }),
    );
    const r = resolveFeatures(set, { refs: ['doubled:twice'] }, { fullFeatureNames: false });
    expect(r.onDemand.map((o) => o.name)).toEqual(['transformed_conv_rate', 'doubled']);
    expect(r.onDemand[1]?.inputs).toEqual([{ kind: 'on-demand', variable: 'transformed_conv_rate', onDemand: 0, features: ['trips_plus_val'] }]);
    expect(r.entityColumns.map((c) => c.name)).toEqual(['driver_id']);
  });
});
