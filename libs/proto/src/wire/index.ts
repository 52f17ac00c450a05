// Hand-written wire encoders and decoders for the hot messages, byte-identical to protobuf-es.
export {
  WIRE_FIXED32,
  WIRE_FIXED64,
  WIRE_LENGTH,
  WIRE_VARINT,
  Writer,
  int32Size,
  int64Size,
  lengthDelimitedSize,
  repeatedValueSize,
  tagSize,
  timestampSize,
  timestampsSize,
  valueSize,
  varintSize,
  writeRepeatedValue,
  writeTimestamp,
  writeTimestamps,
  writeValue,
  writeVarint,
} from './encode';
export { decodeGetOnlineFeaturesRequest } from './serving-request';
export { decodeGetHistoricalFeaturesFromSourceResponse, decodeGetHistoricalFeaturesResponse, encodeHistoricalResponse } from './historical';
