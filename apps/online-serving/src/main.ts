import { runService } from '@larder/rpc';
import { onlineServingService } from './service';

void runService(onlineServingService);
