import { loadConfig } from '@larder/config';
import { serverConfigSchema } from './server-config';

test('the shared server schema loads from an empty environment', () => {
  const config = loadConfig(serverConfigSchema({ grpcPort: 6570 }), { env: {} });
  expect(config.grpc.port).toBe(6570);
  expect(config.shutdown.gracePeriod).toBe(25_000);
  expect(config.log.level).toBe('info');
});
