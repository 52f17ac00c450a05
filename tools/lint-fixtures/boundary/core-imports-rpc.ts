// Linted as a file of libs/core (tagged layer:core, which may import only the contracts)
// by tools/lint's spec: the domain model reaching for the gRPC layer must fail.
import { createClient } from '@larder/rpc';

export const client = createClient;
