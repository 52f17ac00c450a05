// The online-serving app's public surface: its service definition, for what runs the
// service in-process (npm start, apps/e2e, the benchmarks).
export { onlineServingService } from './service';
// The hand-written response encoder, for bench encoders (against protobuf-es's toBinary).
export { encodeGetOnlineFeaturesResponse } from './response-encoder';
