// Linted as a file of apps/online-serving (tagged type:app) by tools/lint's spec: an app
// importing another app must fail @nx/enforce-module-boundaries.
import { registryService } from '@larder/registry-app';

export const registry = registryService;
