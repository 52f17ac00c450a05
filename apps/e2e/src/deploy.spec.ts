// The Kubernetes base must agree with the services it deploys: a probe on the
// wrong port would keep every pod out of its Service.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { bindHost, loadConfig, SERVICE_NODE_FLAGS } from '@larder/rpc';
import { parseAllDocuments } from 'yaml';
import { ingestionService } from '../../ingestion/src/service';
import { materializationService } from '../../materialization/src/service';
import { offlineRetrievalService } from '../../offline-retrieval/src/service';
import { onlineServingService } from '../../online-serving/src/service';
import { registryService } from '../../registry/src/service';
import { REPO_ROOT as root } from './paths';

const base = path.join(root, 'deploy/kubernetes/base');
const services = [registryService, onlineServingService, offlineRetrievalService, materializationService, ingestionService];

interface Manifest {
  kind: string;
  metadata: { name: string };
  spec: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

function manifests(file: string): Manifest[] {
  return parseAllDocuments(readFileSync(path.join(base, file), 'utf8')).map((d) => d.toJS() as Manifest);
}

test('the kustomization lists one manifest per service and the shared config file', () => {
  const kustomization = manifests('kustomization.yaml')[0] as unknown as { resources: string[]; configMapGenerator: Array<{ files: string[] }> };
  expect(kustomization.resources.sort()).toEqual(services.map((s) => `${s.name}.yaml`).sort());
  for (const file of kustomization.configMapGenerator.flatMap((g) => g.files)) {
    expect(existsSync(path.join(base, file))).toBe(true);
  }
});

test('the image and npm start run the services with SERVICE_NODE_FLAGS', () => {
  const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(readFileSync(path.join(root, 'deploy/Dockerfile'), 'utf8'))?.[1];
  expect(JSON.parse(entrypoint ?? 'null')).toEqual(['node', ...SERVICE_NODE_FLAGS, '--import', 'tsx']);
  const scripts = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  expect(scripts['start']).toBe(['node', ...SERVICE_NODE_FLAGS, '--import', 'tsx', 'tools/start.ts'].join(' '));
});

test('the image binds the services to 0.0.0.0 explicitly (their default is loopback)', () => {
  expect(readFileSync(path.join(root, 'deploy/Dockerfile'), 'utf8')).toMatch(/^ENV LARDER_BIND_HOST=0\.0\.0\.0$/m);
});

test('the image confines offline file paths to data folders, not the code in its working directory', () => {
  const dockerfile = readFileSync(path.join(root, 'deploy/Dockerfile'), 'utf8');
  const workdir = /^WORKDIR (\S+)$/m.exec(dockerfile)?.[1] ?? '';
  const read = /LARDER_OFFLINE_READ_ROOTS=(\S+)/.exec(dockerfile)?.[1];
  const write = /LARDER_OFFLINE_WRITE_ROOT=(\S+)/.exec(dockerfile)?.[1];
  expect(workdir).not.toBe('');
  for (const folder of [...(read ?? '').split(','), write ?? '']) {
    expect(folder).toMatch(/^\/var\/lib\/larder\//);
    expect(folder.startsWith(workdir)).toBe(false);
  }
});

test('the shared config file is valid for every service', () => {
  for (const service of services) {
    expect(() => loadConfig(service.schema, { file: path.join(base, 'larder.yaml'), env: {} })).not.toThrow();
  }
});

describe.each(services.map((s) => [s.name, s] as const))('%s', (name, service) => {
  const config = loadConfig(service.schema, { env: {} });
  const [deployment, svc] = manifests(`${name}.yaml`);

  test('the Deployment runs the app on its default ports, with gRPC readiness and /healthz liveness', () => {
    expect(deployment?.kind).toBe('Deployment');
    const container = deployment?.spec.template.spec.containers[0];
    expect(existsSync(path.join(root, container.args[0]))).toBe(true);
    expect(container.args[0]).toBe(`apps/${name}/src/main.ts`);
    const ports = Object.fromEntries(container.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]));
    expect(ports).toEqual({ grpc: config.grpc.port, metrics: config.metrics.port });
    expect(container.readinessProbe.grpc.port).toBe(config.grpc.port);
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(deployment?.spec.template.metadata.annotations['prometheus.io/port']).toBe(String(config.metrics.port));
  });

  test('the pod outlives the service grace period, so a drain is never cut short', () => {
    const container = deployment?.spec.template.spec.containers[0];
    const env = Object.fromEntries(container.env.map((e: { name: string; value: string }) => [e.name, e.value]));
    const grace = loadConfig(service.schema, { env }).shutdown.gracePeriod;
    expect(grace).toBeLessThan(deployment?.spec.template.spec.terminationGracePeriodSeconds * 1000);
  });

  test('the services bind to loopback by default; the Deployment binds every listener to 0.0.0.0 explicitly', () => {
    const listeners = (c: { bind: { host: string }; grpc: { host: string }; metrics: { host: string }; http?: { host: string } }): string[] =>
      [c.grpc.host, c.metrics.host, ...(c.http === undefined ? [] : [c.http.host])].map((own) => bindHost(own, c));
    const defaults = listeners(config as never);
    expect(new Set(defaults)).toEqual(new Set(['127.0.0.1']));
    const container = deployment?.spec.template.spec.containers[0];
    const env = Object.fromEntries(container.env.map((e: { name: string; value: string }) => [e.name, e.value]));
    expect(env['LARDER_BIND_HOST']).toBe('0.0.0.0');
    const deployed = listeners(loadConfig(service.schema, { file: path.join(base, 'larder.yaml'), env }) as never);
    expect(deployed).toEqual(defaults.map(() => '0.0.0.0'));
  });

  test('the Service exposes the same ports and selects the Deployment', () => {
    expect(svc?.kind).toBe('Service');
    expect(svc?.spec.selector).toEqual(deployment?.spec.selector.matchLabels);
    const ports = Object.fromEntries(svc?.spec.ports.map((p: { name: string; port: number }) => [p.name, p.port]));
    expect(ports).toEqual({ grpc: config.grpc.port, metrics: config.metrics.port });
  });
});
