// A real three-node Redis Cluster on loopback, for tests.
import { startRedis, type RunningRedis } from '@larder/testing';
import Redis from 'ioredis';

export interface RunningRedisCluster {
  /** host:port of each node. */
  nodes: string[];
  servers: RunningRedis[];
  stop(): Promise<void>;
}

const SLOT_RANGES: [number, number][] = [
  [0, 5460],
  [5461, 10922],
  [10923, 16383],
];

/** Three masters, each owning a third of the slots, joined with CLUSTER MEET. */
export async function startRedisCluster(): Promise<RunningRedisCluster> {
  const servers = await Promise.all(
    SLOT_RANGES.map(() => startRedis({ extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000'] })),
  );
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  const clients = servers.map((s) => new Redis(s.url, { lazyConnect: false, maxRetriesPerRequest: 1 }));
  try {
    await Promise.all(clients.map((c, i) => c.call('CLUSTER', 'ADDSLOTSRANGE', SLOT_RANGES[i]![0], SLOT_RANGES[i]![1])));
    for (const s of servers.slice(1)) await clients[0]!.call('CLUSTER', 'MEET', s.host, s.port);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const infos = await Promise.all(clients.map((c) => c.call('CLUSTER', 'INFO') as Promise<string>));
      if (infos.every((info) => info.includes('cluster_state:ok') && info.includes('cluster_known_nodes:3'))) break;
      if (Date.now() > deadline) throw new Error(`redis cluster did not form: ${infos.join(' | ')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch (error) {
    await stop();
    throw error;
  } finally {
    clients.forEach((c) => c.disconnect());
  }
  return { nodes: servers.map((s) => `${s.host}:${s.port}`), servers, stop };
}
