import { runService } from '@larder/rpc';
import { materializationService } from './service';

void runService(materializationService);
