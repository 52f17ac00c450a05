import { cp, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT } from '@larder/testing';
import { GO_CLIENT_DIR, GO_TEMPLATE, PROTO_DIR } from './paths';
import { run } from './run';
import type { Toolchain } from './toolchain';

/** Where gRPC's own contracts sit under proto/; the rest are Larder's. */
const UPSTREAM_DIR = 'grpc';
/** The Go import path buf.gen.go.yaml gives gRPC's own contracts. */
const UPSTREAM_GO_PATH = 'larder.e2e/upstream';

export interface GeneratedStubs {
  /** Every .proto file under proto/, relative to it. */
  protoFiles: string[];
  /** Root of the generated Python modules (larder.registry.v1.*_pb2, health.v1.*_pb2, ...). */
  pythonDir: string;
  /** Root of the Go output, laid out by import path. */
  goDir: string;
}

/** Generates Python and Go stubs for every file in proto/; fails on any file that does not generate. */
export async function generateStubs(toolchain: Toolchain, outDir: string): Promise<GeneratedStubs> {
  const protoFiles = await listProtoFiles(PROTO_DIR);
  const pythonDir = path.join(outDir, 'python');
  const goDir = path.join(outDir, 'go');
  await Promise.all([generatePython(toolchain, protoFiles, pythonDir), generateGo(toolchain, goDir)]);
  return { protoFiles, pythonDir, goDir };
}

async function listProtoFiles(dir: string, prefix = ''): Promise<string[]> {
  const entries = await readdir(path.join(dir, prefix), { withFileTypes: true });
  const nested = await Promise.all(
    entries.map(async (entry) => {
      const relative = path.posix.join(prefix, entry.name);
      if (entry.isDirectory()) return listProtoFiles(dir, relative);
      return entry.name.endsWith('.proto') ? [relative] : [];
    }),
  );
  return nested.flat().sort();
}

/**
 * Larder's files generate with proto/ as the include root, as a Python user would.
 * gRPC's own files generate from proto/grpc instead: rooted at proto/ they would become
 * a Python package named `grpc`, which the grpcio package of that name hides.
 */
async function generatePython(toolchain: Toolchain, protoFiles: string[], out: string): Promise<void> {
  await mkdir(out, { recursive: true });
  const wellKnown = (
    await run(toolchain.python, ['-c', 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))'])
  ).stdout.trim();
  const upstream = protoFiles.filter((file) => file.startsWith(`${UPSTREAM_DIR}/`));
  const larder = protoFiles.filter((file) => !file.startsWith(`${UPSTREAM_DIR}/`));
  const protoc = (root: string, files: string[]) =>
    run(toolchain.python, ['-m', 'grpc_tools.protoc', `-I${root}`, `-I${wellKnown}`, `--python_out=${out}`, `--grpc_python_out=${out}`, ...files], {
      cwd: root,
    });
  const upstreamRoot = path.join(PROTO_DIR, UPSTREAM_DIR);
  await protoc(
    upstreamRoot,
    upstream.map((file) => path.posix.relative(UPSTREAM_DIR, file)),
  );
  if (larder.length > 0) await protoc(PROTO_DIR, larder);
}

async function generateGo(toolchain: Toolchain, out: string): Promise<void> {
  await mkdir(out, { recursive: true });
  const buf = path.join(REPO_ROOT, 'node_modules/.bin/buf');
  await run(buf, ['generate', '--template', GO_TEMPLATE, 'proto', '--output', out], { cwd: REPO_ROOT, env: toolchain.env });
}

/**
 * Builds the Go client against the generated stubs. The client is copied into a module
 * named after the common prefix of Larder's go_package paths, with the generated
 * packages beside it, so `import "<go_package>"` resolves exactly as the contracts say.
 * Every generated package is compiled, not only the ones the client imports.
 */
export async function buildGoClient(toolchain: Toolchain, stubs: GeneratedStubs, outDir: string): Promise<string> {
  const packages = (await goPackageDirs(stubs.goDir)).filter((dir) => !dir.startsWith(`${UPSTREAM_GO_PATH}/`));
  if (packages.length === 0) throw new Error(`no Go packages were generated from Larder's contracts in ${stubs.goDir}`);
  const modulePath = commonPathPrefix(packages);
  const moduleDir = path.join(outDir, 'go-client');
  await mkdir(moduleDir, { recursive: true });
  await cp(GO_CLIENT_DIR, moduleDir, { recursive: true });
  await cp(path.join(stubs.goDir, modulePath), moduleDir, { recursive: true });
  await run('go', ['mod', 'edit', `-module=${modulePath}`], { cwd: moduleDir, env: toolchain.env });
  await run('go', ['build', './...'], { cwd: moduleDir, env: toolchain.env });
  const binary = path.join(outDir, 'larder-e2e-go-client');
  await run('go', ['build', '-o', binary, '.'], { cwd: moduleDir, env: toolchain.env });
  await writeFile(path.join(outDir, 'go-module-path.txt'), `${modulePath}\n`);
  return binary;
}

async function goPackageDirs(root: string, prefix = ''): Promise<string[]> {
  const entries = await readdir(path.join(root, prefix), { withFileTypes: true });
  const here = entries.some((entry) => entry.isFile() && entry.name.endsWith('.go')) ? [prefix] : [];
  const nested = await Promise.all(entries.filter((entry) => entry.isDirectory()).map((entry) => goPackageDirs(root, path.posix.join(prefix, entry.name))));
  return [...here, ...nested.flat()];
}

/** The longest common run of whole path segments; one package is its own parent's module. */
export function commonPathPrefix(paths: readonly string[]): string {
  const split = paths.map((p) => p.split('/'));
  const first = split[0] ?? [];
  let length = 0;
  while (length < first.length && split.every((segments) => segments[length] === first[length])) length += 1;
  if (paths.length === 1) length = Math.max(1, length - 1);
  return first.slice(0, length).join('/');
}
