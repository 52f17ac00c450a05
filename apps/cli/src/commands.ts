// The list of `larder` commands: what each is called, takes and loads. The types
// they share live in command-spec.ts, which the commands import instead of this list.
import type { FlagSpecs } from './args';
import { command } from './command-spec';
import type { CommandSpec } from './command-spec';

const SKIP_SOURCE_CHECK = {
  type: 'boolean',
  help: "Do not check the batch sources first (by default files are read with DuckDB, and tables and queries with larder.yaml's offline_store, for the columns the views declare).",
} as const;

const KINDS_HELP =
  'Kinds: project, entity, data-source, feature-view, on-demand-feature-view, feature-service, saved-dataset, permission (plural and short forms such as fv, odfv work too).';

const MATERIALIZE_FLAGS = {
  views: { type: 'list', value: 'view[,view…]', help: 'Only these feature views (repeatable or comma-separated); default: every online view.' },
  materialization: {
    type: 'string',
    value: 'host:port',
    help: 'The materialization service; default: $LARDER_MATERIALIZATION, larder.yaml services.materialization, 127.0.0.1:6572.',
  },
  shard: {
    type: 'string',
    value: 'I/N',
    help: 'Run only shard I (0-based) of N entity-key hash shards; needs --run-id. The watermark advances when all N shards of the run succeeded.',
  },
  'run-id': {
    type: 'string',
    value: 'ID',
    help: 'Names the run the shards share (e.g. the pipeline run id), so N fan-out steps complete one run; rerun a failed shard with the same id.',
  },
} as const satisfies FlagSpecs;
const MATERIALIZE_HELP =
  'Times are ISO 8601 (2026-01-31 or 2026-01-31T12:00:00Z; no zone means UTC) or now. Progress goes to stderr; ' +
  'exit code 0 when the job succeeded, 1 when it failed or was cancelled (Ctrl-C or SIGTERM cancels it). ' +
  '--output json prints a summary on stdout. A fan-out of N pipeline steps shares one run with --shard 0/N … ' +
  '--shard N-1/N and one --run-id; each step may go to a different replica.';

export const COMMANDS: readonly CommandSpec[] = [
  command({
    name: 'init',
    summary: 'Create the driver-stats example feature repo, with sample Parquet data.',
    args: '[dir]',
    minArgs: 0,
    maxArgs: 1,
    flags: {},
    load: async () => (await import('./commands/init')).init,
    details: 'dir defaults to ./driver_stats.',
  }),
  command({
    name: 'plan',
    summary: 'Show what apply would change in the registry, without writing.',
    args: '',
    minArgs: 0,
    maxArgs: 0,
    flags: {
      'no-prune': { type: 'boolean', help: 'Keep registry objects the repo no longer defines (default: they would be deleted).' },
      'skip-source-check': SKIP_SOURCE_CHECK,
    },
    load: async () => (await import('./commands/apply')).plan,
  }),
  command({
    name: 'apply',
    summary: "Validate the feature repo and apply it to the registry as the project's whole definition.",
    args: '',
    minArgs: 0,
    maxArgs: 0,
    flags: { 'no-prune': { type: 'boolean', help: 'Keep registry objects the repo no longer defines.' }, 'skip-source-check': SKIP_SOURCE_CHECK },
    load: async () => (await import('./commands/apply')).apply,
  }),
  command({
    name: 'import-feast',
    summary: 'Write a Larder feature repo from a Feast 0.67 registry (registry.db, or a SQL registry).',
    args: '<registry> [dir]',
    minArgs: 1,
    maxArgs: 2,
    flags: {
      'feast-repo': { type: 'string', value: 'dir', help: "Feast's repo folder, against which relative file-source paths are made absolute." },
      redis: { type: 'string', value: 'url', help: "The Redis Feast materialized into: larder.yaml's online store in Feast's layout." },
      force: { type: 'boolean', help: 'Overwrite larder.yaml and feast_import.yaml in dir.' },
    },
    load: async () => (await import('./import-feast/command')).importFeast,
    details:
      'registry: the registry.db feast apply wrote, a SQLite SQL registry (the file or sqlite:///path) or a ' +
      'PostgreSQL one (postgresql://…, read only). dir defaults to the current folder. --project picks one of ' +
      'several projects. Python UDFs of on-demand views cannot move: they are listed, and written with a CEL ' +
      'skeleton that fails until rewritten.',
  }),
  command({
    name: 'teardown',
    summary: 'Delete the project and every object in it from the registry.',
    args: '',
    minArgs: 0,
    maxArgs: 0,
    flags: {},
    load: async () => (await import('./commands/teardown')).teardown,
  }),
  command({
    name: 'registry-dump',
    summary: 'Print the whole registry (or one project with --project) as JSON.',
    args: '',
    minArgs: 0,
    maxArgs: 0,
    flags: {},
    load: async () => (await import('./commands/dump')).dump,
  }),
  command({
    name: 'list',
    summary: 'List the objects of one kind.',
    args: '<kind>',
    minArgs: 1,
    maxArgs: 1,
    flags: {
      prefix: { type: 'string', value: 'text', help: 'Only names starting with text.' },
      tag: { type: 'list', value: 'key=value', help: 'Only objects with this tag (repeatable).' },
    },
    load: async () => (await import('./commands/list')).list,
    details: KINDS_HELP,
  }),
  command({
    name: 'describe',
    summary: 'Show one object in full.',
    args: '<kind> <name>',
    minArgs: 2,
    maxArgs: 2,
    flags: {},
    load: async () => (await import('./commands/describe')).describe,
    details: KINDS_HELP,
  }),
  command({
    name: 'features',
    summary: 'Find features across views (discovery).',
    args: '',
    minArgs: 0,
    maxArgs: 0,
    flags: {
      name: { type: 'string', value: 'text', help: 'Feature name contains text (case-insensitive).' },
      query: { type: 'string', value: 'words', help: 'Free text over names, descriptions and tags; best match first.' },
      tag: { type: 'list', value: 'key=value', help: 'Feature (or view) tag (repeatable).' },
      owner: { type: 'string', value: 'owner', help: "The view's owner." },
      entity: { type: 'string', value: 'entity', help: 'Views keyed by this entity.' },
      type: { type: 'string', value: 'type', help: 'Value type: int64, double (float64), string, …' },
      view: { type: 'string', value: 'view', help: 'Only this feature view.' },
    },
    load: async () => (await import('./commands/features')).features,
  }),
  command({
    name: 'validate',
    summary: "Check TFDV statistics against a view's TFDV schema (and a previous span for drift, serving for skew); exit 1 on anomalies.",
    args: '',
    minArgs: 0,
    maxArgs: 0,
    flags: {
      stats: {
        type: 'string',
        value: 'FILE',
        help: "The statistics to check: a DatasetFeatureStatisticsList with one dataset (larder stats --out FILE, or TFDV's binary statistics).",
      },
      view: { type: 'string', value: 'NAME', help: "Check against this view's schema in the feature repo (validation.schema_file or validation.schema)." },
      schema: { type: 'string', value: 'FILE', help: 'Check against this TFDV schema instead: schema.pbtxt (text) or .pb (binary).' },
      previous: { type: 'string', value: 'FILE', help: "Statistics of the previous span, for the schema's drift comparators." },
      serving: { type: 'string', value: 'FILE', help: "Statistics of serving data, for the schema's skew comparators." },
      environment: { type: 'string', value: 'NAME', help: 'Only features in this environment (e.g. SERVING).' },
      out: {
        type: 'string',
        value: 'FILE',
        help: "Also write the anomalies in text format (tensorflow.metadata.v0.Anomalies, as TFDV's write_anomalies_text does).",
      },
    },
    details:
      'The table shows one line per feature with anomalies: severity, TFDV anomaly types (AnomalyInfo.Type) and ' +
      'description; --output json prints the Anomalies message (proto field names). Exit code 0 when the statistics ' +
      'keep the schema, 1 when there are anomalies: fit for CI.',
    load: async () => (await import('./commands/validate')).validate,
  }),
  command({
    name: 'infer-schema',
    summary: 'Propose a TFDV schema from statistics and write it into the feature repo (schemas/VIEW.pbtxt, linked from the view).',
    args: '',
    minArgs: 0,
    maxArgs: 0,
    flags: {
      stats: { type: 'string', value: 'FILE', help: 'Statistics to infer from (larder stats --out FILE).' },
      view: { type: 'string', value: 'NAME', help: "Write schemas/NAME.pbtxt (or --out) and set the view's validation.schema_file in its YAML document." },
      out: { type: 'string', value: 'FILE', help: 'The schema file to write (relative to the repo with --view, else to the current folder).' },
      'max-domain-size': { type: 'string', value: 'N', help: 'String features with at most N distinct values get a string domain of them (default 100).' },
    },
    details:
      'The proposal: each feature with its type, presence (at least once; in every example when none lacked it), the ' +
      'value count seen, and string domains for small vocabularies. Numeric ranges and drift/skew comparators are ' +
      'left for you to add. The file is protobuf text format, as TFDV writes it.',
    load: async () => (await import('./commands/validate')).inferSchemaCommand,
  }),
  command({
    name: 'stats',
    summary: 'TFDV-compatible statistics of a view, feature service or saved dataset, computed by the offline engine.',
    args: '',
    minArgs: 0,
    maxArgs: 0,
    flags: {
      view: { type: 'string', value: 'NAME', help: 'A feature view (with --start and --end).' },
      rows: {
        type: 'string',
        value: 'event|ingested|materialized',
        help: 'With --view: rows by event time (default), by when they arrived (created time), or what materializing the window writes (latest per entity key).',
        choices: ['event', 'ingested', 'materialized'],
      },
      features: { type: 'string', value: 'a,b,…', help: 'With --view --rows event: only these features.' },
      'feature-service': { type: 'string', value: 'NAME', help: 'A feature service (one dataset per view; with --start and --end).' },
      'saved-dataset': { type: 'string', value: 'NAME', help: 'A saved dataset, such as a training set.' },
      start: { type: 'string', value: 'TIME', help: 'Range start, inclusive (ISO 8601 or now; no zone means UTC).' },
      end: { type: 'string', value: 'TIME', help: 'Range end, exclusive.' },
      'top-values': { type: 'string', value: 'N', help: 'Most frequent string values to keep (default 10).' },
      out: { type: 'string', value: 'FILE', help: "Also write the DatasetFeatureStatisticsList bytes (TFDV's load_stats_binary reads them)." },
      'dry-run': { type: 'boolean', help: 'Compute without storing.' },
      list: { type: 'boolean', help: 'List stored statistics (of --view/--feature-service/--saved-dataset when given) instead.' },
      id: { type: 'string', value: 'ID', help: 'Show stored statistics by id instead.' },
      offline: {
        type: 'string',
        value: 'host:port',
        help: 'The offline-retrieval service; default: $LARDER_OFFLINE_RETRIEVAL, larder.yaml services.offline_retrieval, 127.0.0.1:6571.',
      },
    },
    details:
      'The table shows one line per feature (count, missing, mean, std, min, median, max, zeros for numbers; unique ' +
      'and the top value for strings); --output json prints the stored record with the full statistics. Statistics ' +
      'are stored with their scope and range unless --dry-run.',
    load: async () => (await import('./commands/stats')).stats,
  }),
  command({
    name: 'get-historical-features',
    summary: 'Build a point-in-time-correct training set with the offline-retrieval service.',
    args: '',
    minArgs: 0,
    maxArgs: 0,
    flags: {
      entities: { type: 'string', value: 'FILE|TABLE', help: 'Entity rows: a .parquet/.csv file, or a table of the PostgreSQL/BigQuery offline store.' },
      features: { type: 'string', value: 'view:feature,…', help: 'Feature refs, comma-separated.' },
      'feature-service': { type: 'string', value: 'NAME', help: 'A feature service instead of --features.' },
      out: { type: 'string', value: 'FILE.parquet|FILE.csv|TABLE', help: 'Where the engine writes the result.' },
      'full-feature-names': { type: 'boolean', help: 'Name columns view__feature.' },
      'timestamp-column': { type: 'string', value: 'name', help: "The entity rows' timestamp column (default event_timestamp)." },
      'order-column': {
        type: 'string',
        value: 'name',
        help: 'A column of the entity rows that orders them (and the row_index of a table --out); a PostgreSQL or BigQuery table has no order of its own.',
      },
      overwrite: { type: 'boolean', help: 'Replace an existing --out.' },
      'saved-dataset': { type: 'string', value: 'NAME', help: 'Also register the result as a saved dataset.' },
      validate: {
        type: 'boolean',
        help: "Compute the training set's statistics in the engine and check them against its views' TFDV schemas; anomalies are printed and the exit code is 1 (the set is kept).",
      },
      'fail-on-anomalies': { type: 'boolean', help: 'With anomalies, the service fails the call: no saved dataset is registered (implies --validate).' },
      offline: {
        type: 'string',
        value: 'host:port',
        help: 'The offline-retrieval service; default: $LARDER_OFFLINE_RETRIEVAL, larder.yaml services.offline_retrieval, 127.0.0.1:6571.',
      },
    },
    load: async () => (await import('./commands/historical')).getHistoricalFeatures,
  }),
  command({
    name: 'get-online-features',
    summary: 'Read the latest feature values of some entity rows from the online-serving service.',
    args: '',
    minArgs: 0,
    maxArgs: 0,
    flags: {
      entity: {
        type: 'list',
        value: 'join_key=value[,value…]',
        help: 'One entity column: a join key (or request field) and one value per row; repeat for composite keys.',
      },
      entities: { type: 'string', value: 'FILE.json', help: 'Entity rows from a JSON file: {"driver_id": [1001, 1002]} or [{"driver_id": 1001}, …].' },
      features: { type: 'string', value: 'view:feature,…', help: 'Feature refs, comma-separated.' },
      'feature-service': { type: 'string', value: 'NAME', help: 'A feature service instead of --features.' },
      'full-feature-names': { type: 'boolean', help: 'Name columns view__feature.' },
      address: {
        type: 'string',
        value: 'host:port',
        help: 'The online-serving service; default: $LARDER_ONLINE_SERVING, larder.yaml services.online_serving, 127.0.0.1:6566.',
      },
    },
    load: async () => (await import('./commands/online')).getOnlineFeatures,
    details:
      'Values take the types the registry declares for join keys and request fields (when larder.yaml or --registry ' +
      'names a registry); otherwise integers are int64, other numbers double, the rest strings. The table shows one ' +
      "line per entity row; --output json prints the response as Feast's feature server does (values, statuses, " +
      'event timestamps per feature).',
  }),
  command({
    name: 'materialize',
    summary: 'Copy the latest feature values in [START, END] to the online store (a job on the materialization service).',
    args: '<START> <END>',
    minArgs: 2,
    maxArgs: 2,
    flags: MATERIALIZE_FLAGS,
    load: async () => (await import('./commands/materialize')).materialize,
    details: MATERIALIZE_HELP,
  }),
  command({
    name: 'materialize-incremental',
    summary: 'Materialize each view from its watermark up to END (default now); watermarks advance only on success.',
    args: '[END]',
    minArgs: 0,
    maxArgs: 1,
    flags: MATERIALIZE_FLAGS,
    load: async () => (await import('./commands/materialize')).materializeIncremental,
    details: MATERIALIZE_HELP,
  }),
];

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}
