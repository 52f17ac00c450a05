import { featureRepoPreset } from '@larder/feature-repo';
import { runService } from '@larder/rpc';
import { registryService } from './service';

// Started in (or pointed at with --repo / LARDER_REPO) a feature repo, it takes the repo's stores.
void runService({ ...registryService, preset: (context) => featureRepoPreset(context) });
