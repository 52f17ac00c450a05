// Lua run inside Redis so that the last-writer-wins compare-and-set is atomic against
// every other writer: for each row the script reads the stored event time and writes
// only when the new row is at least as new. One call writes a chunk of rows (one per
// key in KEYS, in order; a key may repeat, and then the later row sees the earlier one),
// which cuts the per-call cost of EVALSHA that dominated one-call-per-row writes. In a
// cluster every chunk holds keys of one slot only (see RedisConnection.writeRows).
// Each script returns the number of rows it skipped because a newer row was stored.

// Redis 7.0 has no per-field expiry, so a key's expiry serves every view stored in it:
// a write with a ttl extends it (never shortens it), and a write without one removes it,
// so data of a view without a ttl never disappears with another view's. PTTL must be
// read before the write: afterwards a new key and a key without expiry look the same.
// `ttl_ms` 0 means no ttl. A write of several views at once ends as the per-view writes
// in turn would leave the key: merge_ttl gives 0 when any view has no ttl, else the longest.
//
// The packed layout removes an expiry without a PERSIST per write. Its hashes carry a
// marker field, ":ttl" (no view can be named so), whenever a write with a ttl touched the
// key, and only a write with a ttl ever sets an expiry, so a key without the marker has
// no expiry to remove: a write without a ttl reads the marker along with the stored rows
// and calls PERSIST (and drops the marker) only when it is there. That is one command in
// three of a plain materialization write. The feast layout keeps no marker and always
// calls PERSIST, since Feast itself sets expiries on keys it shares with us. (Packed
// hashes given an expiry before the marker existed lack it until a ttl write marks them.)
// hset_with_expiry's `marked`: nil for the feast layout, else whether the key has it.
const HASH_WRITE = `
local TTL_MARK = ':ttl'
local function hset_with_expiry(key, set, n, ttl_ms, marked)
  if ttl_ms > 0 then
    local before = redis.call('PTTL', key)
    if marked ~= nil then
      set[n + 1] = TTL_MARK
      set[n + 2] = '1'
      n = n + 2
    end
    redis.call('HSET', key, unpack(set, 1, n))
    if before == -2 or (before >= 0 and before < ttl_ms) then
      redis.call('PEXPIRE', key, ttl_ms)
    end
  else
    redis.call('HSET', key, unpack(set, 1, n))
    if marked ~= false then
      redis.call('PERSIST', key)
      if marked then redis.call('HDEL', key, TTL_MARK) end
    end
  end
end
local function merge_ttl(current, ttl_ms)
  if current == nil then return ttl_ms end
  if current == 0 or ttl_ms == 0 then return 0 end
  return math.max(current, ttl_ms)
end
`;

// A packed row's bytes 2..9 are its event time, u64 big-endian: microseconds in format
// version 2 (what the client writes), milliseconds in version 1 (rows stored before).
// Values stay below 2^53, so Lua's doubles hold them exactly. The new row's time is read
// the same way, so a row needs no argument besides its bytes.
const PACKED_EVENT_TS = `
local function event_ts(row)
  local b1, b2, b3, b4, b5, b6, b7, b8 = string.byte(row, 2, 9)
  return ((((((b1 * 256 + b2) * 256 + b3) * 256 + b4) * 256 + b5) * 256 + b6) * 256 + b7) * 256 + b8
end
local function event_micros(row)
  local version = string.byte(row, 1)
  if version == 2 then return event_ts(row) end
  if version == 1 then return event_ts(row) * 1000 end
  return nil
end
local function packed_older(row, old)
  if not old or #old < 9 then return false end
  local stored = event_micros(old)
  return stored ~= nil and event_micros(row) < stored
end
`;

// Feast stores google.protobuf.Timestamp; its varint fields 1 and 2 are decoded here.
const FEAST_STAMP = `
local function varint(s, i)
  local result, scale = 0, 1
  while true do
    local b = string.byte(s, i)
    if not b then return result, i end
    i = i + 1
    result = result + (b % 128) * scale
    if b < 128 then return result, i end
    scale = scale * 128
  end
end
local function seconds_nanos(stamp)
  local seconds, nanos, i = 0, 0, 1
  while i <= #stamp do
    local tag, v
    tag, i = varint(stamp, i)
    v, i = varint(stamp, i)
    if tag == 8 then seconds = v elseif tag == 16 then nanos = v end
  end
  return seconds, nanos
end
local function feast_older(old, seconds, nanos)
  local old_seconds, old_nanos = seconds_nanos(old)
  return seconds < old_seconds or (seconds == old_seconds and nanos < old_nanos)
end
`;

/**
 * Packed layout. KEYS: entity hashes; ARGV: [1] view field, [2] ttl ms (0: none), then
 * per key its packed row: one argument per row, since the per-argument cost of a call,
 * in the client and in Redis, is most of what a chunked write costs.
 */
export const PACKED_WRITE_LUA = `${HASH_WRITE}${PACKED_EVENT_TS}
local field = ARGV[1]
local ttl_ms = tonumber(ARGV[2])
local skipped = 0
local set = {}
for k = 1, #KEYS do
  local key = KEYS[k]
  local row = ARGV[2 + k]
  local old = redis.call('HMGET', key, field, TTL_MARK)
  if packed_older(row, old[1]) then
    skipped = skipped + 1
  else
    set[1] = field
    set[2] = row
    hset_with_expiry(key, set, 2, ttl_ms, old[2] ~= false)
  end
end
return skipped
`;

/**
 * Feast layout. KEYS: entity hashes; ARGV: [1] "_ts:<view>", [2] ttl ms, [3] n, [4 .. 3+n]
 * the view's feature fields, then per key one row blob: u8 length of the serialized
 * google.protobuf.Timestamp, the Timestamp, then per feature field (in ARGV order) an i32le
 * length and that many bytes of serialized Value, or length -1 when the row leaves the
 * feature out (its field is deleted). One argument per row instead of one per field.
 */
export const FEAST_WRITE_LUA = `${HASH_WRITE}${FEAST_STAMP}
local ts_field = ARGV[1]
local ttl_ms = tonumber(ARGV[2])
local n_fields = tonumber(ARGV[3])
local skipped = 0
for k = 1, #KEYS do
  local key = KEYS[k]
  local blob = ARGV[3 + n_fields + k]
  local stamp_end = 1 + string.byte(blob, 1)
  local stamp = string.sub(blob, 2, stamp_end)
  local old = redis.call('HGET', key, ts_field)
  if old and feast_older(old, seconds_nanos(stamp)) then
    skipped = skipped + 1
  else
    local set, del = { ts_field, stamp }, {}
    local at = stamp_end + 1
    for f = 1, n_fields do
      local length
      length, at = struct.unpack('<i4', blob, at)
      if length < 0 then
        del[#del + 1] = ARGV[3 + f]
      else
        set[#set + 1] = ARGV[3 + f]
        set[#set + 1] = string.sub(blob, at, at + length - 1)
        at = at + length
      end
    end
    hset_with_expiry(key, set, #set, ttl_ms)
    if #del > 0 then redis.call('HDEL', key, unpack(del)) end
  end
end
return skipped
`;

// Several views per entity (materialization): one HMGET of every view's stored time and
// one HSET of the views that win, instead of one compare-and-set per (view, entity). Each
// script returns the number of rows it skipped per view.

/**
 * Packed layout, several views per entity. KEYS: entity hashes; ARGV: [1] n views, [2 ..
 * 1+n] the view fields, [2+n .. 1+2n] their ttls in ms, then per key n arguments, its
 * packed row of each view in order, empty where the entity has no row of that view.
 * Rows come as arguments of their own, not cut from one (as the feast script does):
 * Redis's Lua hashes every byte of every string it makes, so one argument holding all
 * rows was hashed twice over, as itself and as each row cut from it, and that was a
 * sixth of Redis's time on this write. The client frames these arguments itself (see
 * FramedEval), so their number costs it nothing.
 */
export const PACKED_ENTITY_WRITE_LUA = `${HASH_WRITE}${PACKED_EVENT_TS}
local nv = tonumber(ARGV[1])
local fields, ttls, skipped = {}, {}, {}
for v = 1, nv do
  fields[v] = ARGV[1 + v]
  ttls[v] = tonumber(ARGV[1 + nv + v])
  skipped[v] = 0
end
fields[nv + 1] = TTL_MARK
local set = {}
local a = 2 + 2 * nv
for k = 1, #KEYS do
  local key = KEYS[k]
  local old = redis.call('HMGET', key, unpack(fields))
  local n, ttl = 0, nil
  for v = 1, nv do
    local row = ARGV[a]
    a = a + 1
    if #row > 0 then
      if packed_older(row, old[v]) then
        skipped[v] = skipped[v] + 1
      else
        set[n + 1] = fields[v]
        set[n + 2] = row
        n = n + 2
        ttl = merge_ttl(ttl, ttls[v])
      end
    end
  end
  if n > 0 then hset_with_expiry(key, set, n, ttl, old[nv + 1] ~= false) end
end
return skipped
`;

/**
 * Feast layout, several views per entity. KEYS: entity hashes; ARGV: [1] n views, then
 * per view "_ts:<view>", ttl ms, m, its m feature fields; then per key and per view the
 * row: its serialized Timestamp followed by its m serialized Values (every feature; null
 * is a Value too), or one empty argument where the entity has no row of that view (a
 * written Timestamp is never empty: the client spells out the epoch). Arguments of their
 * own, like the packed script's, so that the values go to HSET as Redis made them, with
 * no cutting and no table per row in Lua.
 */
export const FEAST_ENTITY_WRITE_LUA = `${HASH_WRITE}${FEAST_STAMP}
local nv = tonumber(ARGV[1])
local ts_fields, ttls, view_fields, skipped = {}, {}, {}, {}
local a = 2
for v = 1, nv do
  ts_fields[v] = ARGV[a]
  ttls[v] = tonumber(ARGV[a + 1])
  local m = tonumber(ARGV[a + 2])
  local list = {}
  for f = 1, m do list[f] = ARGV[a + 2 + f] end
  view_fields[v] = list
  skipped[v] = 0
  a = a + 3 + m
end
local set = {}
for k = 1, #KEYS do
  local key = KEYS[k]
  local old = redis.call('HMGET', key, unpack(ts_fields))
  local n, ttl = 0, nil
  for v = 1, nv do
    local stamp = ARGV[a]
    a = a + 1
    if #stamp > 0 then
      local fields = view_fields[v]
      local m = #fields
      if old[v] and feast_older(old[v], seconds_nanos(stamp)) then
        skipped[v] = skipped[v] + 1
      else
        set[n + 1] = ts_fields[v]
        set[n + 2] = stamp
        n = n + 2
        for f = 1, m do
          set[n + 1] = fields[f]
          set[n + 2] = ARGV[a + f - 1]
          n = n + 2
        end
        ttl = merge_ttl(ttl, ttls[v])
      end
      a = a + m
    end
  end
  if n > 0 then hset_with_expiry(key, set, n, ttl) end
end
return skipped
`;
