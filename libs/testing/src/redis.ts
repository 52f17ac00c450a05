import { Socket } from 'node:net';
import path from 'node:path';
import { freePort } from './ports';
import { locateRedisServer } from './prerequisites';
import { sharedSupervisor, waitUntil, type ManagedProcess, type Supervisor } from './supervisor';

export interface RedisOptions {
  /** Defaults to the redis-server found on PATH (see ensurePrerequisites). */
  redisServer?: string;
  supervisor?: Supervisor;
  port?: number;
  /** Extra redis-server arguments, e.g. ['--cluster-enabled', 'yes'] for a cluster node. */
  extraArgs?: readonly string[];
  timeoutMs?: number;
}

export interface RunningRedis {
  host: string;
  port: number;
  /** redis://127.0.0.1:<port> */
  url: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** One redis-server on 127.0.0.1, no persistence, data folder in the supervisor's temp dir. */
export async function startRedis(options: RedisOptions = {}): Promise<RunningRedis> {
  const redisServer = options.redisServer ?? locateRedisServer();
  if (redisServer === undefined) throw new Error('redis-server is not installed: run `npm test`, which installs it');
  const supervisor = options.supervisor ?? sharedSupervisor();
  const host = '127.0.0.1';
  const port = options.port ?? (await freePort());
  const dir = supervisor.makeDir(`redis-${port}`);
  const proc = supervisor.spawn({
    name: `redis:${port}`,
    command: redisServer,
    args: [
      '--bind',
      host,
      '--port',
      String(port),
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      '--protected-mode',
      'yes',
      '--loglevel',
      'warning',
      ...(options.extraArgs ?? []),
    ],
    cwd: dir,
    logFile: path.join(dir, 'redis.log'),
  });
  try {
    await waitUntil(() => answersPing(host, port), {
      what: `redis on ${host}:${port}`,
      timeoutMs: options.timeoutMs ?? 15_000,
      process: proc,
    });
  } catch (error) {
    await proc.stop(0);
    throw error;
  }
  return { host, port, url: `redis://${host}:${port}`, process: proc, stop: () => proc.stop() };
}

/** Speaks just enough RESP to know the server answers commands, not merely accepts sockets. */
function answersPing(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.connect(port, host, () => socket.write('PING\r\n'));
  });
}
