import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from './config-error';
import { parseDurationMs } from './duration';
import { bool, duration, int, oneOf, string, stringList } from './keys';
import { loadConfig } from './load';

const schema = {
  grpc: {
    port: int({ default: 6566, min: 0, max: 65535, env: 'LARDER_GRPC_PORT' }),
    host: string({ default: '0.0.0.0', env: 'LARDER_GRPC_HOST' }),
  },
  store: {
    type: oneOf(['redis', 'sqlite'], { default: 'sqlite', env: 'LARDER_STORE_TYPE' }),
    redis: { nodes: stringList({ default: ['localhost:6379'], env: 'LARDER_REDIS_NODES' }) },
    cache: bool({ default: true, env: 'LARDER_STORE_CACHE' }),
  },
  timeout: duration({ default: 30_000, env: 'LARDER_TIMEOUT' }),
  project: string({ env: 'LARDER_PROJECT' }),
} as const;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'larder-config-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeYaml(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message.split('\n');
  }
  throw new Error('expected a ConfigError');
}

test('defaults < file < environment < overrides, typed', () => {
  const file = writeYaml(
    'ok.yaml',
    'grpc:\n  port: 7000\n  host: 127.0.0.1\nstore:\n  type: redis\n  redis:\n    nodes: [a:1, b:2]\ntimeout: 5m\nproject: drivers\n',
  );
  const config = loadConfig(schema, { file, env: { LARDER_GRPC_HOST: '10.0.0.1', LARDER_STORE_CACHE: 'false' }, overrides: { project: 'override' } });
  expect(config).toEqual({
    grpc: { port: 7000, host: '10.0.0.1' },
    store: { type: 'redis', redis: { nodes: ['a:1', 'b:2'] }, cache: false },
    timeout: 300_000,
    project: 'override',
  });
  const fromEnv = loadConfig(schema, { env: { LARDER_PROJECT: 'p', LARDER_GRPC_PORT: '0', LARDER_REDIS_NODES: 'x:1, y:2', LARDER_TIMEOUT: '1h30m' } });
  expect(fromEnv.grpc.port).toBe(0);
  expect(fromEnv.store.redis.nodes).toEqual(['x:1', 'y:2']);
  expect(fromEnv.timeout).toBe(5_400_000);
});

test('a bad environment value names the key, the value and the variable', () => {
  expect(issuesOf(() => loadConfig(schema, { env: { LARDER_GRPC_PORT: 'abc', LARDER_PROJECT: 'p' } }))).toEqual([
    'invalid configuration: grpc.port: expected an integer from 0 to 65535 but got "abc" (environment variable LARDER_GRPC_PORT)',
  ]);
});

test('a bad file value names the file, line and column', () => {
  const file = writeYaml('larder.yaml', 'project: p\ngrpc:\n  host: localhost\n  port:   99999\n');
  expect(issuesOf(() => loadConfig(schema, { file, env: {} }))).toEqual([
    `invalid configuration: grpc.port: expected an integer from 0 to 65535 but got 99999 (${file} line 4, column 11)`,
  ]);
});

test('unknown keys, several bad values and a missing required key are all reported', () => {
  const file = writeYaml('many.yaml', 'grpc:\n  prot: 1\nstore:\n  type: mongo\n  cache: maybe\ntimeout: 30\nextra: true\n');
  const lines = issuesOf(() => loadConfig(schema, { file, env: { LARDER_GRPC_PORT: '-1' } }));
  expect(lines[0]).toBe('invalid configuration (7 problems):');
  expect(lines.slice(1)).toEqual([
    `  - grpc.prot: unknown key (known keys in grpc: grpc.port, grpc.host) (${file} line 2, column 3)`,
    `  - store.type: expected one of "redis", "sqlite" but got "mongo" (${file} line 4, column 9)`,
    `  - store.cache: expected a boolean (true or false) but got "maybe" (${file} line 5, column 10)`,
    `  - timeout: expected a duration such as "500ms", "30s" or "5m" but got 30 (${file} line 6, column 10)`,
    `  - extra: unknown key (known keys in the top level: grpc, store, timeout, project) (${file} line 7, column 1)`,
    '  - grpc.port: expected an integer from 0 to 65535 but got "-1" (environment variable LARDER_GRPC_PORT)',
    '  - project: a value is required (a string) (set it in the configuration file or with LARDER_PROJECT)',
  ]);
});

test('YAML syntax errors and unreadable files are ConfigErrors with a position', () => {
  const broken = writeYaml('broken.yaml', 'grpc:\n  port: [1, 2\n');
  const [line] = issuesOf(() => loadConfig(schema, { file: broken, env: { LARDER_PROJECT: 'p' } }));
  expect(line).toMatch(new RegExp(`invalid YAML: .* \\(${broken.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} line \\d+, column \\d+\\)$`));
  expect(issuesOf(() => loadConfig(schema, { file: join(dir, 'missing.yaml'), env: { LARDER_PROJECT: 'p' } }))).toEqual([
    `invalid configuration: cannot read the configuration file: file not found (${join(dir, 'missing.yaml')})`,
  ]);
});

test('durations', () => {
  expect(parseDurationMs('250ms')).toBe(250);
  expect(parseDurationMs('1m30s')).toBe(90_000);
  expect(parseDurationMs('0')).toBe(0);
  expect(parseDurationMs('30')).toBeUndefined();
  expect(parseDurationMs('5 minutes')).toBeUndefined();
});

test('a preset (a feature repo) sets keys by their environment variable, below the file and the environment', () => {
  const preset = {
    byEnv: new Map<string, { value: unknown; source: string }>([
      ['LARDER_STORE_TYPE', { value: 'redis', source: 'repo/larder.yaml line 3, column 9 (online_store.type)' }],
      ['LARDER_PROJECT', { value: 'from_repo', source: 'repo/larder.yaml line 1, column 10 (project)' }],
      ['LARDER_GRPC_HOST', { value: 'repo-host', source: 'repo/larder.yaml' }],
      ['LARDER_GRPC_PORT', { value: 7001, source: 'repo/larder.yaml' }],
    ]),
  };
  const file = writeYaml('over-preset.yaml', 'grpc:\n  port: 7002\n');
  const config = loadConfig(schema, { preset, file, env: { LARDER_GRPC_HOST: 'env-host' } });
  expect([config.store.type, config.project, config.grpc.host, config.grpc.port]).toEqual(['redis', 'from_repo', 'env-host', 7002]);
  expect(loadConfig(schema, { preset, env: {} }).grpc.port).toBe(7001);
});

test("a bad preset value is reported with the preset's file and key", () => {
  const preset = { byEnv: new Map([['LARDER_STORE_TYPE', { value: 'mongo', source: '/srv/repo/larder.yaml line 4, column 9 (online_store.type)' }]]) };
  expect(issuesOf(() => loadConfig(schema, { preset, env: { LARDER_PROJECT: 'p' } }))).toEqual([
    'invalid configuration: store.type: expected one of "redis", "sqlite" but got "mongo" (/srv/repo/larder.yaml line 4, column 9 (online_store.type))',
  ]);
});
