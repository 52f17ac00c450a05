// `npm start` binds every listener to loopback unless told otherwise, and what it logs is
// what the sockets really are: the addresses are read from the kernel (/proc/<pid>/net/tcp
// and the process's socket inodes), not from the configuration.
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NpmStarts } from './npm-start';

jest.setTimeout(180_000);

const work = mkdtempSync(path.join(os.tmpdir(), 'larder-binds-'));
const stores = new NpmStarts();

/** "a.b.c.d:port" of a /proc/net/tcp local address ("0100007F:1F90", little-endian IPv4). */
function ipv4(hex: string): string {
  const [addr, port] = hex.split(':') as [string, string];
  const bytes = [6, 4, 2, 0].map((i) => parseInt(addr.slice(i, i + 2), 16));
  return `${bytes.join('.')}:${parseInt(port, 16)}`;
}

/** "[v6]:port" of a /proc/net/tcp6 local address (four little-endian 32-bit words). */
function ipv6(hex: string): string {
  const [addr, port] = hex.split(':') as [string, string];
  const words = [0, 8, 16, 24].map((i) =>
    addr
      .slice(i, i + 8)
      .match(/../g)!
      .reverse()
      .join(''),
  );
  const groups = words
    .join('')
    .match(/..../g)!
    .map((g) => parseInt(g, 16).toString(16));
  return `[${groups.join(':')}]:${parseInt(port, 16)}`;
}

/** The listening TCP sockets of one process, as "host:port", read from the kernel. */
function listeningSockets(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1] as string);
    } catch {
      // The descriptor closed while we listed them.
    }
  }
  const out: string[] = [];
  for (const [file, format] of [
    ['tcp', ipv4],
    ['tcp6', ipv6],
  ] as const) {
    for (const line of readFileSync(`/proc/${pid}/net/${file}`, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address is field 1, st field 3 (0A = LISTEN), inode field 9.
      if (fields.length < 10 || fields[3] !== '0A' || !inodes.has(fields[9] as string)) continue;
      out.push(format(fields[1] as string));
    }
  }
  return out.sort();
}

/** Every "host:port" the services logged as where they listen. */
function loggedListeners(log: string): string[] {
  const out: string[] = [];
  for (const line of log.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as Record<string, unknown>;
    if (typeof entry['msg'] !== 'string' || !entry['msg'].includes('listening')) continue;
    for (const key of ['grpc', 'metrics', 'http', 'feastGrpc']) if (typeof entry[key] === 'string') out.push(entry[key].replace(/^http:\/\//, ''));
  }
  return out.sort();
}

function startStore(name: string, env: Record<string, string>): Promise<{ pid: number; log: string }> {
  // No LARDER_*_HOST: the defaults are what is under test.
  return stores.start(name, path.join(work, name), { LARDER_PORT_BASE: '0', LARDER_KAFKA_ENABLED: 'false', LARDER_LOG_LEVEL: 'info', ...env });
}

afterAll(async () => {
  await stores.stopAll();
  rmSync(work, { recursive: true, force: true });
});

test('npm start binds all thirteen listeners to 127.0.0.1 by default, and logs exactly the addresses bound', async () => {
  const { pid, log } = await startStore('default', {});
  const sockets = listeningSockets(pid);
  // Five gRPC servers, five metrics endpoints, the HTTP gateway, the push endpoint and the web UI.
  expect(sockets).toHaveLength(13);
  expect(sockets.filter((s) => !s.startsWith('127.0.0.1:'))).toEqual([]);
  expect(loggedListeners(log)).toEqual(sockets);
  // The summary table shows the bound addresses too.
  for (const line of log.split('\n').filter((l) => / grpc .* metrics /.test(l))) {
    const [grpc, metrics] = [/ grpc (\S+)/.exec(line)![1]!, / metrics http:\/\/(\S+)/.exec(line)![1]!];
    expect(sockets).toEqual(expect.arrayContaining([grpc, metrics]));
  }
});

test('LARDER_<SERVICE>_BIND_HOST moves one service: its three listeners bind there and are logged there (the UI too); the Feast port follows online serving', async () => {
  // Other loopback addresses, so nothing listens beyond this machine even here.
  const { pid, log } = await startStore('ingestion-moved', {
    LARDER_INGESTION_BIND_HOST: '127.0.0.2',
    LARDER_UI_BIND_HOST: '127.0.0.3',
    LARDER_ONLINE_SERVING_BIND_HOST: '127.0.0.4',
    LARDER_FEAST_GRPC_PORT: '0',
  });
  const sockets = listeningSockets(pid);
  // Online serving's fourth listener: serving.feastGrpcPort, on the service's bind host.
  expect(sockets).toHaveLength(14);
  expect(sockets.filter((s) => s.startsWith('127.0.0.2:'))).toHaveLength(3);
  expect(sockets.filter((s) => s.startsWith('127.0.0.3:'))).toHaveLength(1);
  expect(sockets.filter((s) => s.startsWith('127.0.0.4:'))).toHaveLength(4);
  expect(sockets.filter((s) => s.startsWith('127.0.0.1:'))).toHaveLength(6);
  expect(loggedListeners(log)).toEqual(sockets);
  expect(log).toMatch(/ingestion +grpc 127\.0\.0\.2:\d+ +metrics http:\/\/127\.0\.0\.2:\d+/);
  expect(log).toMatch(/online-serving +grpc 127\.0\.0\.4:\d+ +metrics http:\/\/127\.0\.0\.4:\d+ feastGrpc 127\.0\.0\.4:\d+/);
  expect(log).toMatch(/Web UI: http:\/\/127\.0\.0\.3:\d+ \(bound 127\.0\.0\.3:\d+\)/);
});
