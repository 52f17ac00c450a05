// The Helm chart (deploy/helm/larder) against what it deploys: helm lint, helm template for
// several value sets, every rendered object validated against Kubernetes' OpenAPI schemas
// (kubeconform, strict), and every rendered larder.yaml loaded by the service that reads it.
// No cluster here: what a real install would add (pods starting, probes answering, policies
// enforced by a CNI) is listed in deploy/README.md.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '@larder/rpc';
import type { ConfigSchema } from '@larder/rpc';
import { locateKubeTools, REPO_ROOT as root } from '@larder/testing';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { ingestionService } from '@larder/ingestion-app';
import { materializationService } from '@larder/materialization-app';
import { offlineRetrievalService } from '@larder/offline-retrieval-app';
import { onlineServingService } from '@larder/online-serving-app';
import { registryService } from '@larder/registry-service';
import { uiAuthIssues, uiConfigSchema } from '@larder/ui';
import type { UiConfig } from '@larder/ui';

const exec = promisify(execFile);
const chart = path.join(root, 'deploy/helm/larder');
const tools = locateKubeTools();
if (tools === undefined) throw new Error('helm and kubeconform are not installed: npm test installs them (libs/testing kube-tools.ts)');
const kube = tools;

/* eslint-disable @typescript-eslint/no-explicit-any */
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

const SCHEMAS: Record<string, ConfigSchema> = {
  registry: registryService.schema,
  'online-serving': onlineServingService.schema,
  'offline-retrieval': offlineRetrievalService.schema,
  materialization: materializationService.schema,
  ingestion: ingestionService.schema,
  ui: uiConfigSchema,
};
const COMPONENTS = Object.keys(SCHEMAS);
const RELEASE = 'larder';

const VALUE_SETS: Record<string, string[]> = {
  defaults: [],
  dev: ['ci/dev-values.yaml'],
  production: ['ci/production-values.yaml'],
  minimal: ['ci/minimal-values.yaml'],
};

const work = mkdtempSync(path.join(os.tmpdir(), 'larder-helm-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function helm(args: string[]): Promise<string> {
  const { stdout } = await exec(kube.helm, args, {
    maxBuffer: 32 * 1024 * 1024,
    env: { ...process.env, HELM_CACHE_HOME: path.join(work, 'cache'), HELM_CONFIG_HOME: path.join(work, 'config'), HELM_DATA_HOME: path.join(work, 'data') },
  });
  return stdout;
}

function valuesArgs(files: readonly string[], extra: Record<string, unknown> = {}): string[] {
  const args = files.flatMap((f) => ['-f', path.join(chart, f)]);
  if (Object.keys(extra).length > 0) {
    const file = path.join(work, `extra-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, stringify(extra));
    args.push('-f', file);
  }
  return args;
}

async function renderText(files: readonly string[], extra: Record<string, unknown> = {}): Promise<string> {
  return helm(['template', RELEASE, chart, '--namespace', 'larder', ...valuesArgs(files, extra)]);
}

async function render(files: readonly string[], extra: Record<string, unknown> = {}): Promise<Manifest[]> {
  return parseAllDocuments(await renderText(files, extra))
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

interface KubeconformResult {
  resources: Array<{ filename: string; kind: string; name: string; version: string; status: string; msg: string }>;
  summary: { valid: number; invalid: number; errors: number; skipped: number };
}

/**
 * kubeconform -strict over rendered YAML, one file per entry (named by its key); exit code 1
 * means invalid, the JSON says which.
 */
async function kubeconform(texts: Record<string, string>): Promise<KubeconformResult> {
  const files = Object.entries(texts).map(([name, text]) => {
    const file = path.join(work, `${name}.yaml`);
    writeFileSync(file, text);
    return file;
  });
  const args = [
    '-strict',
    '-summary',
    '-output',
    'json',
    '-verbose',
    '-kubernetes-version',
    kube.kubernetesVersion,
    '-schema-location',
    kube.schemaLocation,
    ...files,
  ];
  try {
    const { stdout } = await exec(kube.kubeconform, args, { maxBuffer: 32 * 1024 * 1024 });
    return JSON.parse(stdout) as KubeconformResult;
  } catch (error) {
    const stdout = (error as { stdout?: string }).stdout;
    if (stdout === undefined || stdout === '') throw error;
    return JSON.parse(stdout) as KubeconformResult;
  }
}

const byKind = (manifests: readonly Manifest[], kind: string): Manifest[] => manifests.filter((m) => m.kind === kind);
const named = (manifests: readonly Manifest[], kind: string, name: string): Manifest | undefined =>
  manifests.find((m) => m.kind === kind && m.metadata.name === name);

/** Each value set rendered once (helm is slow to start on a busy machine), as text and objects. */
const rendered = new Map<string, { text: string; manifests: Manifest[] }>();
let validation: KubeconformResult;
beforeAll(async () => {
  await Promise.all(
    Object.entries(VALUE_SETS).map(async ([name, files]) => {
      const text = await renderText(files);
      rendered.set(name, {
        text,
        manifests: parseAllDocuments(text)
          .map((d) => d.toJS() as Manifest | null)
          .filter((m): m is Manifest => m !== null),
      });
    }),
  );
  // One kubeconform run over every set: the schemas are compiled once.
  validation = await kubeconform(Object.fromEntries(Object.keys(VALUE_SETS).map((name) => [`values-${name}`, rendered.get(name)!.text])));
}, 120_000);
const renderOf = (name: string): Manifest[] => rendered.get(name)!.manifests;

describe.each(Object.entries(VALUE_SETS))('values: %s', (name, files) => {
  let manifests: Manifest[];
  beforeAll(() => {
    manifests = renderOf(name);
  });

  test('helm lint --strict passes', async () => {
    const out = await helm(['lint', '--strict', chart, ...valuesArgs(files)]);
    expect(out).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  test('every rendered object is valid against the Kubernetes OpenAPI schemas (kubeconform, strict)', () => {
    expect(manifests.length).toBeGreaterThan(10);
    const ours = new Set(manifests.map((m) => `${m.kind}/${m.metadata.name}`));
    const checked = validation.resources.filter((r) => path.basename(r.filename) === `values-${name}.yaml`);
    const problems = checked.filter((r) => r.status !== 'statusValid').map((r) => `${r.kind}/${r.name}: ${r.status} ${r.msg}`);
    expect(problems).toEqual([]);
    expect(new Set(checked.map((r) => `${r.kind}/${r.name}`))).toEqual(ours);
  });

  test('each service loads its rendered larder.yaml with its own schema (unknown keys would stop it)', () => {
    for (const component of COMPONENTS) {
      const map = named(manifests, 'ConfigMap', `${RELEASE}-${component}`);
      const deployment = named(manifests, 'Deployment', `${RELEASE}-${component}`);
      expect(map === undefined).toBe(deployment === undefined);
      if (map === undefined || deployment === undefined) continue;
      const file = path.join(work, `${component}-${Math.random().toString(36).slice(2)}.yaml`);
      writeFileSync(file, map.data?.['larder.yaml'] ?? '');
      const config = loadConfig(SCHEMAS[component]!, { file, env: {} }) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
      const container = deployment.spec.template.spec.containers[0];
      expect(container.env).toContainEqual({ name: 'LARDER_CONFIG', value: '/etc/larder/larder.yaml' });
      // The ports the pod and its Service declare are the ones the service will listen on.
      const ports = Object.fromEntries(container.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]));
      const listens: Record<string, number> =
        component === 'ui'
          ? { http: config['ui'].port }
          : { grpc: config['grpc'].port, metrics: config['metrics'].port, ...(config['http'] === undefined ? {} : { http: config['http'].port }) };
      expect(ports).toEqual(listens);
      const service = named(manifests, 'Service', `${RELEASE}-${component}`);
      expect(Object.fromEntries(service?.spec.ports.map((p: { name: string; port: number }) => [p.name, p.port]))).toEqual(listens);
      expect(service?.spec.selector).toEqual(deployment.spec.selector.matchLabels);
      // Every listener serves the pod's network, not its loopback.
      expect(config['bind'].host).toBe('0.0.0.0');
      // The services it calls are reached at their Services.
      if (component !== 'registry') {
        const registry = named(manifests, 'Service', `${RELEASE}-registry`);
        expect(config['registry'].address).toBe(`${RELEASE}-registry:${registry?.spec.ports.find((p: { name: string }) => p.name === 'grpc').port}`);
      }
      // TLS files are where the Secret is mounted.
      const mounts = Object.fromEntries(container.volumeMounts.map((m: { name: string; mountPath: string }) => [m.name, m.mountPath]));
      if (mounts['tls'] !== undefined) {
        expect(path.dirname(config['tls'].certFile)).toBe(mounts['tls']);
        expect(path.dirname(config['client'].tls.caFile)).toBe(mounts['tls']);
      } else {
        expect(config['tls'].certFile).toBe('');
      }
      if (component === 'ui') {
        // The UI's own start-up checks: sign-in settings complete, no borrowed token without sign-in.
        expect(uiAuthIssues(config as UiConfig)).toEqual([]);
        expect(config['tls'].requireClientCert).toBe(false);
        if (config['auth'].modes.includes('none')) expect(config['client'].tokenFile).toBe('');
        else expect(path.dirname(config['ui'].sessionKeyFile)).toBe(mounts['session-key']);
        if (config['client'].tokenFile === '') continue;
      }
      expect(path.dirname(config['client'].tokenFile)).toBe(mounts['identity']);
    }
  });

  test('one ServiceAccount per service, used by its pods, with no API-server token mounted', () => {
    const accounts = byKind(manifests, 'ServiceAccount').map((m) => m.metadata.name);
    for (const deployment of byKind(manifests, 'Deployment')) {
      const pod = deployment.spec.template.spec;
      expect(pod.serviceAccountName).toBe(deployment.metadata.name);
      expect(accounts).toContain(pod.serviceAccountName);
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(25_000);
    }
  });

  test('every Deployment has a PodDisruptionBudget selecting exactly its pods', () => {
    for (const deployment of byKind(manifests, 'Deployment')) {
      const pdb = named(manifests, 'PodDisruptionBudget', deployment.metadata.name);
      expect(pdb?.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
      for (const [key, value] of Object.entries(pdb?.spec.selector.matchLabels as Record<string, string>)) {
        expect(deployment.spec.template.metadata.labels[key]).toBe(value);
      }
    }
  });
});

describe('probes', () => {
  test('with TLS, readiness is /readyz over HTTPS on the metrics port (it follows grpc.health.v1); without, the kubelet asks grpc.health.v1 itself', async () => {
    const withTls = renderOf('defaults');
    const plain = renderOf('dev');
    for (const component of COMPONENTS.filter((c) => c !== 'ui')) {
      const tlsContainer = named(withTls, 'Deployment', `${RELEASE}-${component}`)?.spec.template.spec.containers[0];
      expect(tlsContainer.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics', scheme: 'HTTPS' });
      expect(tlsContainer.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics', scheme: 'HTTPS' });
      const container = named(plain, 'Deployment', `${RELEASE}-${component}`)?.spec.template.spec.containers[0];
      const grpcPort = container.ports.find((p: { name: string }) => p.name === 'grpc').containerPort;
      expect(container.readinessProbe.grpc).toEqual({ port: grpcPort });
      expect(container.livenessProbe.grpc).toEqual({ port: grpcPort });
    }
  });
});

describe('online serving scales', () => {
  test('an HPA on CPU targets its Deployment, which then leaves replicas to it', async () => {
    const manifests = renderOf('production');
    const hpas = byKind(manifests, 'HorizontalPodAutoscaler');
    expect(hpas.map((h) => h.metadata.name)).toEqual([`${RELEASE}-online-serving`]);
    const hpa = hpas[0]!;
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: `${RELEASE}-online-serving` });
    expect([hpa.spec.minReplicas, hpa.spec.maxReplicas]).toEqual([3, 20]);
    expect(hpa.spec.metrics[0].resource).toEqual({ name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } });
    expect(named(manifests, 'Deployment', `${RELEASE}-online-serving`)?.spec.replicas).toBeUndefined();
    expect(named(manifests, 'Deployment', `${RELEASE}-registry`)?.spec.replicas).toBe(2);
    const dev = renderOf('dev');
    expect(byKind(dev, 'HorizontalPodAutoscaler')).toEqual([]);
    expect(named(dev, 'Deployment', `${RELEASE}-online-serving`)?.spec.replicas).toBe(1);
  });
});

describe('values map one to one onto the services’ configuration keys', () => {
  test('a key under <service>.config reaches that service, over the shared config', async () => {
    const manifests = await render([], {
      config: { log: { level: 'debug' } },
      onlineServing: { config: { log: { level: 'error' }, serving: { maxEntityRows: 123 } } },
    });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const load = (component: string): Record<string, any> => {
      const file = path.join(work, `one-to-one-${component}.yaml`);
      writeFileSync(file, named(manifests, 'ConfigMap', `${RELEASE}-${component}`)?.data?.['larder.yaml'] ?? '');
      return loadConfig(SCHEMAS[component]!, { file, env: {} }) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    };
    expect(load('online-serving')['serving'].maxEntityRows).toBe(123);
    expect(load('online-serving')['log'].level).toBe('error');
    expect(load('registry')['log'].level).toBe('debug');
  });

  test('a misspelt key is refused by the service it is for, naming the key', async () => {
    const manifests = await render([], { onlineServing: { config: { serving: { maxEntityRowz: 5 } } } });
    const file = path.join(work, 'misspelt.yaml');
    writeFileSync(file, named(manifests, 'ConfigMap', `${RELEASE}-online-serving`)?.data?.['larder.yaml'] ?? '');
    expect(() => loadConfig(SCHEMAS['online-serving']!, { file, env: {} })).toThrow(/serving\.maxEntityRowz: unknown key/);
  });

  test('secrets go into a Secret as LARDER_* variables, never into the ConfigMap; a bad variable name stops the render', async () => {
    const url = 'postgresql://larder:s3cret@postgres:5432/registry';
    const manifests = await render([], { registry: { secretEnv: { LARDER_REGISTRY_LOCATION: url } } });
    const secret = named(manifests, 'Secret', `${RELEASE}-registry-env`);
    expect(Buffer.from(secret?.data?.['LARDER_REGISTRY_LOCATION'] ?? '', 'base64').toString()).toBe(url);
    const container = named(manifests, 'Deployment', `${RELEASE}-registry`)?.spec.template.spec.containers[0];
    expect(container.envFrom).toEqual([{ secretRef: { name: `${RELEASE}-registry-env` } }]);
    expect(JSON.stringify(byKind(manifests, 'ConfigMap'))).not.toContain('s3cret');
    await expect(renderText([], { registry: { secretEnv: { 'PATH; rm': 'x' } } })).rejects.toThrow(
      /registry\.secretEnv\.PATH; rm: expected a LARDER_\* variable name/,
    );
  });

  test('tls.create writes the TLS Secret the pods mount; half a pair is refused', async () => {
    const manifests = await render([], { tls: { create: { cert: 'CERT', key: 'KEY', ca: 'CA' } } });
    const secret = named(manifests, 'Secret', 'larder-tls');
    expect(secret?.data?.['tls.crt']).toBe(Buffer.from('CERT').toString('base64'));
    await expect(renderText([], { tls: { create: { cert: 'CERT' } } })).rejects.toThrow(/cert, key and ca are needed together/);
  });
});

describe('kubeconform itself', () => {
  test('catches a misspelt field and a wrong type (so a pass above means something)', async () => {
    const manifests = renderOf('defaults');
    const deployment = structuredClone(named(manifests, 'Deployment', `${RELEASE}-registry`)!);
    deployment.spec.template.spec.containers[0].imagePullPolicyy = 'Always';
    const service = structuredClone(named(manifests, 'Service', `${RELEASE}-registry`)!);
    service.spec.ports[0].port = 'six';
    const result = await kubeconform({ broken: [stringify(deployment), stringify(service)].join('---\n') });
    expect(result.summary.invalid).toBe(2);
    expect(result.resources.find((r) => r.kind === 'Deployment')?.msg).toMatch(/imagePullPolicyy/);
    expect(result.resources.find((r) => r.kind === 'Service')?.msg).toMatch(/port/);
  });
});

/** Whether a NetworkPolicy peer list admits a pod with these labels in namespace ns. */
function admits(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  peers: Array<Record<string, any>> | undefined,
  labels: Record<string, string>,
  namespaceLabels: Record<string, string>,
  sameNamespace: boolean,
): boolean {
  const matches = (selector: { matchLabels?: Record<string, string> } | undefined, of: Record<string, string>) =>
    Object.entries(selector?.matchLabels ?? {}).every(([k, v]) => of[k] === v);
  return (peers ?? []).some((peer) => {
    if (peer['ipBlock'] !== undefined) return false;
    const namespaceOk = peer['namespaceSelector'] === undefined ? sameNamespace : matches(peer['namespaceSelector'], namespaceLabels);
    const podOk = peer['podSelector'] === undefined || matches(peer['podSelector'], labels);
    return namespaceOk && podOk;
  });
}

describe('network policies: only what must talk does', () => {
  // The production set: every component on (the UI too) and policies narrowed to real addresses.
  let manifests: Manifest[];
  beforeAll(() => {
    manifests = renderOf('production');
  });
  const pod = (component: string) => named(manifests, 'Deployment', `${RELEASE}-${component}`)?.spec.template.metadata.labels as Record<string, string>;
  const port = (component: string, name: string) =>
    named(manifests, 'Service', `${RELEASE}-${component}`)?.spec.ports.find((p: { name: string }) => p.name === name)?.port as number;
  const larderNs = { 'kubernetes.io/metadata.name': 'larder' };
  /** Ingress to `to`'s port allowed from a pod with `labels` (in larder's namespace unless given). */
  const canReach = (labels: Record<string, string>, to: string, portName: string, ns = larderNs): boolean => {
    const policy = named(manifests, 'NetworkPolicy', `${RELEASE}-${to}`);
    return (policy?.spec.ingress as Array<{ from: Array<Record<string, unknown>>; ports: Array<{ port: number }> }>).some(
      (rule) => rule.ports.some((p) => p.port === port(to, portName)) && admits(rule.from, labels, ns, ns === larderNs),
    );
  };
  const egressTo = (from: string, to: string): boolean => {
    const policy = named(manifests, 'NetworkPolicy', `${RELEASE}-${from}`);
    return (policy?.spec.egress as Array<{ to: Array<Record<string, unknown>>; ports: Array<{ port: number }> }>).some(
      (rule) => rule.ports.some((p) => p.port === port(to, 'grpc')) && admits(rule.to, pod(to), larderNs, true),
    );
  };
  const CALLS: Record<string, string[]> = {
    registry: [],
    'online-serving': ['registry'],
    'offline-retrieval': ['registry'],
    materialization: ['registry'],
    ingestion: ['registry'],
    ui: ['registry', 'offline-retrieval', 'materialization', 'ingestion'],
  };

  test('every pod is covered by a policy for both directions', () => {
    for (const component of COMPONENTS) {
      const policy = named(manifests, 'NetworkPolicy', `${RELEASE}-${component}`);
      expect(policy?.spec.policyTypes).toEqual(['Ingress', 'Egress']);
      expect(policy?.spec.podSelector.matchLabels).toEqual(named(manifests, 'Deployment', `${RELEASE}-${component}`)?.spec.selector.matchLabels);
    }
  });

  test('between Larder’s pods, exactly the calls the services make are allowed, both ways', () => {
    for (const from of COMPONENTS) {
      for (const to of COMPONENTS.filter((c) => c !== 'ui')) {
        const expected = CALLS[from]!.includes(to);
        expect([from, to, canReach(pod(from), to, 'grpc')]).toEqual([from, to, expected]);
        expect([from, to, egressTo(from, to)]).toEqual([from, to, expected]);
      }
    }
  });

  test('labelled clients reach the APIs but not /metrics; Prometheus reaches /metrics only; strangers nothing', () => {
    const client = { 'larder.dev/client': 'true' };
    const elsewhere = { 'kubernetes.io/metadata.name': 'models' };
    const monitoring = { 'kubernetes.io/metadata.name': 'monitoring' };
    expect(canReach(client, 'online-serving', 'grpc', elsewhere)).toBe(true);
    expect(canReach(client, 'online-serving', 'http', elsewhere)).toBe(true);
    expect(canReach(client, 'ingestion', 'http', elsewhere)).toBe(true);
    expect(canReach(client, 'online-serving', 'metrics', elsewhere)).toBe(false);
    expect(canReach({}, 'online-serving', 'metrics', monitoring)).toBe(true);
    expect(canReach({}, 'online-serving', 'grpc', monitoring)).toBe(false);
    expect(canReach({ app: 'random' }, 'registry', 'grpc', elsewhere)).toBe(false);
  });

  test('stores are reached only by the services that use them', async () => {
    const production = renderOf('production');
    const egressPorts = (component: string): number[] =>
      (named(production, 'NetworkPolicy', `${RELEASE}-${component}`)?.spec.egress as Array<{ ports: Array<{ port: number }> }>).flatMap((r) =>
        r.ports.map((p) => p.port),
      );
    expect(egressPorts('online-serving')).toContain(6379);
    expect(egressPorts('online-serving')).not.toContain(5432);
    expect(egressPorts('online-serving')).not.toContain(9092);
    expect(egressPorts('ingestion')).toEqual(expect.arrayContaining([6379, 5432, 9092]));
    expect(egressPorts('ui')).not.toContain(6379);
    expect(egressPorts('registry')).not.toContain(6379);
  });
});

test('the chart’s appVersion is the release in package.json', async () => {
  const chartYaml = parse(await helm(['show', 'chart', chart])) as { appVersion: string };
  const pkg = (await import(path.join(root, 'package.json'))) as { version: string };
  expect(chartYaml.appVersion).toBe(pkg.version);
});
