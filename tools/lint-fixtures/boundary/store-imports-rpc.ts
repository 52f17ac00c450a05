// Linted as a file of libs/online-store (tagged type:store) by tools/lint's spec: a store
// that reaches for the gRPC layer must fail @nx/enforce-module-boundaries.
import { createClient } from '@larder/rpc';

export const client = createClient;
