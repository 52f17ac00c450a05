import { loadConfig } from '@larder/rpc';
import { consumerSettings, ingestionSchema } from './config';

describe('ingestion configuration', () => {
  it('takes the session timeout and heartbeat a restarted consumer waits on from the environment', () => {
    const config = loadConfig(ingestionSchema, {
      env: { LARDER_KAFKA_SESSION_TIMEOUT: '8s', LARDER_KAFKA_HEARTBEAT_INTERVAL: '800ms', LARDER_KAFKA_REBALANCE_TIMEOUT: '10s' },
    });
    expect(consumerSettings(config)).toMatchObject({ sessionTimeoutMs: 8_000, heartbeatIntervalMs: 800, rebalanceTimeoutMs: 10_000 });
  });

  it('refuses a heartbeat interval that is not shorter than the session timeout, naming both keys', () => {
    const config = loadConfig(ingestionSchema, { env: { LARDER_KAFKA_SESSION_TIMEOUT: '6s', LARDER_KAFKA_HEARTBEAT_INTERVAL: '6s' } });
    expect(() => consumerSettings(config)).toThrow('kafka.heartbeatInterval: must be less than kafka.sessionTimeout (6000 ms), got 6000 ms');
  });
});
