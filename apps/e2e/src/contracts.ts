import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PROTO_DIR } from './paths';

/**
 * The services and rpc names the .proto sources declare, read from the text: what the
 * servers' reflection answers are compared with, independently of any generated code.
 */
export async function declaredServices(protoFiles: readonly string[]): Promise<Map<string, string[]>> {
  const services = new Map<string, string[]>();
  for (const file of protoFiles) {
    const source = stripComments(await readFile(path.join(PROTO_DIR, file), 'utf8'));
    const pkg = /^\s*package\s+([\w.]+)\s*;/m.exec(source)?.[1] ?? '';
    for (const match of source.matchAll(/\bservice\s+(\w+)\s*\{([\s\S]*?)\n\}/g)) {
      const [, name = '', body = ''] = match;
      const rpcs = [...body.matchAll(/\brpc\s+(\w+)\s*\(/g)].map((rpc) => rpc[1] ?? '');
      services.set(pkg === '' ? name : `${pkg}.${name}`, rpcs);
    }
  }
  return services;
}

function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
}
