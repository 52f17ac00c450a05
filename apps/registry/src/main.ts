import { featureRepoPreset } from '@larder/feature-repo';
import { registryService } from '@larder/registry-service';
import { runService } from '@larder/rpc';

// Started in (or pointed at with --repo / LARDER_REPO) a feature repo, it takes the repo's stores.
void runService({ ...registryService, preset: (context) => featureRepoPreset(context) });
