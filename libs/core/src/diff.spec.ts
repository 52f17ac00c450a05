import { clone, create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { registryV1, typesV1 } from '@larder/proto';
import { diffRegistrySets, hasChanges } from './diff';
import type { RegistrySet } from './registry-set';
import { driverStatsSet, field, seconds } from './test-fixtures';

const K = registryV1.ObjectKind;
const C = registryV1.ChangeType;

type Row = [registryV1.ObjectKind, string, registryV1.ChangeType, ...string[]];
const rows = (diffs: registryV1.ObjectDiff[]): Row[] => diffs.map((d) => [d.kind, d.name, d.change, ...d.changedFields]);

/** The diffs of one edit of the fixture, leaving out the UNCHANGED ones. */
function changesAfter(edit: (s: RegistrySet) => void, prune = false): Row[] {
  const after = driverStatsSet();
  edit(after);
  return rows(diffRegistrySets(driverStatsSet(), after, { prune })).filter(([, , change]) => change !== C.UNCHANGED);
}

const fv = (s: RegistrySet, name = 'driver_hourly_stats'): registryV1.FeatureView => s.featureViews.find((v) => v.name === name)!;
const ds = (s: RegistrySet, name: string): registryV1.DataSource => s.dataSources.find((v) => v.name === name)!;

describe('diffRegistrySets', () => {
  it('creates every object of a new project, in kind then name order', () => {
    expect(rows(diffRegistrySets(undefined, driverStatsSet(), { prune: true }))).toEqual([
      [K.PROJECT, 'driver_stats', C.CREATE],
      [K.ENTITY, 'customer', C.CREATE],
      [K.ENTITY, 'driver', C.CREATE],
      [K.DATA_SOURCE, 'customer_source', C.CREATE],
      [K.DATA_SOURCE, 'driver_stats_push', C.CREATE],
      [K.DATA_SOURCE, 'driver_stats_source', C.CREATE],
      [K.DATA_SOURCE, 'transaction', C.CREATE],
      [K.DATA_SOURCE, 'trips_stream', C.CREATE],
      [K.FEATURE_VIEW, 'customer_profile', C.CREATE],
      [K.FEATURE_VIEW, 'driver_hourly_stats', C.CREATE],
      [K.ON_DEMAND_FEATURE_VIEW, 'transformed_conv_rate', C.CREATE],
      [K.FEATURE_SERVICE, 'driver_activity', C.CREATE],
      [K.SAVED_DATASET, 'training_2024', C.CREATE],
      [K.PERMISSION, 'driver-readers', C.CREATE],
    ]);
  });

  it('reports every object UNCHANGED when nothing changed', () => {
    const diffs = diffRegistrySets(driverStatsSet(), driverStatsSet(), { prune: true });
    expect(diffs).toHaveLength(14);
    expect(diffs.every((d) => d.change === C.UNCHANGED && d.changedFields.length === 0)).toBe(true);
    expect(hasChanges(diffs)).toBe(false);
  });

  it('ignores ObjectMeta, which the server maintains', () => {
    const after = driverStatsSet();
    const meta = create(registryV1.ObjectMetaSchema, { project: 'driver_stats', registryVersion: 42n, createdTime: timestampFromDate(new Date()) });
    after.project.meta = meta;
    after.entities.forEach((e) => (e.meta = clone(registryV1.ObjectMetaSchema, meta)));
    fv(after).meta = meta;
    expect(hasChanges(diffRegistrySets(driverStatsSet(), after, { prune: true }))).toBe(false);
  });

  it('names a changed ttl, source and description', () => {
    expect(
      changesAfter((s) => {
        fv(s).ttl = seconds(7200);
        fv(s).batchSource = 'customer_source';
        fv(s).description = 'new';
      }),
    ).toEqual([[K.FEATURE_VIEW, 'driver_hourly_stats', C.UPDATE, 'ttl', 'batch_source', 'description']]);
  });

  it('names a ttl that was set or removed', () => {
    expect(changesAfter((s) => delete fv(s).ttl)).toEqual([[K.FEATURE_VIEW, 'driver_hourly_stats', C.UPDATE, 'ttl']]);
    expect(changesAfter((s) => (fv(s, 'customer_profile').ttl = seconds(60)))).toEqual([[K.FEATURE_VIEW, 'customer_profile', C.UPDATE, 'ttl']]);
  });

  it('names changed, added and removed tags by key', () => {
    expect(
      changesAfter((s) => {
        fv(s).tags = { team: 'pricing', tier: '1' };
      }),
    ).toEqual([[K.FEATURE_VIEW, 'driver_hourly_stats', C.UPDATE, 'tags.quality', 'tags.team', 'tags.tier']]);
  });

  it('names the schema when a feature is added, removed, retyped or reordered', () => {
    const expected: Row[] = [[K.FEATURE_VIEW, 'driver_hourly_stats', C.UPDATE, 'schema']];
    expect(changesAfter((s) => fv(s).schema.push(field('speed', typesV1.ValueType.DOUBLE)))).toEqual(expected);
    expect(changesAfter((s) => fv(s).schema.pop())).toEqual(expected);
    expect(changesAfter((s) => (fv(s).schema[0]!.valueType = typesV1.ValueType.DOUBLE))).toEqual(expected);
    expect(changesAfter((s) => fv(s).schema.reverse())).toEqual(expected);
    expect(changesAfter((s) => (fv(s).schema[0]!.description = 'changed'))).toEqual(expected);
  });

  it('names entities and optional flags', () => {
    expect(changesAfter((s) => fv(s).entities.push('customer'))).toEqual([[K.FEATURE_VIEW, 'driver_hourly_stats', C.UPDATE, 'entities']]);
    expect(changesAfter((s) => (fv(s).online = false))).toEqual([[K.FEATURE_VIEW, 'driver_hourly_stats', C.UPDATE, 'online']]);
  });

  it('names fields inside a source kind, and the kind when it switches', () => {
    expect(
      changesAfter((s) => {
        const k = ds(s, 'trips_stream').kind;
        if (k.case === 'kafka') {
          k.value.topic = 'trips_v2';
          k.value.watermarkDelay = seconds(30);
          k.value.messageFormat = create(registryV1.KafkaMessageFormatSchema, {
            format: { case: 'avro', value: { schema: { case: 'inlineSchema', value: '{}' } } },
          });
        }
      }),
    ).toEqual([[K.DATA_SOURCE, 'trips_stream', C.UPDATE, 'kind.kafka.topic', 'kind.kafka.message_format.format', 'kind.kafka.watermark_delay']]);
    expect(
      changesAfter((s) => {
        const k = ds(s, 'customer_source').kind;
        if (k.case === 'postgres') k.value.location = { case: 'table', value: 'public.customers_v2' };
      }),
    ).toEqual([[K.DATA_SOURCE, 'customer_source', C.UPDATE, 'kind.postgres.location.table']]);
    expect(
      changesAfter((s) => {
        ds(s, 'customer_source').kind = {
          case: 'bigquery',
          value: create(registryV1.BigQuerySourceSchema, { location: { case: 'table', value: 'p.d.customers' } }),
        };
      }),
    ).toEqual([[K.DATA_SOURCE, 'customer_source', C.UPDATE, 'kind']]);
    expect(changesAfter((s) => (ds(s, 'customer_source').fieldMapping = { cid: 'customer_id' }))).toEqual([
      [K.DATA_SOURCE, 'customer_source', C.UPDATE, 'field_mapping.cid'],
    ]);
  });

  it('diffs the project, on-demand views, services and datasets', () => {
    expect(
      changesAfter((s) => {
        s.project.description = 'Driver features';
        s.onDemandFeatureViews[0]!.outputs[0]!.expression = 'driver_hourly_stats.conv_rate';
        s.featureServices[0]!.projections[0]!.features = ['conv_rate'];
        s.savedDatasets[0]!.rowCount = 10n;
      }),
    ).toEqual([
      [K.PROJECT, 'driver_stats', C.UPDATE, 'description'],
      [K.ON_DEMAND_FEATURE_VIEW, 'transformed_conv_rate', C.UPDATE, 'outputs'],
      [K.FEATURE_SERVICE, 'driver_activity', C.UPDATE, 'projections'],
      [K.SAVED_DATASET, 'training_2024', C.UPDATE, 'row_count'],
    ]);
  });

  it('creates objects added to an existing project', () => {
    expect(changesAfter((s) => s.entities.push(create(registryV1.EntitySchema, { name: 'rider', valueType: typesV1.ValueType.STRING })))).toEqual([
      [K.ENTITY, 'rider', C.CREATE],
    ]);
  });

  const removeMost = (s: RegistrySet): void => {
    s.entities.splice(0, 1);
    s.featureViews.splice(1, 1);
    s.onDemandFeatureViews.splice(0);
    s.featureServices.splice(0);
    s.savedDatasets.splice(0);
  };

  it('leaves objects missing from the new set alone without prune', () => {
    expect(changesAfter(removeMost, false)).toEqual([]);
    const after = driverStatsSet();
    removeMost(after);
    const names = diffRegistrySets(driverStatsSet(), after, { prune: false }).map((d) => d.name);
    expect(names).not.toContain('driver');
    expect(names).not.toContain('customer_profile');
    expect(names).toContain('customer');
  });

  it('deletes objects missing from the new set with prune, except saved datasets', () => {
    expect(changesAfter(removeMost, true)).toEqual([
      [K.ENTITY, 'driver', C.DELETE],
      [K.FEATURE_VIEW, 'customer_profile', C.DELETE],
      [K.ON_DEMAND_FEATURE_VIEW, 'transformed_conv_rate', C.DELETE],
      [K.FEATURE_SERVICE, 'driver_activity', C.DELETE],
    ]);
  });

  it('sorts deletes among the other objects of their kind', () => {
    const diffs = rows(
      diffRegistrySets(
        driverStatsSet(),
        (() => {
          const s = driverStatsSet();
          s.entities.splice(1, 1);
          s.entities.push(create(registryV1.EntitySchema, { name: 'aardvark', valueType: typesV1.ValueType.STRING }));
          return s;
        })(),
        { prune: true },
      ),
    ).filter(([kind]) => kind === K.ENTITY);
    expect(diffs).toEqual([
      [K.ENTITY, 'aardvark', C.CREATE],
      [K.ENTITY, 'customer', C.DELETE],
      [K.ENTITY, 'driver', C.UNCHANGED],
    ]);
  });

  it('names changed permission fields: actions, types, patterns, tags and policy lists', () => {
    const perm = (s: RegistrySet): registryV1.Permission => s.permissions[0]!;
    expect(
      changesAfter((s) => {
        perm(s).actions.push(registryV1.Action.READ_OFFLINE);
        perm(s).types = [K.FEATURE_VIEW];
        perm(s).namePatterns = ['driver_?', 'rider_*'];
        perm(s).requiredTags = { team: 'riders' };
        perm(s).policy!.roles.push('auditors');
        perm(s).policy!.anyAuthenticated = true;
      }),
    ).toEqual([
      [K.PERMISSION, 'driver-readers', C.UPDATE, 'types', 'name_patterns', 'required_tags.team', 'actions', 'policy.roles', 'policy.any_authenticated'],
    ]);
  });

  it('deletes a permission missing from the new set with prune only', () => {
    const drop = (s: RegistrySet): void => {
      s.permissions = [];
    };
    expect(changesAfter(drop, false)).toEqual([]);
    expect(changesAfter(drop, true)).toEqual([[K.PERMISSION, 'driver-readers', C.DELETE]]);
  });

  it('lists a name given twice once', () => {
    const after = driverStatsSet();
    after.entities.push({ ...after.entities[0]!, description: 'second' });
    const entityDiffs = rows(diffRegistrySets(driverStatsSet(), after, { prune: false })).filter(([kind]) => kind === K.ENTITY);
    expect(entityDiffs).toEqual([
      [K.ENTITY, 'customer', C.UNCHANGED],
      [K.ENTITY, 'driver', C.UPDATE, 'description'],
    ]);
  });
});
