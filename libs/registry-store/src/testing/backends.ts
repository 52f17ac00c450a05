import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { testServices } from '@larder/testing';
import { FileRegistryStore } from '../file-store';
import { PostgresRegistryStore } from '../postgres-store';
import type { RegistryStore } from '../registry-store';

/** Opens fresh stores of one kind; `another()` opens a second instance on the same registry. */
export interface Backend {
  name: 'file' | 'postgres';
  /** A new, empty registry. */
  open(): Promise<RegistryStore>;
  /** Another instance on the registry `open()` last created (a second replica or process). */
  another(): Promise<RegistryStore>;
  cleanup(): Promise<void>;
}

export function fileBackend(): Backend {
  const dirs: string[] = [];
  const stores: RegistryStore[] = [];
  let current = '';
  return {
    name: 'file',
    async open() {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'larder-registry-'));
      dirs.push(dir);
      current = path.join(dir, 'registry.json');
      const store = await FileRegistryStore.open(current);
      stores.push(store);
      return store;
    },
    async another() {
      const store = await FileRegistryStore.open(current);
      stores.push(store);
      return store;
    },
    async cleanup() {
      await Promise.all(stores.splice(0).map((s) => s.close()));
      await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
    },
  };
}

export function postgresBackend(): Backend {
  const url = testServices().postgres.url;
  const schemas: string[] = [];
  const stores: RegistryStore[] = [];
  let current = '';
  return {
    name: 'postgres',
    async open() {
      current = `registry_test_${randomBytes(5).toString('hex')}`;
      schemas.push(current);
      const store = await PostgresRegistryStore.open(url, { schema: current });
      stores.push(store);
      return store;
    },
    async another() {
      const store = await PostgresRegistryStore.open(url, { schema: current });
      stores.push(store);
      return store;
    },
    async cleanup() {
      await Promise.all(stores.splice(0).map((s) => s.close()));
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        for (const schema of schemas.splice(0)) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}
