// The targeted attacks of issue 15, against the store `npm start` runs: each returns what
// the store answered, as a short outcome string the suite compares with what it must be.
// The per-feature specs test each defence in depth; these replay one case of each
// against the whole store at once, where a defence missing from one service shows.
import { create } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { request } from 'node:http';
import path from 'node:path';
import { ingestionV1, offlineV1, registryV1, servingV1, typesV1 } from '@larder/proto';
import { codeName, createClient, RpcError } from '@larder/rpc';
import { slowHttpClient } from '@larder/testing';
import type { HostileStore } from './store';

export interface Attack {
  name: string;
  /** The outcomes that mean the attack was refused properly. */
  expected: readonly string[];
  /** Performs it; resolves with the outcome (a status name, an HTTP status, ...). */
  run(store: HostileStore, outside: string): Promise<string>;
}

const T = typesV1.ValueType;
const PROJECT = 'driver_stats';
const year9999 = { seconds: 253_402_300_000n };

/** The status name of a call that failed, or OK. A status message over 4 KiB, or one naming the server's folders, is an outcome of its own. */
async function status(call: Promise<unknown>, forbidden: readonly string[] = []): Promise<string> {
  try {
    await call;
    return 'OK';
  } catch (error) {
    if (!(error instanceof RpcError)) throw error;
    if (Buffer.byteLength(error.message) > 4096) return `${codeName(error.code)} (message of ${Buffer.byteLength(error.message)} bytes)`;
    const leaked = forbidden.find((text) => error.message.includes(text));
    if (leaked !== undefined) return `${codeName(error.code)} (message names ${leaked}: ${error.message})`;
    return codeName(error.code);
  }
}

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream) void _;
}

function retrieval(store: HostileStore) {
  return createClient(offlineV1.OfflineRetrievalService, store.grpc['offline-retrieval'], { defaultTimeoutMs: 15_000 });
}

function registry(store: HostileStore) {
  return createClient(registryV1.RegistryService, store.grpc.registry, { defaultTimeoutMs: 15_000 });
}

const CONV_RATE = { kind: { case: 'features' as const, value: { val: ['driver_hourly_stats:conv_rate'] } } };
const fileEntities = (file: string) =>
  create(offlineV1.EntitySourceSchema, { location: { case: 'file', value: { path: file } }, timestampColumn: 'event_timestamp' });

/** A training-set request reading `entities` and optionally writing to `destination`; its status. */
async function historical(store: HostileStore, entitySource: offlineV1.EntitySource, destination?: string): Promise<string> {
  const client = retrieval(store);
  try {
    const query =
      destination === undefined
        ? CONV_RATE
        : { ...CONV_RATE, destination: { storage: { kind: { case: 'file' as const, value: { path: destination } } }, overwrite: true, omitRows: true } };
    return await status(drain(client.getHistoricalFeaturesFromSource({ query, entitySource })), [process.cwd()]);
  } finally {
    client.close();
  }
}

async function apply(store: HostileStore, request: MessageInitShape<typeof registryV1.ApplyRegistryRequestSchema>): Promise<string> {
  const client = registry(store);
  try {
    return await status(client.applyRegistry(request));
  } finally {
    client.close();
  }
}

/** A project whose only view is on-demand over a request source, computing `expression`. */
const celProject = (expression: string) => ({
  project: 'hostile_cel',
  dataSources: [{ name: 'req', kind: { case: 'request' as const, value: { schema: [{ name: 'ids', valueType: T.INT64_LIST }] } } }],
  onDemandFeatureViews: [
    { name: 'bomb', sources: [{ source: { case: 'requestSource' as const, value: 'req' } }], outputs: [{ name: 'out', valueType: T.BOOL, expression }] },
  ],
});
const literal = (n: number): string => `[${Array.from({ length: n }, (_, i) => i).join(',')}]`;

/** A CEL bomb must be refused at apply, within a second. */
async function celBomb(store: HostileStore, expression: string): Promise<string> {
  const started = performance.now();
  const outcome = await apply(store, celProject(expression));
  const ms = performance.now() - started;
  return ms < 1_000 ? outcome : `${outcome} after ${ms.toFixed(0)} ms`;
}

async function push(
  store: HostileStore,
  rows: MessageInitShape<typeof typesV1.RowBatchSchema>,
  mode = ingestionV1.PushMode.ONLINE,
  pushSource = 'driver_stats_push_source',
  project = PROJECT,
): Promise<string> {
  const client = createClient(ingestionV1.IngestionService, store.grpc.ingestion, { defaultTimeoutMs: 15_000 });
  try {
    const response = await client.push({ project, pushSource, rows, mode });
    return response.failures.length > 0 && response.rowsWritten === 0n ? 'row refused' : `written ${response.rowsWritten}`;
  } catch (error) {
    if (error instanceof RpcError) return codeName(error.code);
    throw error;
  } finally {
    client.close();
  }
}

const f32 = (x: number) => ({ val: { case: 'floatVal' as const, value: x } });
const i64 = (x: bigint) => ({ val: { case: 'int64Val' as const, value: x } });
const oneRow = (conv: number, seconds: bigint) => ({
  columns: { driver_id: { val: [i64(1001n)] }, conv_rate: { val: [f32(conv)] } },
  eventTimestamps: [{ seconds }],
});

/**
 * POSTs `body` and resolves with the response's status. A server that refuses a body by
 * its length answers before reading it and closes the connection, so our upload may
 * fail after the answer came: the answer is what counts.
 */
function http(url: string, body: string | Buffer, contentType = 'application/json'): Promise<string> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': contentType, 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      resolve(`HTTP ${res.statusCode}`);
    });
    // A write error can come before the answer is read: give it a moment.
    req.on('error', (error: NodeJS.ErrnoException) => {
      const reset = error.code === 'EPIPE' || error.code === 'ECONNRESET';
      setTimeout(() => resolve(reset ? 'reset while sending' : `no answer (${error.message})`), 500);
    });
    req.end(body);
  });
}

/** Sends half a request's headers and nothing more: the server must hang up by itself. */
async function slowLoris(url: string, giveUpMs: number): Promise<string> {
  try {
    await slowHttpClient(Number(new URL(url).port), 'POST /push HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ', giveUpMs);
    return 'closed by the server';
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** The store runs with LARDER_*_HEADERS_TIMEOUT of this much (tests' setting), so slow-loris is cut fast. */
export const HOSTILE_HEADERS_TIMEOUT = '1s';
export const HOSTILE_STORE_ENV = { LARDER_HTTP_HEADERS_TIMEOUT: HOSTILE_HEADERS_TIMEOUT, LARDER_INGESTION_HTTP_HEADERS_TIMEOUT: HOSTILE_HEADERS_TIMEOUT };

export const ATTACKS: readonly Attack[] = [
  // 2. Server-side paths.
  { name: 'entity file /etc/passwd', expected: ['PERMISSION_DENIED'], run: (s) => historical(s, fileEntities('/etc/passwd')) },
  {
    name: 'entity file ../ out of the root to a real file',
    expected: ['PERMISSION_DENIED'],
    run: (s, outside) => historical(s, fileEntities(`${s.root}/../${path.basename(outside)}/canary.csv`)),
  },
  { name: 'entity file glob over the whole disk', expected: ['PERMISSION_DENIED'], run: (s) => historical(s, fileEntities('/**/*.csv')) },
  { name: 'entity file http:// URL', expected: ['PERMISSION_DENIED'], run: (s) => historical(s, fileEntities('http://127.0.0.1:9/x.parquet')) },
  {
    name: 'destination overwriting a file outside the root',
    expected: ['PERMISSION_DENIED'],
    run: (s, outside) => historical(s, fileEntities(path.join(s.root, 'data/entity_rows.csv')), path.join(outside, 'canary.csv')),
  },
  {
    name: 'destination overwriting the root folder itself',
    expected: ['FAILED_PRECONDITION', 'PERMISSION_DENIED'],
    run: (s) => historical(s, fileEntities(path.join(s.root, 'data/entity_rows.csv')), s.root),
  },
  {
    name: 'registry FileSource outside the root, pushed to offline',
    expected: ['PERMISSION_DENIED'],
    run: async (s, outside) => {
      const applied = await apply(s, {
        project: 'hostile_files',
        entities: [{ name: 'driver', joinKey: 'driver_id', valueType: T.INT64 }],
        dataSources: [
          {
            name: 'src',
            timestampField: 'event_timestamp',
            kind: { case: 'file', value: { path: path.join(outside, 'canary.csv'), format: registryV1.FileFormat.CSV } },
          },
          { name: 'pushed', kind: { case: 'push', value: { batchSource: 'src' } } },
        ],
        featureViews: [
          {
            name: 'v',
            entities: ['driver'],
            schema: [{ name: 'conv_rate', valueType: T.FLOAT }],
            batchSource: 'src',
            streamSource: 'pushed',
            online: true,
            offline: true,
          },
        ],
      });
      // Refused at apply, or where the path is used: either way nothing is written outside.
      if (applied !== 'OK') return applied;
      return push(s, oneRow(0.5, BigInt(Math.floor(Date.now() / 1000))), ingestionV1.PushMode.OFFLINE, 'pushed', 'hostile_files');
    },
  },
  // 3. No SQL from clients.
  {
    name: 'entity source postgres query (COPY TO PROGRAM)',
    expected: ['INVALID_ARGUMENT'],
    run: (s) =>
      historical(
        s,
        create(offlineV1.EntitySourceSchema, {
          location: { case: 'postgres', value: { location: { case: 'query', value: "COPY (SELECT 1) TO PROGRAM 'touch /tmp/larder-pwned'" } } },
        }),
      ),
  },
  {
    name: 'entity source postgres table with a quote',
    expected: ['INVALID_ARGUMENT'],
    run: (s) =>
      historical(
        s,
        create(offlineV1.EntitySourceSchema, { location: { case: 'postgres', value: { location: { case: 'table', value: 'x"; DROP TABLE t; --' } } } }),
      ),
  },
  // 5. CEL bombs at apply.
  {
    name: 'CEL nested all() over literals',
    expected: ['INVALID_ARGUMENT'],
    run: (s) => celBomb(s, `${literal(300)}.all(a, ${literal(300)}.all(b, ${literal(300)}.all(c, true)))`),
  },
  { name: 'CEL 2 MB list literal', expected: ['INVALID_ARGUMENT'], run: (s) => celBomb(s, `${literal(300_000)}.size() > 0`) },
  { name: 'CEL 100k-term sum', expected: ['INVALID_ARGUMENT'], run: (s) => celBomb(s, `${Array.from({ length: 100_000 }, () => '1').join('+')} > 0`) },
  // 5. Push bodies.
  // The server answers 413 from the Content-Length and drops the rest of the body (at most
  // 64 MiB or 10 s), so a client still sending reads the answer, not a reset.
  { name: '/push body over the limit (9 MiB)', expected: ['HTTP 413'], run: (s) => http(`${s.pushUrl}/push`, Buffer.alloc(9 * 1024 * 1024, 0x20)) },
  {
    name: '/push as text/plain (cross-site form)',
    expected: ['HTTP 415'],
    run: (s) => http(`${s.pushUrl}/push`, '{"push_source_name":"driver_stats_push_source","df":{}}', 'text/plain'),
  },
  { name: 'slow-loris on the push endpoint', expected: ['closed by the server'], run: (s) => slowLoris(s.pushUrl, 5_000) },
  { name: 'slow-loris on the HTTP gateway', expected: ['closed by the server'], run: (s) => slowLoris(s.gatewayUrl, 5_000) },
  // 7. Values and times.
  { name: 'push with a year-9999 event time', expected: ['row refused'], run: (s) => push(s, oneRow(0.5, year9999.seconds)) },
  { name: 'push of NaN', expected: ['row refused'], run: (s) => push(s, oneRow(NaN, BigInt(Math.floor(Date.now() / 1000)))) },
  { name: 'push with a 2^62 s timestamp', expected: ['row refused', 'INVALID_ARGUMENT'], run: (s) => push(s, oneRow(0.5, 2n ** 62n)) },
  {
    name: 'forged year-9999 materialization watermark',
    expected: ['INVALID_ARGUMENT'],
    run: async (s) => {
      const client = registry(s);
      try {
        return await status(
          client.updateMaterializationState({
            project: PROJECT,
            featureView: 'driver_hourly_stats',
            jobId: 'forged',
            status: registryV1.MaterializationStatus.SUCCEEDED,
            watermark: year9999,
          }),
        );
      } finally {
        client.close();
      }
    },
  },
  {
    name: 'HTTP gateway id of 2^64',
    expected: ['HTTP 400'],
    run: (s) =>
      http(
        `${s.gatewayUrl}/get-online-features`,
        `{"project":"${PROJECT}","features":["driver_hourly_stats:conv_rate"],"entities":{"driver_id":["18446744073709551616"]}}`,
      ),
  },
  {
    name: 'error echoing a 100 kB feature name',
    expected: ['INVALID_ARGUMENT'],
    run: async (s) => {
      const client = createClient(servingV1.OnlineServingService, s.grpc['online-serving'], { defaultTimeoutMs: 10_000 });
      try {
        const started = performance.now();
        const outcome = await status(
          client.getOnlineFeatures({
            project: PROJECT,
            kind: { case: 'features', value: { val: [`driver_hourly_stats:${'x'.repeat(100_000)}`] } },
            entities: { driver_id: { val: [i64(1001n)] } },
          }),
        );
        const ms = performance.now() - started;
        return ms < 5_000 ? outcome : `${outcome} after ${ms.toFixed(0)} ms`;
      } finally {
        client.close();
      }
    },
  },
  // 8. Hosts.
  {
    name: 'Kafka source naming a non-allowed broker',
    expected: ['INVALID_ARGUMENT'],
    run: (s) =>
      apply(s, {
        project: 'hostile_kafka',
        entities: [{ name: 'driver', joinKey: 'driver_id', valueType: T.INT64 }],
        dataSources: [
          {
            name: 'trips',
            timestampField: 'ts',
            kind: { case: 'kafka', value: { bootstrapServers: ['10.1.2.3:9092'], topic: 'trips', messageFormat: { format: { case: 'json', value: {} } } } },
          },
        ],
        featureViews: [
          { name: 'trip_stats', entities: ['driver'], schema: [{ name: 'n', valueType: T.INT64 }], streamSource: 'trips', online: true, offline: false },
        ],
      }),
  },
];
