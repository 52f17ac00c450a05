// Linted by tools/lint's spec as files of other apps (tagged type:app), production and test
// code alike: an app importing another app must fail @nx/enforce-module-boundaries. The
// registry app is the one test code once had an exception for.
import { registryService } from '@larder/registry-app';

export const registry = registryService;
