// helm and kubeconform for the Helm chart's tests (deploy/helm/larder), built from source
// through the Go module proxy (the only way this machine reaches Go tools), and the
// Kubernetes JSON schemas kubeconform validates against, taken from the PyPI package
// kubernetes-validate (kubeconform's default is to download them from GitHub, which is
// out of reach here). Everything is cached under cacheDir() by version.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { cacheDir } from './cache-dir';

const exec = promisify(execFile);

export const HELM_VERSION = 'v4.3.2';
export const KUBECONFORM_VERSION = 'v0.7.0';
/** The Kubernetes release whose OpenAPI schemas the rendered objects are checked against. */
export const KUBERNETES_VERSION = 'v1.33.0';
const KUBERNETES_VALIDATE_VERSION = '1.37.0';

export interface KubeTools {
  helm: string;
  kubeconform: string;
  /** kubeconform's -schema-location template for the cached schemas. */
  schemaLocation: string;
  kubernetesVersion: string;
}

function goBin(): string {
  return path.join(cacheDir(), 'go-bin');
}

function schemaRoot(): string {
  // "-kubeconform": unpacked for kubeconform (below), not as the wheel ships them.
  return path.join(cacheDir(), `kubernetes-json-schema-${KUBERNETES_VALIDATE_VERSION}-kubeconform`);
}

export function locateKubeTools(): KubeTools | undefined {
  const helm = path.join(goBin(), `helm-${HELM_VERSION}`);
  const kubeconform = path.join(goBin(), `kubeconform-${KUBECONFORM_VERSION}`);
  const schemas = path.join(schemaRoot(), `${KUBERNETES_VERSION}-local-strict`);
  if (!existsSync(helm) || !existsSync(kubeconform) || !existsSync(path.join(schemas, 'deployment-apps-v1.json'))) return undefined;
  return {
    helm,
    kubeconform,
    // kubeconform fills in the version ("v1.33.0"), "-strict" under -strict, and e.g. "deployment-apps-v1".
    schemaLocation: path.join(schemaRoot(), '{{ .NormalizedKubernetesVersion }}-local{{ .StrictSuffix }}', '{{ .ResourceKind }}{{ .KindSuffix }}.json'),
    kubernetesVersion: KUBERNETES_VERSION.slice(1),
  };
}

/** Installs what is missing; returns where helm, kubeconform and the schemas are. */
export async function ensureKubeTools(): Promise<{ value: KubeTools; installed: string | undefined }> {
  const found = locateKubeTools();
  if (found !== undefined) return { value: found, installed: undefined };
  mkdirSync(goBin(), { recursive: true });
  await Promise.all([
    goInstall('helm.sh/helm/v4/cmd/helm', HELM_VERSION, `helm-${HELM_VERSION}`),
    goInstall('github.com/yannh/kubeconform/cmd/kubeconform', KUBECONFORM_VERSION, `kubeconform-${KUBECONFORM_VERSION}`),
    installSchemas(),
  ]);
  const tools = locateKubeTools();
  if (tools === undefined) throw new Error('helm, kubeconform or the Kubernetes schemas are missing after installing them');
  return { value: tools, installed: 'built with go install, schemas from PyPI' };
}

async function goInstall(pkg: string, version: string, binary: string): Promise<void> {
  const target = path.join(goBin(), binary);
  if (existsSync(target)) return;
  const dir = mkdtempSync(path.join(goBin(), '.install-'));
  try {
    // GOTOOLCHAIN=local: the machine's Go; a module asking for a newer one fails loudly here.
    await exec('go', ['install', `${pkg}@${version}`], { env: { ...process.env, GOBIN: dir, GOTOOLCHAIN: 'local' }, maxBuffer: 16 * 1024 * 1024 });
    renameSync(path.join(dir, path.basename(pkg)), target);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * kubernetes-validate ships each Kubernetes release's schemas with an `$id` under
 * https://kubernetes.io/api/ and references to `/api/_definitions.json`, which its own
 * loader maps to its files. kubeconform resolves a reference against the `$id` (a URL it
 * cannot fetch here, and it then reports the kind as having no schema), so as the schemas
 * are unpacked the `$id` goes and the references name the sibling `_definitions.json`: the
 * schemas themselves are unchanged.
 */
async function installSchemas(): Promise<void> {
  const root = schemaRoot();
  const wanted = `${KUBERNETES_VERSION}-local-strict`;
  if (existsSync(path.join(root, wanted, 'deployment-apps-v1.json'))) return;
  const work = mkdtempSync(path.join(cacheDir(), '.schemas-'));
  try {
    await exec(
      'python3',
      [
        '-m',
        'pip',
        'download',
        '--quiet',
        '--disable-pip-version-check',
        '--no-deps',
        '--only-binary=:all:',
        `kubernetes-validate==${KUBERNETES_VALIDATE_VERSION}`,
        '-d',
        work,
      ],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    const wheel = readdirSync(work).find((f) => f.endsWith('.whl'));
    if (wheel === undefined) throw new Error(`pip download kubernetes-validate==${KUBERNETES_VALIDATE_VERSION} left no wheel`);
    const unpacked = path.join(work, 'unpacked');
    // A wheel is a zip; Python's zipfile is on every machine that has pip.
    await exec('python3', ['-m', 'zipfile', '-e', path.join(work, wheel), unpacked]);
    const from = path.join(unpacked, 'kubernetes_validate', 'kubernetes-json-schema', wanted);
    const staged = path.join(work, wanted);
    mkdirSync(staged);
    for (const file of readdirSync(from)) {
      if (!file.endsWith('.json')) continue;
      const schema = JSON.parse(readFileSync(path.join(from, file), 'utf8').replaceAll('"/api/_definitions.json#', '"_definitions.json#')) as Record<
        string,
        unknown
      >;
      delete schema['$id'];
      writeFileSync(path.join(staged, file), JSON.stringify(schema));
    }
    mkdirSync(root, { recursive: true });
    rmSync(path.join(root, wanted), { recursive: true, force: true });
    renameSync(staged, path.join(root, wanted));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
