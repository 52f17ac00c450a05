// The retrieval harness of @larder/service-testing bound to this app's service and a real
// registry (@larder/registry-service, run in-process).
import { registryService } from '@larder/registry-service';
import type { registryV1 } from '@larder/proto';
import { retrievalHarness as h } from '@larder/service-testing';
import { offlineRetrievalService } from '../service';

export type Harness = h.Harness;
export type Collected = h.Collected;
export const { cellToValue, inlineRequests, plain, collect, rpcError, loadSources } = h;

export const startHarness = (
  engineEnv: Record<string, string>,
  repo: (project: string) => registryV1.ApplyRegistryRequest,
  env: Record<string, string> = {},
): Promise<Harness> => h.startRetrievalHarness({ registry: registryService, retrieval: offlineRetrievalService }, engineEnv, repo, env);
