import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseListening, startLarderApp } from './larder-app';

const work = mkdtempSync(path.join(os.tmpdir(), 'larder-app-spec-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A fake app folder `<appsDir>/<name>/src/main.ts` with this code. */
function fakeApp(name: string, code: string): string {
  const appsDir = path.join(work, `apps-${name}`);
  mkdirSync(path.join(appsDir, name, 'src'), { recursive: true });
  writeFileSync(path.join(appsDir, name, 'src/main.ts'), code);
  return appsDir;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

function httpStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
}

test('parseListening reads the ports of the listening line only', () => {
  expect(parseListening('{"level":"info","msg":"listening","grpcPort":5001,"metricsPort":9001}')).toEqual({ grpcPort: 5001, metricsPort: 9001 });
  expect(parseListening('{"msg":"listening","grpcPort":5001}')).toEqual({ grpcPort: 5001, metricsPort: undefined });
  expect(parseListening('{"msg":"starting","grpcPort":5001}')).toBeUndefined();
  expect(parseListening('{"msg":"listening"}')).toBeUndefined();
  expect(parseListening('listening on 5001')).toBeUndefined();
});

test('runs the registry on free ports, stops it with SIGTERM, and restarts it on the same port', async () => {
  const env = { LARDER_REGISTRY_LOCATION: path.join(work, 'registry.json') };
  const first = await startLarderApp({ app: 'registry', env });
  let second: Awaited<ReturnType<typeof startLarderApp>> | undefined;
  try {
    expect(first.address).toBe(`127.0.0.1:${first.port}`);
    expect(first.port).toBeGreaterThan(0);
    expect(await canConnect(first.port)).toBe(true);
    expect(await httpStatus(`http://127.0.0.1:${first.metricsPort}/metrics`)).toBe(200);
    expect(first.output.some((line) => parseListening(line) !== undefined)).toBe(true);

    const exit = await first.stop(10_000);
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(await canConnect(first.port)).toBe(false);

    second = await startLarderApp({ app: 'registry', env, port: first.port });
    expect(second.port).toBe(first.port);
    expect(await canConnect(second.port)).toBe(true);
  } finally {
    await first.stop(1_000);
    await second?.stop(10_000);
  }
}, 60_000);

test('an app that exits before listening fails the start with what it printed', async () => {
  const appsDir = fakeApp('crashing', "console.error('no config here');\nprocess.exit(3);\n");
  await expect(startLarderApp({ app: 'crashing', appsDir })).rejects.toThrow(/crashing exited \(3\) before listening:\nstderr: no config here/);
});

test('an app that never says where it listens fails after the start timeout', async () => {
  const appsDir = fakeApp('silent', 'setInterval(() => undefined, 1000);\n');
  await expect(startLarderApp({ app: 'silent', appsDir, startTimeoutMs: 3_000 })).rejects.toThrow(/silent printed no listening line within 3000 ms/);
});

test('an app that ignores SIGTERM is killed after the grace period, and the exit says so', async () => {
  const appsDir = fakeApp(
    'stubborn',
    [
      "process.on('SIGTERM', () => undefined);",
      "console.log(JSON.stringify({ msg: 'listening', grpcPort: 1, metricsPort: 2 }));",
      'setInterval(() => undefined, 1000);',
      '',
    ].join('\n'),
  );
  const app = await startLarderApp({ app: 'stubborn', appsDir });
  expect(app).toMatchObject({ port: 1, metricsPort: 2, address: '127.0.0.1:1' });
  const exit = await app.stop(500);
  expect(exit.signal).toBe('SIGKILL');
  expect(exit.elapsedMs).toBeGreaterThanOrEqual(500);
}, 30_000);
