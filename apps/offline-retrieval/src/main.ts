import { runService } from '@larder/rpc';
import { offlineRetrievalService } from './service';

void runService(offlineRetrievalService);
