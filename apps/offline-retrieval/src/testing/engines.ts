// The offline engines under test, from @larder/service-testing.
import { retrievalHarness as h } from '@larder/service-testing';

export type TestEngine = h.TestEngine;
export const { duckdbTestEngine, postgresTestEngine, bigqueryTestEngine } = h;
