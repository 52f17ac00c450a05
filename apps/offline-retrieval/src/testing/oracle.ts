// The point-in-time oracle the specs check answers against, from @larder/service-testing.
import { retrievalHarness as h } from '@larder/service-testing';

export const { pick, featureAt } = h;
