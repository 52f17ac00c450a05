import { runService } from '@larder/rpc';
import { ingestionService } from './service';

void runService(ingestionService);
