import { runService } from '@larder/rpc';
import { registryService } from './service';

void runService(registryService);
