import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ProcessOwner } from './supervisor';
import { ensureKubeTools } from './kube-tools';
import type { KubeTools } from './kube-tools';
import { locateTfdv, tfdvPython } from './tfdv';
import { cacheDir } from './cache-dir';

/** Where downloads are kept between runs (cache-dir.ts). */
export { cacheDir };

/** Kafka broker version fetched from Maven Central (org.apache.kafka:kafka_2.13). */
export const KAFKA_VERSION = '4.1.1';
const LOG4J_VERSION = '2.24.3';
const MAVEN_DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';
const POSTGRES_MAJOR = 15;

const bigQueryEmulatorFiles = path.resolve(__dirname, '..', 'bigquery-emulator');

export interface PostgresInstall {
  binDir: string;
  /** The user PostgreSQL runs as when we are root (it refuses to run as root). */
  owner?: ProcessOwner;
}

export interface KafkaInstall {
  version: string;
  libsDir: string;
  java: string;
}

export interface BigQueryEmulatorInstall {
  python: string;
  launcher: string;
}

export interface Prerequisites {
  redisServer: string;
  postgres: PostgresInstall;
  kafka: KafkaInstall;
  bigQuery: BigQueryEmulatorInstall;
  /** Python of the virtualenv holding tensorflow-data-validation (see tfdv.ts). */
  tfdvPython: string;
  /** Debian's chromium, driven headless by the UI's browser tests. */
  chromium: string;
  /** helm, kubeconform and Kubernetes' schemas, for the Helm chart's tests (kube-tools.ts). */
  kube: KubeTools;
}

export type Log = (line: string) => void;

/** Installs whatever is missing (idempotent), one progress line per prerequisite. */
export async function ensurePrerequisites(log: Log = console.log): Promise<Prerequisites> {
  const [redisServer, postgres, kafka, bigQuery, tfdv, chromium, kube] = await Promise.all([
    timed('redis-server', log, ensureRedisServer),
    timed('postgresql', log, ensurePostgres),
    timed(`kafka ${KAFKA_VERSION}`, log, ensureKafka),
    timed('bigquery emulator', log, ensureBigQueryEmulator),
    timed('tfdv 1.16.1', log, ensureTfdv),
    timed('chromium', log, ensureChromium),
    timed('helm and kubeconform', log, ensureKubeTools),
  ]);
  return { redisServer, postgres, kafka, bigQuery, tfdvPython: tfdv, chromium, kube };
}

async function timed<T>(name: string, log: Log, ensure: () => Promise<{ value: T; installed: string | undefined }>): Promise<T> {
  const started = Date.now();
  const { value, installed } = await ensure();
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  log(installed === undefined ? `prerequisite ${name}: present` : `prerequisite ${name}: ${installed} in ${seconds} s`);
  return value;
}

type Ensured<T> = Promise<{ value: T; installed: string | undefined }>;

// --- Redis -----------------------------------------------------------------------

export function locateRedisServer(): string | undefined {
  return which('redis-server') ?? executableOrUndefined('/usr/bin/redis-server');
}

async function ensureRedisServer(): Ensured<string> {
  const found = locateRedisServer();
  if (found !== undefined) return { value: found, installed: undefined };
  await aptInstall(['redis-server']);
  return { value: required(locateRedisServer(), 'redis-server after apt-get install'), installed: 'installed with apt-get' };
}

// --- Chromium --------------------------------------------------------------------

/**
 * Debian's chromium for the browser tests (playwright-core drives it; its own browser
 * downloads cannot work on a machine that reaches only package registries). The DejaVu
 * fonts come along so that text renders the same in screenshots on a bare machine.
 */
export function locateChromium(): string | undefined {
  return which('chromium') ?? executableOrUndefined('/usr/bin/chromium');
}

async function ensureChromium(): Ensured<string> {
  const found = locateChromium();
  if (found !== undefined) return { value: found, installed: undefined };
  await aptInstall(['chromium', 'fonts-dejavu-core']);
  return { value: required(locateChromium(), 'chromium after apt-get install'), installed: 'installed with apt-get' };
}

// --- PostgreSQL ------------------------------------------------------------------

export function locatePostgres(): PostgresInstall | undefined {
  const candidates = [
    ...[which('postgres'), which('initdb')].filter((p): p is string => p !== undefined).map((p) => path.dirname(realpathSync(p))),
    `/usr/lib/postgresql/${POSTGRES_MAJOR}/bin`,
  ];
  const binDir = candidates.find((dir) => isExecutable(path.join(dir, 'initdb')) && isExecutable(path.join(dir, 'postgres')));
  if (binDir === undefined) return undefined;
  const owner = process.getuid?.() === 0 ? systemUser('postgres') : undefined;
  if (process.getuid?.() === 0 && owner === undefined) return undefined;
  return owner === undefined ? { binDir } : { binDir, owner };
}

async function ensurePostgres(): Ensured<PostgresInstall> {
  const found = locatePostgres();
  if (found !== undefined) return { value: found, installed: undefined };
  const steps: string[] = [];
  if (![which('initdb'), `/usr/lib/postgresql/${POSTGRES_MAJOR}/bin/initdb`].some((p) => p !== undefined && isExecutable(p))) {
    await aptInstall([`postgresql-${POSTGRES_MAJOR}`]);
    steps.push('installed with apt-get');
  }
  if (process.getuid?.() === 0 && systemUser('postgres') === undefined) {
    await run('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']);
    steps.push('created user postgres');
  }
  return { value: required(locatePostgres(), 'PostgreSQL binaries'), installed: steps.join(', ') };
}

function systemUser(name: string): ProcessOwner | undefined {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name && uid !== undefined && gid !== undefined) return { uid: Number(uid), gid: Number(gid) };
  }
  return undefined;
}

// --- Kafka -----------------------------------------------------------------------

export function locateKafka(version = KAFKA_VERSION): KafkaInstall | undefined {
  const libsDir = path.join(cacheDir(), `kafka-${version}`, 'libs');
  const java = which('java');
  if (java === undefined || !existsSync(libsDir)) return undefined;
  return { version, libsDir, java };
}

async function ensureKafka(): Ensured<KafkaInstall> {
  const found = locateKafka();
  if (found !== undefined) return { value: found, installed: undefined };
  if (which('java') === undefined) throw new Error('java is not on PATH: Kafka needs a Java 17+ runtime');
  if (which('mvn') === undefined) throw new Error('mvn is not on PATH: Kafka jars are fetched from Maven Central with Maven');

  const home = path.join(cacheDir(), `kafka-${KAFKA_VERSION}`);
  const staging = path.join(home, 'libs.partial');
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(home, { recursive: true });
  const pom = path.join(home, 'pom.xml');
  writeFileSync(pom, kafkaPom());
  await run('mvn', [
    '-B',
    '-q',
    '-f',
    pom,
    `-Dmaven.repo.local=${path.join(cacheDir(), 'm2')}`,
    `${MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies`,
    `-DoutputDirectory=${staging}`,
    '-DincludeScope=runtime',
  ]);
  // Renamed only once complete, so an interrupted download is never mistaken for a cache hit.
  renameSync(staging, path.join(home, 'libs'));
  return { value: required(locateKafka(), 'Kafka jars after mvn'), installed: 'downloaded with mvn' };
}

function kafkaPom(): string {
  const dependency = (groupId: string, artifactId: string, version: string) =>
    `    <dependency><groupId>${groupId}</groupId><artifactId>${artifactId}</artifactId><version>${version}</version></dependency>`;
  return [
    '<project xmlns="http://maven.apache.org/POM/4.0.0">',
    '  <modelVersion>4.0.0</modelVersion>',
    '  <groupId>dev.larder.testing</groupId><artifactId>kafka-broker</artifactId><version>1</version><packaging>pom</packaging>',
    '  <dependencies>',
    dependency('org.apache.kafka', 'kafka_2.13', KAFKA_VERSION),
    // Routes the broker's slf4j logging into log4j2, so our quiet log4j2 config applies to it.
    dependency('org.apache.logging.log4j', 'log4j-slf4j-impl', LOG4J_VERSION),
    '  </dependencies>',
    '</project>',
    '',
  ].join('\n');
}

// --- BigQuery emulator -----------------------------------------------------------

function bigQueryVenv(): string {
  return path.join(cacheDir(), 'venv-bq');
}

function requirementsDigest(): string {
  return createHash('sha256')
    .update(readFileSync(path.join(bigQueryEmulatorFiles, 'requirements.txt')))
    .digest('hex');
}

export function locateBigQueryEmulator(): BigQueryEmulatorInstall | undefined {
  const venv = bigQueryVenv();
  const stamp = path.join(venv, '.larder-requirements');
  if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== requirementsDigest()) return undefined;
  return { python: path.join(venv, 'bin', 'python'), launcher: path.join(bigQueryEmulatorFiles, 'launch.py') };
}

async function ensureBigQueryEmulator(): Ensured<BigQueryEmulatorInstall> {
  const found = locateBigQueryEmulator();
  if (found !== undefined) return { value: found, installed: undefined };
  const python3 = which('python3');
  if (python3 === undefined) throw new Error('python3 is not on PATH: the BigQuery emulator (bqemulator) is a Python package');
  const venv = bigQueryVenv();
  rmSync(venv, { recursive: true, force: true });
  await run(python3, ['-m', 'venv', venv]);
  await run(path.join(venv, 'bin', 'pip'), [
    'install',
    '--quiet',
    '--disable-pip-version-check',
    '--no-input',
    '-r',
    path.join(bigQueryEmulatorFiles, 'requirements.txt'),
  ]);
  writeFileSync(path.join(venv, '.larder-requirements'), requirementsDigest());
  return { value: required(locateBigQueryEmulator(), 'bqemulator after pip install'), installed: 'installed with pip' };
}

// --- TFDV --------------------------------------------------------------------------

async function ensureTfdv(): Ensured<string> {
  const found = locateTfdv();
  if (found !== undefined) return { value: found, installed: undefined };
  return { value: await tfdvPython(), installed: 'installed with uv' };
}

// --- helpers ---------------------------------------------------------------------

let aptQueue: Promise<unknown> = Promise.resolve();

/** apt-get holds a global lock: installs are queued, never run side by side. */
function aptInstall(packages: string[]): Promise<void> {
  const next = aptQueue.then(async () => {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    // We run the binaries ourselves; keep the package from starting a system service.
    const policy = '/usr/sbin/policy-rc.d';
    const ownPolicy = !existsSync(policy);
    if (ownPolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
    try {
      await run('apt-get', ['update', '-qq'], env);
      await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], env);
    } finally {
      if (ownPolicy) unlinkSync(policy);
    }
  });
  aptQueue = next.catch(() => undefined);
  return next;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${output}`));
    });
  });
}

function which(command: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    if (dir === '') continue;
    const candidate = executableOrUndefined(path.join(dir, command));
    if (candidate !== undefined) return candidate;
  }
  return undefined;
}

function executableOrUndefined(file: string): string | undefined {
  return isExecutable(file) ? file : undefined;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} not found`);
  return value;
}
