// The Kubernetes base must agree with the services it deploys: a probe on the
// wrong port would keep every pod out of its Service.
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadFeatureRepo } from '@larder/feature-repo';
import { registryV1 } from '@larder/proto';
import { bindHost, loadConfig, SERVICE_NODE_FLAGS } from '@larder/rpc';
import { parseAllDocuments } from 'yaml';
import { ingestionService } from '@larder/ingestion-app';
import { materializationService } from '@larder/materialization-app';
import { offlineRetrievalService } from '@larder/offline-retrieval-app';
import { onlineServingService } from '@larder/online-serving-app';
import { registryService } from '@larder/registry-service';
import { REPO_ROOT as root } from '@larder/testing';

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

const kustomization = manifests('kustomization.yaml')[0] as unknown as {
  namespace: string;
  resources: string[];
  configMapGenerator: Array<{ files: string[] }>;
};
const SHARED_RESOURCES = ['namespace.yaml', 'service-accounts.yaml', 'issuer-discovery.yaml'];

test('the kustomization lists one manifest per service, the namespace and identities, and the shared config file', () => {
  expect(kustomization.resources.sort()).toEqual([...SHARED_RESOURCES, ...services.map((s) => `${s.name}.yaml`)].sort());
  for (const file of [...kustomization.resources, ...kustomization.configMapGenerator.flatMap((g) => g.files)]) {
    expect(existsSync(path.join(base, file))).toBe(true);
  }
  expect(manifests('namespace.yaml')[0]?.metadata.name).toBe(kustomization.namespace);
});

/** The env of a Deployment's container, by name. */
function envOf(deployment: Manifest | undefined): Record<string, string> {
  const container = deployment?.spec.template.spec.containers[0];
  return Object.fromEntries(container.env.map((e: { name: string; value: string }) => [e.name, e.value]));
}

/** Where a Deployment mounts each volume, by volume name. */
function mountsOf(deployment: Manifest | undefined): Record<string, string> {
  const container = deployment?.spec.template.spec.containers[0];
  return Object.fromEntries(container.volumeMounts.map((m: { name: string; mountPath: string }) => [m.name, m.mountPath]));
}

const deployments = services.map((s) => manifests(`${s.name}.yaml`)[0]);
const serviceAccounts = manifests('service-accounts.yaml')
  .filter((m) => m.kind === 'ServiceAccount')
  .map((m) => m.metadata.name);

test('every service has its own service account; the operator is one of them, the same everywhere', () => {
  for (const [i, service] of services.entries()) {
    const pod = deployments[i]?.spec.template.spec;
    expect(pod.serviceAccountName).toBe(`larder-${service.name}`);
    expect(serviceAccounts).toContain(pod.serviceAccountName);
    // The API server's token stays out; the pod gets one for Larder only.
    expect(pod.automountServiceAccountToken).toBe(false);
  }
  const operators = new Set(deployments.map((d) => envOf(d)['LARDER_AUTH_OPERATORS']));
  expect(operators.size).toBe(1);
  const [operator] = [...operators];
  expect(operator).toBe(`sa:${kustomization.namespace}/larder-admin`);
  expect(serviceAccounts).toContain('larder-admin');
});

test('the services reach the registry at its Service, by the name its certificate must carry', () => {
  const [registry] = manifests('registry.yaml').filter((m) => m.kind === 'Service');
  const grpcPort = registry?.spec.ports.find((p: { name: string }) => p.name === 'grpc').port;
  for (const [i, service] of services.entries()) {
    if (service.name === 'registry') continue;
    expect(envOf(deployments[i])['LARDER_REGISTRY_ADDRESS']).toBe(`${registry?.metadata.name}:${grpcPort}`);
  }
});

test('the default permission set grants Larder’s own service accounts what they call each other for', () => {
  const permissionsYaml = readFileSync(path.join(root, 'deploy/kubernetes/permissions.yaml'), 'utf8');
  const docs = parseAllDocuments(permissionsYaml).map((d) => d.toJS() as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any
  const ACTIONS = [
    'describe',
    'create',
    'update',
    'delete',
    'read_online',
    'read_offline',
    'write_online',
    'write_offline',
    'materialize',
    'manage_permissions',
  ];
  for (const doc of docs) {
    expect(doc['kind']).toBe('Permission');
    expect(doc['actions'].length).toBeGreaterThan(0);
    for (const action of doc['actions']) expect(ACTIONS).toContain(action);
  }
  const grants = (sa: string): string[] =>
    docs
      .filter((d) => (d['policy']['service_accounts'] ?? []).includes(`${kustomization.namespace}/${sa}`))
      .flatMap((d) => d['actions'].map((a: string) => `${a} ${(d['types'] ?? ['*']).join(',')}`));
  for (const sa of ['larder-online-serving', 'larder-offline-retrieval', 'larder-materialization', 'larder-ingestion']) {
    expect(serviceAccounts).toContain(sa);
    expect(grants(sa)).toContain('describe *');
  }
  expect(grants('larder-materialization')).toContain('materialize feature_view');
  expect(grants('larder-offline-retrieval')).toEqual(expect.arrayContaining(['create saved_dataset', 'update saved_dataset']));
  expect(grants('larder-ingestion')).toEqual(expect.arrayContaining(['write_online feature_view', 'write_offline feature_view']));
  expect(grants('larder-registry')).toEqual([]);
});

test('the default permission set loads as a feature repo definition, every permission valid', async () => {
  const repo = mkdtempSync(path.join(os.tmpdir(), 'larder-deploy-permissions-'));
  try {
    writeFileSync(path.join(repo, 'larder.yaml'), 'project: team\n');
    copyFileSync(path.join(root, 'deploy/kubernetes/permissions.yaml'), path.join(repo, 'permissions.yaml'));
    const { set } = await loadFeatureRepo(repo);
    const docs = parseAllDocuments(readFileSync(path.join(root, 'deploy/kubernetes/permissions.yaml'), 'utf8'));
    expect(set.permissions.map((p) => p.name).sort()).toEqual(docs.map((d) => String((d.toJS() as { name: string }).name)).sort());
    const materialization = set.permissions.find(
      (p) => p.policy?.serviceAccounts.includes(`${kustomization.namespace}/larder-materialization`) && p.actions.includes(registryV1.Action.MATERIALIZE),
    );
    expect(materialization?.types).toEqual([registryV1.ObjectKind.FEATURE_VIEW]);
  } finally {
    rmSync(repo, { recursive: true, force: true });
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

  test('the Deployment runs the app on its default ports, with /readyz readiness and /healthz liveness over HTTPS', () => {
    expect(deployment?.kind).toBe('Deployment');
    const container = deployment?.spec.template.spec.containers[0];
    expect(existsSync(path.join(root, container.args[0]))).toBe(true);
    expect(container.args[0]).toBe(`apps/${name}/src/main.ts`);
    const ports = Object.fromEntries(container.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]));
    expect(ports).toEqual({ grpc: config.grpc.port, metrics: config.metrics.port });
    // The kubelet's grpc probe speaks no TLS: readiness is /readyz, which follows the gRPC health status.
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics', scheme: 'HTTPS' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics', scheme: 'HTTPS' });
    expect(deployment?.spec.template.metadata.annotations['prometheus.io/port']).toBe(String(config.metrics.port));
    expect(deployment?.spec.template.metadata.annotations['prometheus.io/scheme']).toBe('https');
  });

  test('TLS on every listener from the mounted secret, trusted by the clients it dials', () => {
    const env = envOf(deployment);
    const tlsDir = mountsOf(deployment)['tls'];
    const volume = deployment?.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'tls');
    expect(volume.secret.secretName).toBe('larder-tls');
    expect(env['LARDER_TLS_CERT_FILE']).toBe(`${tlsDir}/tls.crt`);
    expect(env['LARDER_TLS_KEY_FILE']).toBe(`${tlsDir}/tls.key`);
    expect(env['LARDER_CLIENT_TLS_CA_FILE']).toBe(`${tlsDir}/ca.crt`);
    const deployed = loadConfig(service.schema, { file: path.join(base, 'larder.yaml'), env }) as unknown as {
      tls: { certFile: string; keyFile: string };
      client: { tls: { caFile: string }; tokenFile: string };
    };
    expect(deployed.tls.certFile).toBe(`${tlsDir}/tls.crt`);
    expect(deployed.tls.keyFile).toBe(`${tlsDir}/tls.key`);
    expect(deployed.client.tls.caFile).toBe(`${tlsDir}/ca.crt`);
  });

  test('callers are authenticated by the cluster issuer; the pod calls others with a projected token of the audience the services accept', () => {
    const env = envOf(deployment);
    const identityDir = mountsOf(deployment)['identity'];
    const sources = deployment?.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'identity').projected.sources;
    const token = sources.find((s: Record<string, unknown>) => s['serviceAccountToken'] !== undefined).serviceAccountToken;
    expect(env['LARDER_CLIENT_TOKEN_FILE']).toBe(`${identityDir}/${token.path}`);
    expect(env['LARDER_AUTH_MODES']).toBe('oidc');
    expect(env['LARDER_AUTH_OIDC_AUDIENCES']?.split(',')).toContain(token.audience);
    expect(env['LARDER_AUTH_OIDC_ISSUER']).toBe('https://kubernetes.default.svc');
    expect(env['LARDER_AUTH_OIDC_JWKS_URL']).toBe('https://kubernetes.default.svc/openid/v1/jwks');
    // The API server's certificate is signed by the cluster CA every namespace has a copy of.
    const ca = sources.find((s: Record<string, unknown>) => s['configMap'] !== undefined).configMap;
    expect(ca.name).toBe('kube-root-ca.crt');
    expect(env['LARDER_AUTH_OIDC_CA_FILE']).toBe(`${identityDir}/${ca.items[0].path}`);
    expect(env['LARDER_AUTH_METRICS_READERS']).toMatch(/^(sa|user|group|namespace|cert):/);
    const deployed = loadConfig(service.schema, { file: path.join(base, 'larder.yaml'), env }) as unknown as { client: { tokenFile: string } };
    expect(deployed.client.tokenFile).toBe(`${identityDir}/${token.path}`);
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
