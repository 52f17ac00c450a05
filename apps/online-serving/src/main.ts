import { featureRepoPreset } from '@larder/feature-repo';
import { runService } from '@larder/rpc';
import { onlineServingService } from './service';

// Started in (or pointed at with --repo / LARDER_REPO) a feature repo, it takes the repo's stores.
void runService({ ...onlineServingService, preset: (context) => featureRepoPreset(context) });
