// Proves that `npm test` hands jest real, working services, driven through the client
// libraries Larder uses. Each test fails if its service is missing or misbehaves.
import { randomBytes } from 'node:crypto';
import { BigQuery } from '@google-cloud/bigquery';
import Redis from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { testServices } from './env';

const services = testServices();
const runId = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;

describe('redis (ioredis)', () => {
  let redis: Redis;

  beforeAll(() => {
    redis = new Redis(services.redis.url, { maxRetriesPerRequest: 1 });
  });

  afterAll(async () => {
    await redis.quit();
  });

  it('is the server npm test started, on loopback', async () => {
    const info = await redis.info('server');
    expect(info).toMatch(new RegExp(`^tcp_port:${services.redis.port}\\r?$`, 'm'));
    expect(services.redis.host).toBe('127.0.0.1');
  });

  it('stores and reads back values', async () => {
    const key = `larder:test:${runId}:greeting`;
    await redis.set(key, 'hello', 'EX', 60);
    expect(await redis.get(key)).toBe('hello');
    expect(await redis.get(`${key}:missing`)).toBeNull();
  });

  it('runs a pipeline in order', async () => {
    const key = `larder:test:${runId}:counter`;
    const hash = `larder:test:${runId}:hash`;
    const results = await redis.pipeline().incr(key).incrby(key, 41).hset(hash, { f1: 'a', f2: 'b' }).hgetall(hash).exec();
    expect(results).toEqual([
      [null, 1],
      [null, 42],
      [null, 2],
      [null, { f1: 'a', f2: 'b' }],
    ]);
  });
});

describe('postgres (pg)', () => {
  let client: Client;
  const table = `larder_test_${runId}`;

  beforeAll(async () => {
    client = new Client({ connectionString: services.postgres.url });
    await client.connect();
  });

  afterAll(async () => {
    await client.query(`DROP TABLE IF EXISTS ${table}`);
    await client.end();
  });

  it('is PostgreSQL 15 on the port npm test gave', async () => {
    const { rows } = await client.query<{ port: string; version: string }>(
      `SELECT current_setting('port') AS port, current_setting('server_version') AS version`,
    );
    expect(rows[0]?.port).toBe(String(services.postgres.port));
    expect(rows[0]?.version).toMatch(/^15\./);
  });

  it('creates a table, inserts and selects', async () => {
    await client.query(`CREATE TABLE ${table} (id int PRIMARY KEY, name text NOT NULL, seen_at timestamptz NOT NULL)`);
    await client.query(`INSERT INTO ${table} VALUES ($1, $2, $3), ($4, $5, $6)`, [
      1,
      'alpha',
      new Date('2024-01-01T00:00:00Z'),
      2,
      'beta',
      new Date('2024-01-02T00:00:00Z'),
    ]);
    const { rows } = await client.query<{ id: number; name: string; seen_at: Date }>(`SELECT id, name, seen_at FROM ${table} WHERE seen_at > $1 ORDER BY id`, [
      new Date('2024-01-01T12:00:00Z'),
    ]);
    expect(rows).toEqual([{ id: 2, name: 'beta', seen_at: new Date('2024-01-02T00:00:00Z') }]);
  });

  it('rolls back and commits transactions', async () => {
    await client.query('BEGIN');
    await client.query(`INSERT INTO ${table} VALUES (10, 'rolled back', now())`);
    await client.query('ROLLBACK');
    await client.query('BEGIN');
    await client.query(`INSERT INTO ${table} VALUES (11, 'committed', now())`);
    await client.query('COMMIT');
    const { rows } = await client.query<{ id: number }>(`SELECT id FROM ${table} WHERE id >= 10 ORDER BY id`);
    expect(rows.map((r) => r.id)).toEqual([11]);
  });
});

describe('kafka (kafkajs)', () => {
  const kafka = new Kafka({ clientId: `larder-test-${runId}`, brokers: services.kafka.brokers, logLevel: logLevel.WARN });
  const topic = `larder-test-${runId}`;

  it('creates a topic, produces, and consumes back through a consumer group', async () => {
    const admin = kafka.admin();
    const producer = kafka.producer();
    const consumer = kafka.consumer({ groupId: `larder-test-group-${runId}` });
    try {
      await admin.connect();
      expect(await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true })).toBe(true);
      expect(await admin.listTopics()).toContain(topic);

      await producer.connect();
      const sent = Array.from({ length: 6 }, (_, i) => ({ key: `driver-${i % 3}`, value: `rate=${i}` }));
      await producer.send({ topic, messages: sent });

      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const received: { key: string; value: string; partition: number }[] = [];
      const all = new Promise<void>((resolve) => {
        void consumer.run({
          eachMessage: async ({ message, partition }) => {
            received.push({ key: message.key?.toString() ?? '', value: message.value?.toString() ?? '', partition });
            if (received.length === sent.length) resolve();
          },
        });
      });
      await Promise.race([all, rejectAfter(20_000, `consumed ${received.length} of ${sent.length} messages`)]);

      const byValue = (a: { value: string }, b: { value: string }) => a.value.localeCompare(b.value);
      expect(received.map(({ key, value }) => ({ key, value })).sort(byValue)).toEqual([...sent].sort(byValue));
      // Same key, same partition: the broker really partitioned by key.
      for (const key of new Set(sent.map((m) => m.key))) {
        expect(new Set(received.filter((m) => m.key === key).map((m) => m.partition)).size).toBe(1);
      }
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    }
  });
});

describe('bigquery emulator (@google-cloud/bigquery)', () => {
  const bigquery = new BigQuery({ projectId: services.bigquery.projectId, apiEndpoint: services.bigquery.endpoint });
  const datasetId = `larder_test_${runId}`;
  const table = `\`${services.bigquery.projectId}.${datasetId}.driver_stats\``;

  afterAll(async () => {
    await bigquery
      .dataset(datasetId)
      .delete({ force: true })
      .catch(() => undefined);
  });

  it('creates a dataset and a table, inserts rows, and answers a point-in-time window query', async () => {
    const [dataset] = await bigquery.createDataset(datasetId);
    const [created] = await dataset.createTable('driver_stats', {
      schema: {
        fields: [
          { name: 'driver_id', type: 'INT64', mode: 'REQUIRED' },
          { name: 'event_ts', type: 'TIMESTAMP', mode: 'REQUIRED' },
          { name: 'conv_rate', type: 'FLOAT64' },
        ],
      },
    });
    const [metadata] = await created.getMetadata();
    expect(metadata.schema.fields.map((f: { name: string }) => f.name)).toEqual(['driver_id', 'event_ts', 'conv_rate']);

    await created.insert([
      { driver_id: 1001, event_ts: '2024-01-01T00:00:00Z', conv_rate: 0.1 },
      { driver_id: 1001, event_ts: '2024-01-02T00:00:00Z', conv_rate: 0.2 },
      { driver_id: 1001, event_ts: '2024-01-04T00:00:00Z', conv_rate: 0.4 },
      { driver_id: 1002, event_ts: '2024-01-01T12:00:00Z', conv_rate: 0.5 },
    ]);
    await bigquery.query({
      query: `INSERT INTO ${table} (driver_id, event_ts, conv_rate) VALUES (1003, TIMESTAMP '2024-01-05 00:00:00 UTC', 0.9)`,
    });

    // Latest row per driver at or before the cut-off: the shape of a point-in-time join.
    const [rows] = await bigquery.query({
      query: `
        SELECT driver_id, event_ts, conv_rate FROM (
          SELECT *, ROW_NUMBER() OVER (PARTITION BY driver_id ORDER BY event_ts DESC) AS rn
          FROM ${table}
          WHERE event_ts <= @cutoff
        ) WHERE rn = 1
        ORDER BY driver_id`,
      params: { cutoff: new Date('2024-01-03T00:00:00Z') },
      types: { cutoff: 'TIMESTAMP' },
    });
    expect(
      rows.map((r: { driver_id: number; event_ts: { value: string }; conv_rate: number }) => ({
        driver_id: r.driver_id,
        event_ts: r.event_ts.value,
        conv_rate: r.conv_rate,
      })),
    ).toEqual([
      { driver_id: 1001, event_ts: '2024-01-02T00:00:00.000Z', conv_rate: 0.2 },
      { driver_id: 1002, event_ts: '2024-01-01T12:00:00.000Z', conv_rate: 0.5 },
    ]);

    const [counts] = await bigquery.query({ query: `SELECT COUNT(*) AS n FROM ${table} WHERE driver_id = 1003` });
    expect(counts).toEqual([{ n: 1 }]);
  });
});

function rejectAfter(ms: number, what: string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms).unref());
}
