import { create } from '@bufbuild/protobuf';
import { registryV1, typesV1 } from '@larder/proto';
import type { RegistryIssue, RegistrySet } from './registry-set';
import { driverStatsSet, field, seconds } from './test-fixtures';
import { validateRegistrySet } from './validate';

const K = registryV1.ObjectKind;
const T = typesV1.ValueType;

function issuesAfter(mutate: (s: RegistrySet) => void): RegistryIssue[] {
  const set = driverStatsSet();
  mutate(set);
  return validateRegistrySet(set);
}

/** The one issue a mutation causes; fails when it causes none or several. */
function onlyIssue(mutate: (s: RegistrySet) => void): RegistryIssue {
  const issues = issuesAfter(mutate);
  expect(issues.map((i) => `${i.field}: ${i.message}`)).toHaveLength(1);
  return issues[0]!;
}

function expectOnly(mutate: (s: RegistrySet) => void, kind: registryV1.ObjectKind, name: string, fieldPath: string, message: RegExp | string): void {
  const issue = onlyIssue(mutate);
  expect({ kind: issue.kind, name: issue.name, field: issue.field }).toEqual({ kind, name, field: fieldPath });
  if (typeof message === 'string') expect(issue.message).toBe(message);
  else expect(issue.message).toMatch(message);
}

const fv = (s: RegistrySet, name = 'driver_hourly_stats'): registryV1.FeatureView => s.featureViews.find((v) => v.name === name)!;
const ds = (s: RegistrySet, name: string): registryV1.DataSource => s.dataSources.find((v) => v.name === name)!;
const viewSource = (p: { featureView: string; alias?: string; features?: string[] }): registryV1.OnDemandSource =>
  create(registryV1.OnDemandSourceSchema, { source: { case: 'featureView', value: p } });
const odfv = (s: RegistrySet): registryV1.OnDemandFeatureView => s.onDemandFeatureViews[0]!;

describe('validateRegistrySet', () => {
  it('accepts the valid driver-stats project', () => {
    expect(validateRegistrySet(driverStatsSet())).toEqual([]);
  });

  describe('names', () => {
    it('rejects a project without a name', () => {
      expectOnly((s) => (s.project.name = ''), K.PROJECT, '', 'name', /the project has no name/);
    });
    it('accepts every project name Feast accepts: capitals, hyphens, digits first, other scripts', () => {
      for (const name of ['larder-compat', 'Driver-Stats', 'DRIVERS', '2024_drivers', 'a-_-b', 'proj\u00e9t', '\u6570\u636e']) {
        expect([name, issuesAfter((s) => (s.project.name = name))]).toEqual([name, []]);
      }
    });
    it("rejects a project name Feast rejects: a leading '_' or '-', spaces, dots, slashes", () => {
      for (const name of ['-drivers', '_drivers', 'driver stats', 'driver.stats', 'a/b', 'x:y']) {
        expectOnly((s) => (s.project.name = name), K.PROJECT, name, 'name', /letters, digits, underscores and hyphens, not starting with '_' or '-'/);
      }
    });
    it('rejects an object without a name', () => {
      expectOnly((s) => s.entities.push({ ...s.entities[1]!, name: '' }), K.ENTITY, '', 'name', 'entity #3 has no name; every entity needs one');
    });
    it('rejects a view name that is not an identifier', () => {
      const issues = issuesAfter((s) => (fv(s).name = 'driver-hourly'));
      expect(issues[0]).toEqual({
        kind: K.FEATURE_VIEW,
        name: 'driver-hourly',
        field: 'name',
        message: expect.stringMatching(/invalid name; use letters, digits and underscores/),
      });
    });
    it('allows dots and hyphens in feature service names', () => {
      const issues = issuesAfter((s) => {
        s.featureServices[0]!.name = 'driver-activity.v2';
        s.savedDatasets[0]!.featureService = 'driver-activity.v2';
      });
      expect(issues).toEqual([]);
    });
  });

  describe('duplicates', () => {
    it('rejects two entities with one name', () => {
      expectOnly(
        (s) => s.entities.push({ ...s.entities[0]! }),
        K.ENTITY,
        'driver',
        'name',
        "entity 'driver' is defined more than once; entity names must be unique in the project",
      );
    });
    it('rejects two data sources with one name', () => {
      expectOnly((s) => s.dataSources.push({ ...ds(s, 'customer_source') }), K.DATA_SOURCE, 'customer_source', 'name', /defined more than once/);
    });
    it('rejects an on-demand view named like a feature view', () => {
      expectOnly(
        (s) => {
          odfv(s).name = 'customer_profile';
          s.featureServices[0]!.projections.splice(1, 1);
          s.savedDatasets[0]!.features = ['driver_hourly_stats:conv_rate'];
        },
        K.ON_DEMAND_FEATURE_VIEW,
        'customer_profile',
        'name',
        /feature view and on-demand feature view names must be unique/,
      );
    });
    it('rejects two feature services and two saved datasets with one name', () => {
      expectOnly((s) => s.featureServices.push({ ...s.featureServices[0]! }), K.FEATURE_SERVICE, 'driver_activity', 'name', /defined more than once/);
      expectOnly((s) => s.savedDatasets.push({ ...s.savedDatasets[0]! }), K.SAVED_DATASET, 'training_2024', 'name', /defined more than once/);
    });
  });

  describe('entities', () => {
    it('rejects an entity without a value type', () => {
      expectOnly(
        (s) => (s.entities[0]!.valueType = T.UNSPECIFIED),
        K.ENTITY,
        'driver',
        'value_type',
        /entity 'driver' its join key has no value type; set one of bytes, string, int32, int64/,
      );
    });
    it('rejects NULL as a declared type', () => {
      expectOnly((s) => (s.entities[0]!.valueType = T.NULL), K.ENTITY, 'driver', 'value_type', /value type null, which cannot be declared/);
    });
    it('rejects a list join key type', () => {
      expectOnly((s) => (s.entities[0]!.valueType = T.INT64_LIST), K.ENTITY, 'driver', 'value_type', /list join key type \(int64_list\)/);
    });
    it('rejects an invalid join key', () => {
      expectOnly((s) => (s.entities[0]!.joinKey = 'driver id'), K.ENTITY, 'driver', 'join_key', /invalid join key 'driver id'/);
    });
  });

  describe('feature views', () => {
    it('names a missing entity, the defined ones and the likely typo', () => {
      expectOnly(
        (s) => (fv(s).entities = ['drivr']),
        K.FEATURE_VIEW,
        'driver_hourly_stats',
        'entities[0]',
        "feature view 'driver_hourly_stats' references entity 'drivr', which is not defined; defined entities: customer, driver (did you mean 'driver'?)",
      );
    });
    it('rejects an entity listed twice', () => {
      expectOnly((s) => fv(s).entities.push('driver'), K.FEATURE_VIEW, 'driver_hourly_stats', 'entities[1]', /lists entity 'driver' more than once/);
    });
    it('rejects two entities sharing a join key', () => {
      expectOnly(
        (s) => {
          s.entities[1]!.joinKey = 'driver_id';
          fv(s).entities.push('customer');
          s.featureServices[0]!.projections[2]!.joinKeyMap = { driver_id: 'rider_id' };
        },
        K.FEATURE_VIEW,
        'driver_hourly_stats',
        'entities[1]',
        /entities 'driver' and 'customer' with the same join key 'driver_id'/,
      );
    });
    it('rejects a view without features', () => {
      const issues = issuesAfter((s) => (fv(s, 'customer_profile').schema = []));
      expect(issues).toEqual([
        {
          kind: K.FEATURE_VIEW,
          name: 'customer_profile',
          field: 'schema',
          message: "feature view 'customer_profile' has no features; list at least one in schema",
        },
      ]);
    });
    it('rejects a feature declared twice', () => {
      expectOnly(
        (s) => fv(s, 'customer_profile').schema.push(field('segment', T.STRING)),
        K.FEATURE_VIEW,
        'customer_profile',
        'schema[2].name',
        "feature view 'customer_profile' declares feature 'segment' more than once",
      );
    });
    it('rejects a feature without a name or with an invalid one', () => {
      expectOnly(
        (s) => fv(s, 'customer_profile').schema.push(field('', T.STRING)),
        K.FEATURE_VIEW,
        'customer_profile',
        'schema[2].name',
        /has a feature with no name \(schema entry #3\)/,
      );
      expectOnly(
        (s) => fv(s, 'customer_profile').schema.push(field('9lives', T.STRING)),
        K.FEATURE_VIEW,
        'customer_profile',
        'schema[2].name',
        /feature '9lives' with an invalid name/,
      );
    });
    it('rejects a feature without a value type', () => {
      expectOnly(
        (s) => (fv(s, 'customer_profile').schema[1]!.valueType = T.UNSPECIFIED),
        K.FEATURE_VIEW,
        'customer_profile',
        'schema[1].value_type',
        /feature 'segment' has no value type/,
      );
    });
    it('rejects a feature named like a join key of its entities', () => {
      expectOnly(
        (s) => fv(s, 'customer_profile').schema.push(field('customer_id', T.STRING)),
        K.FEATURE_VIEW,
        'customer_profile',
        'schema[2].name',
        "feature view 'customer_profile' has feature 'customer_id', which collides with the join key of entity 'customer'; join keys are not features, so rename or remove it",
      );
    });
    it('rejects a feature named like a timestamp column of its batch source', () => {
      expectOnly(
        (s) => fv(s).schema.push(field('event_timestamp', T.UNIX_TIMESTAMP)),
        K.FEATURE_VIEW,
        'driver_hourly_stats',
        'schema[3].name',
        /timestamp column of its batch source 'driver_stats_source'/,
      );
    });
    it('rejects a negative ttl, and accepts zero', () => {
      expectOnly(
        (s) => (fv(s).ttl = seconds(-60)),
        K.FEATURE_VIEW,
        'driver_hourly_stats',
        'ttl',
        "feature view 'driver_hourly_stats' has a negative ttl; use a positive duration, or zero for no limit",
      );
      expect(issuesAfter((s) => (fv(s).ttl = seconds(0)))).toEqual([]);
    });
    it('rejects a view without any source', () => {
      expectOnly(
        (s) => {
          fv(s, 'customer_profile').batchSource = '';
        },
        K.FEATURE_VIEW,
        'customer_profile',
        'batch_source',
        /has no source; set batch_source/,
      );
    });
    it('accepts a stream-fed view without a batch_source', () => {
      expect(
        issuesAfter((s) => {
          fv(s).batchSource = '';
          fv(s).streamSource = 'trips_stream';
        }),
      ).toEqual([]);
    });
    it('rejects a view that is neither online nor offline', () => {
      expectOnly(
        (s) => {
          fv(s).online = false;
          fv(s).offline = false;
        },
        K.FEATURE_VIEW,
        'driver_hourly_stats',
        'online',
        "feature view 'driver_hourly_stats' is online: false and offline: false, so nothing would be written to it or read from it; set one of them to true",
      );
    });
    it('rejects a stream-fed view that is not online and names no batch source to append to', () => {
      expectOnly(
        (s) => {
          const stream = ds(s, 'trips_stream');
          if (stream.kind.case === 'kafka') stream.kind.value.batchSource = '';
          fv(s).batchSource = '';
          fv(s).streamSource = 'trips_stream';
          fv(s).online = false;
        },
        K.FEATURE_VIEW,
        'driver_hourly_stats',
        'online',
        "feature view 'driver_hourly_stats' is online: false, has no batch_source and its stream source 'trips_stream' " +
          'names no batch_source either, so its rows could be written nowhere; set online: true or a batch_source',
      );
    });
    it('rejects a missing batch source and lists the batch sources', () => {
      expectOnly(
        (s) => (fv(s).batchSource = 'driver_stats_src'),
        K.FEATURE_VIEW,
        'driver_hourly_stats',
        'batch_source',
        "feature view 'driver_hourly_stats' references data source 'driver_stats_src', which is not defined; defined " +
          "batch sources: customer_source, driver_stats_source (did you mean 'driver_stats_source'?)",
      );
    });
    it('rejects a stream source used as the batch source', () => {
      expectOnly(
        (s) => (fv(s).batchSource = 'trips_stream'),
        K.FEATURE_VIEW,
        'driver_hourly_stats',
        'batch_source',
        "feature view 'driver_hourly_stats' uses data source 'trips_stream' as its batch source, but 'trips_stream' is a kafka source; a batch source must be file, bigquery, postgres",
      );
    });
    it('rejects a batch source used as the stream source, and a missing stream source', () => {
      expectOnly(
        (s) => (fv(s).streamSource = 'customer_source'),
        K.FEATURE_VIEW,
        'driver_hourly_stats',
        'stream_source',
        /'customer_source' is a postgres source; a stream source must be kafka, push/,
      );
      expectOnly(
        (s) => (fv(s).streamSource = 'nope'),
        K.FEATURE_VIEW,
        'driver_hourly_stats',
        'stream_source',
        /references data source 'nope', which is not defined; defined stream sources: driver_stats_push, trips_stream/,
      );
    });
  });

  describe('data sources', () => {
    it('rejects a source without a kind', () => {
      expectOnly(
        (s) => (ds(s, 'customer_source').kind = { case: undefined }),
        K.DATA_SOURCE,
        'customer_source',
        'kind',
        /has no kind; set one of file, bigquery, postgres, kafka, push, request/,
      );
    });
    it('requires a timestamp field on batch and kafka sources', () => {
      expectOnly(
        (s) => (ds(s, 'customer_source').timestampField = ''),
        K.DATA_SOURCE,
        'customer_source',
        'timestamp_field',
        /is a postgres source without a timestamp_field/,
      );
      expectOnly(
        (s) => (ds(s, 'trips_stream').timestampField = ''),
        K.DATA_SOURCE,
        'trips_stream',
        'timestamp_field',
        /is a kafka source without a timestamp_field/,
      );
    });
    it('lets a push source take its timestamp from its batch source, and only then', () => {
      expectOnly(
        (s) => {
          const push = ds(s, 'driver_stats_push');
          if (push.kind.case === 'push') push.kind.value.batchSource = '';
        },
        K.DATA_SOURCE,
        'driver_stats_push',
        'timestamp_field',
        /is a push source without a timestamp_field/,
      );
    });
    it('rejects a file source without a path', () => {
      expectOnly(
        (s) => {
          const k = ds(s, 'driver_stats_source').kind;
          if (k.case === 'file') k.value.path = '';
        },
        K.DATA_SOURCE,
        'driver_stats_source',
        'kind.file.path',
        /file source with no path/,
      );
    });
    it('rejects a postgres or bigquery source without table or query', () => {
      expectOnly(
        (s) => {
          const k = ds(s, 'customer_source').kind;
          if (k.case === 'postgres') k.value.location = { case: 'table', value: ' ' };
        },
        K.DATA_SOURCE,
        'customer_source',
        'kind.postgres.location',
        "data source 'customer_source' is a postgres source with neither a table nor a query; set one",
      );
      expectOnly(
        (s) => (ds(s, 'customer_source').kind = { case: 'bigquery', value: create(registryV1.BigQuerySourceSchema) }),
        K.DATA_SOURCE,
        'customer_source',
        'kind.bigquery.location',
        /bigquery source with neither/,
      );
    });
    it('rejects a source query that could break out of its subquery (a second statement on BigQuery)', () => {
      const breakout = 'SELECT * FROM ds.stats) ; DROP TABLE ds.stats; SELECT (1';
      expectOnly(
        (s) =>
          (ds(s, 'customer_source').kind = {
            case: 'bigquery',
            value: create(registryV1.BigQuerySourceSchema, { location: { case: 'query', value: breakout } }),
          }),
        K.DATA_SOURCE,
        'customer_source',
        'kind.bigquery.query',
        /has a query that closes a parenthesis it never opened/,
      );
      expectOnly(
        (s) =>
          (ds(s, 'customer_source').kind = {
            case: 'postgres',
            value: create(registryV1.PostgresSourceSchema, { location: { case: 'query', value: 'SELECT 1; SELECT 2' } }),
          }),
        K.DATA_SOURCE,
        'customer_source',
        'kind.postgres.query',
        /holds more than one statement/,
      );
    });
    describe('kafka', () => {
      const kafka = (s: RegistrySet): registryV1.KafkaSource => {
        const k = ds(s, 'trips_stream').kind;
        if (k.case !== 'kafka') throw new Error('fixture changed');
        return k.value;
      };
      it('requires brokers, a topic and a message format', () => {
        expectOnly(
          (s) => (kafka(s).bootstrapServers = []),
          K.DATA_SOURCE,
          'trips_stream',
          'kind.kafka.bootstrap_servers',
          /without bootstrap servers; list brokers as host:port/,
        );
        expectOnly((s) => (kafka(s).topic = ''), K.DATA_SOURCE, 'trips_stream', 'kind.kafka.topic', /without a topic/);
        expectOnly(
          (s) => delete kafka(s).messageFormat,
          K.DATA_SOURCE,
          'trips_stream',
          'kind.kafka.message_format',
          /without a message_format; set json, avro or protobuf/,
        );
      });
      it('requires a schema for avro and a message type for protobuf', () => {
        expectOnly(
          (s) => (kafka(s).messageFormat!.format = { case: 'avro', value: create(registryV1.AvroFormatSchema) }),
          K.DATA_SOURCE,
          'trips_stream',
          'kind.kafka.message_format.avro',
          /set inline_schema or schema_registry_url/,
        );
        expectOnly(
          (s) => (kafka(s).messageFormat!.format = { case: 'protobuf', value: create(registryV1.ProtobufFormatSchema) }),
          K.DATA_SOURCE,
          'trips_stream',
          'kind.kafka.message_format.protobuf.message_type',
          /without a message_type/,
        );
      });
      it('rejects a negative watermark delay', () => {
        expectOnly((s) => (kafka(s).watermarkDelay = seconds(-5)), K.DATA_SOURCE, 'trips_stream', 'kind.kafka.watermark_delay', /negative watermark_delay/);
      });
      it('requires its batch source to exist and be a batch kind', () => {
        expectOnly(
          (s) => (kafka(s).batchSource = 'driver_stats_push'),
          K.DATA_SOURCE,
          'trips_stream',
          'kind.kafka.batch_source',
          /'driver_stats_push' is a push source; a batch source must be file, bigquery, postgres/,
        );
        expectOnly(
          (s) => (kafka(s).batchSource = 'missing'),
          K.DATA_SOURCE,
          'trips_stream',
          'kind.kafka.batch_source',
          /references data source 'missing', which is not defined/,
        );
      });
    });
    it('requires a push source batch source to be a batch kind', () => {
      expectOnly(
        (s) => {
          const k = ds(s, 'driver_stats_push').kind;
          if (k.case === 'push') k.value.batchSource = 'trips_stream';
        },
        K.DATA_SOURCE,
        'driver_stats_push',
        'kind.push.batch_source',
        /'trips_stream' is a kafka source/,
      );
    });
    describe('request sources', () => {
      const schema = (s: RegistrySet): registryV1.Field[] => {
        const k = ds(s, 'transaction').kind;
        if (k.case !== 'request') throw new Error('fixture changed');
        return k.value.schema;
      };
      it('require fields', () => {
        const issues = issuesAfter((s) => schema(s).splice(0));
        expect(issues).toContainEqual({
          kind: K.DATA_SOURCE,
          name: 'transaction',
          field: 'kind.request.schema',
          message: expect.stringMatching(/request source with no fields/),
        });
      });
      it('reject a field without a type, and a repeated field', () => {
        expectOnly(
          (s) => (schema(s)[1]!.valueType = T.UNSPECIFIED),
          K.DATA_SOURCE,
          'transaction',
          'kind.request.schema[1].value_type',
          /field 'amount' has no value type/,
        );
        expectOnly(
          (s) => schema(s).push(field('amount', T.DOUBLE)),
          K.DATA_SOURCE,
          'transaction',
          'kind.request.schema[3].name',
          /declares field 'amount' more than once/,
        );
      });
    });
    it('rejects field_mapping entries with empty names', () => {
      expectOnly((s) => (ds(s, 'customer_source').fieldMapping = { cust: '' }), K.DATA_SOURCE, 'customer_source', 'field_mapping.cust', /empty column name/);
    });
  });

  describe('on-demand feature views', () => {
    const O = K.ON_DEMAND_FEATURE_VIEW;
    const name = 'transformed_conv_rate';
    it('rejects a view without sources or outputs', () => {
      const issues = issuesAfter((s) => {
        odfv(s).sources = [];
        odfv(s).outputs = [];
        s.savedDatasets[0]!.features.pop();
      });
      expect(issues.map((i) => i.field)).toEqual(['sources', 'outputs']);
      expect(issues[0]!.message).toMatch(/has no sources/);
    });
    it('rejects an empty source', () => {
      expectOnly(
        (s) => odfv(s).sources.push(create(registryV1.OnDemandSourceSchema)),
        O,
        name,
        'sources[2]',
        /empty source; set request_source or feature_view/,
      );
    });
    it('rejects a missing request source', () => {
      const issues = issuesAfter((s) => (odfv(s).sources[0]!.source = { case: 'requestSource', value: 'transactoin' }));
      expect(issues[0]).toEqual({
        kind: O,
        name,
        field: 'sources[0].request_source',
        message: expect.stringMatching(
          /references data source 'transactoin', which is not defined; defined request sources: transaction \(did you mean 'transaction'\?\)/,
        ),
      });
    });
    it('rejects a request source that is not a request source', () => {
      const issues = issuesAfter((s) => (odfv(s).sources[0]!.source = { case: 'requestSource', value: 'customer_source' }));
      expect(issues[0]).toEqual({
        kind: O,
        name,
        field: 'sources[0].request_source',
        message: expect.stringMatching(/'customer_source' is a postgres source; a request source must be request/),
      });
    });
    it('rejects a projection of a missing view or feature', () => {
      const missingView = issuesAfter((s) => (odfv(s).sources[1] = viewSource({ featureView: 'driver_stats' })));
      expect(missingView[0]).toMatchObject({
        field: 'sources[1].feature_view.feature_view',
        message: expect.stringMatching(/references feature view 'driver_stats', which is not defined/),
      });
      expectOnly(
        (s) => {
          const src = odfv(s).sources[1]!.source;
          if (src.case === 'featureView') src.value.features.push('conv_rat');
        },
        O,
        name,
        'sources[1].feature_view.features[2]',
        new RegExp(
          "references feature 'conv_rat' of view 'driver_hourly_stats', which has no such feature; " +
            "defined features of 'driver_hourly_stats': acc_rate, avg_daily_trips, conv_rate \\(did you mean 'conv_rate'\\?\\)",
        ),
      );
    });
    it('rejects a view reading itself, and cycles between on-demand views', () => {
      const self = issuesAfter((s) => odfv(s).sources.push(viewSource({ featureView: name })));
      expect(self).toContainEqual(
        expect.objectContaining({ field: 'sources[2].feature_view.feature_view', message: expect.stringMatching(/cannot be its own source/) }),
      );
      const cycle = issuesAfter((s) => {
        const a = create(registryV1.OnDemandFeatureViewSchema, {
          name: 'a',
          sources: [viewSource({ featureView: 'b' })],
          outputs: [{ name: 'x', valueType: T.DOUBLE, expression: 'b.x' }],
        });
        const b = create(registryV1.OnDemandFeatureViewSchema, {
          name: 'b',
          sources: [viewSource({ featureView: 'a' })],
          outputs: [{ name: 'x', valueType: T.DOUBLE, expression: 'a.x' }],
        });
        s.onDemandFeatureViews.push(a, b);
      });
      expect(cycle.map((i) => i.message)).toEqual(["on-demand feature view 'a' is part of a cycle of on-demand views (a -> b -> a); break the loop"]);
    });
    it('accepts an on-demand view reading another one', () => {
      const issues = issuesAfter((s) =>
        s.onDemandFeatureViews.push(
          create(registryV1.OnDemandFeatureViewSchema, {
            name: 'second_order',
            sources: [viewSource({ featureView: name, alias: 't' })],
            outputs: [{ name: 'doubled', valueType: T.DOUBLE, expression: 't.conv_rate_plus_val * 2.0' }],
          }),
        ),
      );
      expect(issues).toEqual([]);
    });
    it('rejects two sources with one variable name, and reserved or invalid aliases', () => {
      expectOnly(
        (s) => odfv(s).sources.push(viewSource({ featureView: 'customer_profile', alias: 'transaction' })),
        O,
        name,
        'sources[2]',
        /two sources named 'transaction' in expressions; give one an alias/,
      );
      expectOnly(
        (s) => odfv(s).sources.push(viewSource({ featureView: 'customer_profile', alias: 'in' })),
        O,
        name,
        'sources[2].feature_view.alias',
        /source 'in' cannot be used as a CEL variable \(a reserved word\); give it an alias/,
      );
      const issues = issuesAfter((s) => odfv(s).sources.push(viewSource({ featureView: 'customer_profile', alias: 'cust-profile' })));
      expect(issues.map((i) => i.field)).toEqual(['sources[2].feature_view.alias', 'sources[2].feature_view.alias']);
    });
    it('rejects outputs without a name, a repeated output and one without a type', () => {
      expectOnly((s) => odfv(s).outputs.push({ ...odfv(s).outputs[0]! }), O, name, 'outputs[3].name', /declares output 'conv_rate_plus_val' more than once/);
      expectOnly(
        (s) => (odfv(s).outputs[0]!.valueType = T.UNSPECIFIED),
        O,
        name,
        'outputs[0].value_type',
        /output 'conv_rate_plus_val' has no value type; set one of/,
      );
      expectOnly(
        (s) => (odfv(s).outputs[2]!.name = ''),
        O,
        name,
        'outputs[2].name',
        "on-demand feature view 'transformed_conv_rate' has an output with no name (outputs entry #3)",
      );
    });
    it('rejects an output without an expression', () => {
      expectOnly((s) => (odfv(s).outputs[2]!.expression = '  '), O, name, 'outputs[2].expression', /output 'is_usd': has no expression/);
    });
    it('rejects an expression that does not parse, with its position', () => {
      expectOnly(
        (s) => (odfv(s).outputs[0]!.expression = 'driver_hourly_stats.conv_rate +* 2.0'),
        O,
        name,
        'outputs[0].expression',
        /output 'conv_rate_plus_val': syntax error at line 1, column \d+/,
      );
    });
    it('rejects an expression reading an unknown variable or field', () => {
      expectOnly(
        (s) => (odfv(s).outputs[0]!.expression = 'drivr.conv_rate * 2.0'),
        O,
        name,
        'outputs[0].expression',
        "on-demand feature view 'transformed_conv_rate' output 'conv_rate_plus_val': unknown name 'drivr'; the expression can read driver_hourly_stats, transaction (at column 1)",
      );
      expectOnly(
        (s) => (odfv(s).outputs[0]!.expression = 'driver_hourly_stats.acc_rate * 2.0'),
        O,
        name,
        'outputs[0].expression',
        /source 'driver_hourly_stats' has no field 'acc_rate'; its fields are avg_daily_trips, conv_rate \(at column 20\)/,
      );
    });
    it('rejects int and double mixed without a conversion', () => {
      expectOnly(
        (s) => (odfv(s).outputs[0]!.expression = 'driver_hourly_stats.conv_rate + transaction.val_to_add'),
        O,
        name,
        'outputs[0].expression',
        /no '\+' for \(double, int\); CEL does not mix int and double: convert one side with double\(\.\.\.\) or int\(\.\.\.\)/,
      );
    });
    it('rejects an expression whose type does not fit the declared output type', () => {
      expectOnly(
        (s) => (odfv(s).outputs[1]!.expression = 'driver_hourly_stats.conv_rate * 2.0'),
        O,
        name,
        'outputs[1].expression',
        "on-demand feature view 'transformed_conv_rate' output 'trips_plus_val': the expression gives double, which does not fit its declared type int64; wrap the expression in int(...) to truncate",
      );
    });
  });

  describe('feature services', () => {
    const S = K.FEATURE_SERVICE;
    it('rejects a service without projections', () => {
      expectOnly((s) => (s.featureServices[0]!.projections = []), S, 'driver_activity', 'projections', /selects no features/);
    });
    it('rejects a missing view, a missing feature and a projection without a view', () => {
      expectOnly(
        (s) => (s.featureServices[0]!.projections[0]!.featureView = 'driver_hourly'),
        S,
        'driver_activity',
        'projections[0].feature_view',
        /references feature view 'driver_hourly', which is not defined; defined feature views: customer_profile, driver_hourly_stats, transformed_conv_rate/,
      );
      expectOnly(
        (s) => s.featureServices[0]!.projections[0]!.features.push('speed'),
        S,
        'driver_activity',
        'projections[0].features[2]',
        /references feature 'speed' of view 'driver_hourly_stats', which has no such feature/,
      );
      expectOnly(
        (s) => (s.featureServices[0]!.projections[0]!.featureView = ''),
        S,
        'driver_activity',
        'projections[0].feature_view',
        /projection with no feature_view/,
      );
    });
    it('rejects a join key map naming a key the view does not have', () => {
      expectOnly(
        (s) => (s.featureServices[0]!.projections[2]!.joinKeyMap = { driver_id: 'x' }),
        S,
        'driver_activity',
        'projections[2].join_key_map.driver_id',
        "feature service 'driver_activity' maps join key 'driver_id', which view 'customer_profile' does not have; the join keys of 'customer_profile' are customer_id",
      );
    });
    it('rejects one view selected twice unless aliased', () => {
      const twice = (alias: string) => (s: RegistrySet) => s.featureServices[0]!.projections.push({ ...s.featureServices[0]!.projections[0]!, alias });
      expectOnly(
        twice(''),
        S,
        'driver_activity',
        'projections[3]',
        /selects view 'driver_hourly_stats' twice \(projections 1 and 4\); merge them or give one an alias/,
      );
      expect(issuesAfter(twice('dhs'))).toEqual([]);
    });
  });

  describe('saved datasets', () => {
    const D = K.SAVED_DATASET;
    const sd = (s: RegistrySet): registryV1.SavedDataset => s.savedDatasets[0]!;
    it('requires features and storage', () => {
      expectOnly((s) => (sd(s).features = []), D, 'training_2024', 'features', /lists no features/);
      expectOnly((s) => delete sd(s).storage, D, 'training_2024', 'storage', /has no storage; set file, bigquery_table or postgres_table/);
    });
    it('rejects malformed refs, unknown views and unknown features', () => {
      expectOnly((s) => sd(s).features.push('conv_rate'), D, 'training_2024', 'features[2]', /'conv_rate', which is not of the form 'view:feature'/);
      expectOnly((s) => sd(s).features.push('driver_stats:conv_rate'), D, 'training_2024', 'features[2]', /view 'driver_stats', which is not defined/);
      expectOnly(
        (s) => sd(s).features.push('driver_hourly_stats:conv'),
        D,
        'training_2024',
        'features[2]',
        "saved dataset 'training_2024' references feature 'driver_hourly_stats:conv', but view 'driver_hourly_stats' " +
          "has no feature 'conv'; defined features of 'driver_hourly_stats': acc_rate, avg_daily_trips, conv_rate (did " +
          "you mean 'conv_rate'?)",
      );
    });
    it('rejects an unknown feature service', () => {
      expectOnly(
        (s) => (sd(s).featureService = 'driver_activty'),
        D,
        'training_2024',
        'feature_service',
        /references feature service 'driver_activty', which is not defined; defined feature services: driver_activity \(did you mean 'driver_activity'\?\)/,
      );
    });
  });
});
