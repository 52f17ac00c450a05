// The packed row format shared by the Redis `packed` layout and SQLite: one binary value
// per (view, entity key) with the event time, the feature names it was written with and
// every value. See README.md for the byte layout. The parts live in ./packed: format
// (constants and sizes), sections (header and names), encode, decode (a reader carrying
// its own position) and view-codec (a view's rows, and the plans that read them).
export { PACKED_FORMAT_VERSION } from './packed/format';
export { ViewCodec, ReadPlan, valueTag, viewCodec } from './packed/view-codec';
