import { allowListProblems, brokerAllowed, LOOPBACK_ALLOW_LIST, sourceEndpointProblems } from './endpoints';
import type { EndpointAllowList } from './endpoints';

const allow = (kafkaBrokers: string[], schemaRegistries: string[] = []): EndpointAllowList => ({ kafkaBrokers, schemaRegistries });
const kafka = (bootstrapServers: string[], schemaRegistryUrl?: string) =>
  ({
    name: 's',
    kind: {
      case: 'kafka',
      value: {
        bootstrapServers,
        messageFormat: {
          format:
            schemaRegistryUrl === undefined
              ? { case: 'json', value: {} }
              : { case: 'avro', value: { schema: { case: 'schemaRegistryUrl', value: schemaRegistryUrl } } },
        },
      },
    },
  }) as never;

test.each([
  ['localhost:9092', true],
  ['LOCALHOST:9092', true],
  ['127.0.0.1:1', true],
  ['[::1]:9092', true],
  ['127.0.0.2:9092', false],
  ['10.1.2.3:9092', false],
  ['localhost.evil.example:9092', false],
  ['localhost', false],
  ['localhost:*', false],
  ['user@localhost:9092', false],
])('loopback default: broker %s allowed = %s', (broker, expected) => {
  expect(sourceEndpointProblems(kafka([broker]), LOOPBACK_ALLOW_LIST).length === 0).toBe(expected);
});

test('patterns: exact host and port, *.domain (not the domain itself), * port, * host', () => {
  const list = allow(['*.kafka.internal:9092', 'broker:*', '*:19092']);
  const ok = (b: string): boolean => sourceEndpointProblems(kafka([b]), list).length === 0;
  expect(['a.kafka.internal:9092', 'x.y.kafka.internal:9092', 'broker:1', 'anything:19092'].filter((b) => !ok(b))).toEqual([]);
  expect(['kafka.internal:9092', 'a.kafka.internal:9093', 'evilkafka.internal:9092', 'broker.x:1', 'anything:19093'].filter(ok)).toEqual([]);
});

test('schema registry URLs: the scheme port when none is written; only http(s)', () => {
  const list = allow([], ['registry.internal:443', 'localhost:8081']);
  const ok = (url: string): boolean => sourceEndpointProblems(kafka(['x:1'], url), list).filter((p) => p.field.includes('schema')).length === 0;
  expect(ok('https://registry.internal/subjects')).toBe(true);
  expect(ok('http://registry.internal/')).toBe(false);
  expect(ok('http://localhost:8081')).toBe(true);
  expect(ok('http://localhost:8081@169.254.169.254/')).toBe(false);
  expect(ok('ftp://localhost:8081')).toBe(false);
  expect(ok('not a url')).toBe(false);
});

test('the socket-level check takes raw hosts, IPv6 without brackets included', () => {
  expect(brokerAllowed(LOOPBACK_ALLOW_LIST, '::1', 9092)).toBe(true);
  expect(brokerAllowed(LOOPBACK_ALLOW_LIST, '127.0.0.1', 9092)).toBe(true);
  expect(brokerAllowed(LOOPBACK_ALLOW_LIST, '10.1.2.3', 9092)).toBe(false);
});

test('malformed patterns are named with their key', () => {
  expect(allowListProblems(allow(['ok:1', 'no-port', 'ka*fka:1'], ['*.x:*']))).toEqual([
    { key: 'endpoints.kafkaBrokers', problem: expect.stringContaining('"no-port" is not host:port') },
    { key: 'endpoints.kafkaBrokers', problem: expect.stringContaining('a * in the host must be the whole host') },
  ]);
});
