// The materialization harness of @larder/service-testing bound to this app's service and
// a real registry (@larder/registry-service, run in-process).
import { registryService } from '@larder/registry-service';
import { materializationHarness as h } from '@larder/service-testing';
import { materializationService } from './service';

export type Harness = h.Harness;
export type HarnessOptions = h.HarnessOptions;
export type OnlineUnderTest = h.OnlineUnderTest;
export type OfflineUnderTest = h.OfflineUnderTest;
export const {
  BASE,
  MINUTE,
  WINDOW,
  driverSource,
  flagsDescriptor,
  historicalView,
  repo,
  sourceSql,
  statsDescriptor,
  ts,
  watchToEnd,
  writeParquet,
  writePostgresTable,
} = h;

export const startHarness = (options: HarnessOptions): Promise<Harness> =>
  h.startMaterializationHarness({ registry: registryService, materialization: materializationService }, options);
