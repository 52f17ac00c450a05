// The online-serving harness of @larder/service-testing bound to this app's service and a
// real registry (@larder/registry-service, run in-process).
import { registryService } from '@larder/registry-service';
import { servingHarness as h } from '@larder/service-testing';
import { onlineServingService } from './service';

export type Harness = h.Harness;
export type StoreUnderTest = h.StoreUnderTest;
export const { driverRepo } = h;

export const startHarness = (backend: StoreUnderTest, env: Record<string, string> = {}): Promise<Harness> =>
  h.startServingHarness({ registry: registryService, serving: onlineServingService }, backend, env);
