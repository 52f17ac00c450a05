// GetOnlineFeaturesRequest on the wire, read by hand. It is the one request on the
// serving hot path, and protobuf-es's reflective fromBinary spent about 8% of a 1 x 50
// call's server CPU on it (bench/RESULTS.md, online, "Per-call cost"). This reads the
// shape real clients send: a feature list or service, entity and request-context columns
// of scalar or list Values, full_feature_names, project. Anything else (an unknown or
// repeated field, a merge, a string that is not plain ASCII, a map entry without its key
// or value) makes it return undefined, and the caller decodes the bytes with fromBinary,
// so every request ends up exactly as protobuf-es would decode it, errors included.
import type { FeatureList } from '../gen/larder/types/v1/feature_pb';
import type { GetOnlineFeaturesRequest } from '../gen/larder/serving/v1/online_serving_service_pb';
import type { RepeatedValue } from '../gen/larder/types/v1/value_pb';
import { Reader, Unexpected } from './reader';
import { readRepeatedValue } from './value-reader';

// Wire types as local constants, not encode.ts's exports (see value-reader.ts).
const WIRE_VARINT = 0;
const WIRE_LENGTH = 2;

/**
 * Strings only when every byte is ASCII: protobuf-es decodes proto3 strings as strict
 * UTF-8 (invalid bytes are an error), and ASCII needs no decoding rules at all, so the
 * rest is left to it.
 */
class AsciiReader extends Reader {
  override string(): string {
    const end = this.end();
    const start = this.pos;
    const buf = this.buf;
    this.pos = end;
    if (end - start <= SHORT) return shortAscii(buf, start, end);
    for (let i = start; i < end; i++) if ((buf[i] as number) >= 0x80) throw new Unexpected('non-ASCII string');
    return this.text.toString('latin1', start, end);
  }
}

/**
 * Short strings (feature refs, join keys, projects) come again in request after request,
 * and making each afresh was most of this decoder's time (about 0.25 us apiece, 51 in a
 * 1 x 50 request). So they are looked up in a direct-mapped table by a hash of their
 * bytes and checked byte for byte; a miss builds the string and takes the slot. The
 * table's size is fixed, so a client sending endless new strings only evicts.
 */
const SHORT = 64;
const SLOTS = 4096;
const interned: string[] = new Array<string>(SLOTS).fill('');

function shortAscii(buf: Uint8Array, start: number, end: number): string {
  let hash = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    const byte = buf[i] as number;
    if (byte >= 0x80) throw new Unexpected('non-ASCII string');
    hash = Math.imul(hash ^ byte, 0x01000193);
  }
  const slot = (hash >>> 0) & (SLOTS - 1);
  const cached = interned[slot] as string;
  if (cached.length === end - start) {
    let same = true;
    for (let i = start, j = 0; i < end; i++, j++) {
      if (cached.charCodeAt(j) !== buf[i]) {
        same = false;
        break;
      }
    }
    if (same) return cached;
  }
  let out = '';
  for (let i = start; i < end; i++) out += String.fromCharCode(buf[i] as number);
  interned[slot] = out;
  return out;
}

const FEATURE_LIST = 'larder.types.v1.FeatureList';
const REQUEST = 'larder.serving.v1.GetOnlineFeaturesRequest';

function readFeatureList(r: Reader, end: number): FeatureList {
  const val: string[] = [];
  while (r.pos < end) {
    if (r.uint32() !== ((1 << 3) | WIRE_LENGTH)) throw new Unexpected('FeatureList field');
    val.push(r.string());
  }
  if (r.pos !== end) throw new Unexpected('FeatureList overran');
  return { $typeName: FEATURE_LIST, val };
}

/** One map<string, RepeatedValue> entry, key first, both present, key new to the map. */
function readColumn(r: Reader, end: number, into: Record<string, RepeatedValue>): void {
  if (r.uint32() !== ((1 << 3) | WIRE_LENGTH)) throw new Unexpected('map entry key');
  const key = r.string();
  if (r.uint32() !== ((2 << 3) | WIRE_LENGTH)) throw new Unexpected('map entry value');
  const value = readRepeatedValue(r, r.end());
  if (r.pos !== end) throw new Unexpected('map entry overran');
  // A repeated key (the last wins) and a key the object's prototype knows are protobuf-es's.
  if (Object.hasOwn(into, key) || key in into) throw new Unexpected('map key');
  into[key] = value;
}

/**
 * What fromBinary(GetOnlineFeaturesRequestSchema, bytes) returns, for the requests this
 * reads; undefined for the rest (decode those with fromBinary). Never throws.
 */
export function decodeGetOnlineFeaturesRequest(bytes: Uint8Array): GetOnlineFeaturesRequest | undefined {
  try {
    const r = new AsciiReader(bytes);
    let kind: GetOnlineFeaturesRequest['kind'] = { case: undefined };
    const entities: Record<string, RepeatedValue> = {};
    const requestContext: Record<string, RepeatedValue> = {};
    let fullFeatureNames = false;
    let project = '';
    // A second singular field (or a second kind) is a merge or an override: protobuf-es's to resolve.
    let kindSet = false;
    let namesSet = false;
    let projectSet = false;
    while (r.pos < bytes.length) {
      const tag = r.uint32();
      const field = tag >>> 3;
      if (field === 1 || field === 2) {
        if (kindSet) throw new Unexpected('second kind');
        kindSet = true;
      } else if (field === 4) {
        if (namesSet) throw new Unexpected('second full_feature_names');
        namesSet = true;
      } else if (field === 6) {
        if (projectSet) throw new Unexpected('second project');
        projectSet = true;
      }
      switch (tag) {
        case (1 << 3) | WIRE_LENGTH:
          kind = { case: 'featureService', value: r.string() };
          break;
        case (2 << 3) | WIRE_LENGTH:
          kind = { case: 'features', value: readFeatureList(r, r.end()) };
          break;
        case (3 << 3) | WIRE_LENGTH:
          readColumn(r, r.end(), entities);
          break;
        case (4 << 3) | WIRE_VARINT:
          fullFeatureNames = r.bool();
          break;
        case (5 << 3) | WIRE_LENGTH:
          readColumn(r, r.end(), requestContext);
          break;
        case (6 << 3) | WIRE_LENGTH:
          project = r.string();
          break;
        default:
          throw new Unexpected('GetOnlineFeaturesRequest field');
      }
    }
    if (r.pos !== bytes.length) throw new Unexpected('request overran');
    return { $typeName: REQUEST, kind, entities, fullFeatureNames, requestContext, project };
  } catch {
    // Unexpected, or anything else the reader met: protobuf-es decides what such bytes are.
    return undefined;
  }
}
