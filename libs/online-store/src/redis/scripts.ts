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
const EXPIRY = `
local function ttl_before(key, ttl_ms)
  if ttl_ms > 0 then return redis.call('PTTL', key) end
  return 0
end
local function expire_after_write(key, before, ttl_ms)
  if ttl_ms > 0 then
    if before == -2 or (before >= 0 and before < ttl_ms) then
      redis.call('PEXPIRE', key, ttl_ms)
    end
  else
    redis.call('PERSIST', key)
  end
end
`;

/**
 * Packed layout. KEYS: entity hashes; ARGV: [1] view field, [2] ttl ms (0: none), then
 * per key its packed row. A row's bytes 2..9 are its event time, u64 big-endian; ms values
 * stay below 2^53, so Lua's doubles hold them exactly. The new row's time is read the same
 * way (the client wrote it), which keeps each row to one argument: the per-argument cost
 * of a call, in the client and in Redis, is most of what a chunked write costs.
 */
export const PACKED_WRITE_LUA = `${EXPIRY}
local function event_ts(row)
  local b1, b2, b3, b4, b5, b6, b7, b8 = string.byte(row, 2, 9)
  return ((((((b1 * 256 + b2) * 256 + b3) * 256 + b4) * 256 + b5) * 256 + b6) * 256 + b7) * 256 + b8
end
local field = ARGV[1]
local ttl_ms = tonumber(ARGV[2])
local skipped = 0
for k = 1, #KEYS do
  local key = KEYS[k]
  local row = ARGV[2 + k]
  local old = redis.call('HGET', key, field)
  if old and string.byte(old, 1) == 1 and #old >= 9 and event_ts(row) < event_ts(old) then
    skipped = skipped + 1
  else
    local before = ttl_before(key, ttl_ms)
    redis.call('HSET', key, field, row)
    expire_after_write(key, before, ttl_ms)
  end
end
return skipped
`;

/**
 * Feast layout. KEYS: entity hashes; ARGV: [1] "_ts:<view>", [2] ttl ms, [3] n, [4 .. 3+n]
 * the view's feature fields, then per key one row blob: u8 length of the serialized
 * google.protobuf.Timestamp, the Timestamp, then per feature field (in ARGV order) an i32le
 * length and that many bytes of serialized Value, or length -1 when the row leaves the
 * feature out (its field is deleted). One argument per row instead of one per field: the
 * per-argument cost dominated. Timestamps (stored and new) are decoded here (varint
 * fields 1 and 2).
 */
export const FEAST_WRITE_LUA = `${EXPIRY}
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
local ts_field = ARGV[1]
local ttl_ms = tonumber(ARGV[2])
local n_fields = tonumber(ARGV[3])
local skipped = 0
for k = 1, #KEYS do
  local key = KEYS[k]
  local blob = ARGV[3 + n_fields + k]
  local stamp_end = 1 + string.byte(blob, 1)
  local stamp = string.sub(blob, 2, stamp_end)
  local older = false
  local old = redis.call('HGET', key, ts_field)
  if old then
    local seconds, nanos = seconds_nanos(old)
    local new_seconds, new_nanos = seconds_nanos(stamp)
    older = new_seconds < seconds or (new_seconds == seconds and new_nanos < nanos)
  end
  if older then
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
    local before = ttl_before(key, ttl_ms)
    redis.call('HSET', key, unpack(set))
    if #del > 0 then redis.call('HDEL', key, unpack(del)) end
    expire_after_write(key, before, ttl_ms)
  end
end
return skipped
`;

// Several views per entity (materialization): one HMGET of every view's stored time and
// one HSET of the views that win, instead of one compare-and-set per (view, entity).
// A key's expiry ends as the per-view writes in turn would leave it: any view written
// without a ttl removes it; otherwise it is extended to the longest ttl written.
const ENTITY_EXPIRY = `
local function write_entity(key, set, max_ttl, persist)
  if persist then
    redis.call('HSET', key, unpack(set))
    redis.call('PERSIST', key)
  else
    local before = redis.call('PTTL', key)
    redis.call('HSET', key, unpack(set))
    if before == -2 or (before >= 0 and before < max_ttl) then
      redis.call('PEXPIRE', key, max_ttl)
    end
  end
end
`;

/**
 * Packed layout, several views per entity. KEYS: entity hashes; ARGV: [1] n views, [2 ..
 * 1+n] the view fields, [2+n .. 1+2n] their ttls in ms, then per key n packed rows in
 * view order, an empty string where the entity has no row of that view. Returns the
 * number of rows skipped per view.
 */
export const PACKED_ENTITY_WRITE_LUA = `${ENTITY_EXPIRY}
local function event_ts(row)
  local b1, b2, b3, b4, b5, b6, b7, b8 = string.byte(row, 2, 9)
  return ((((((b1 * 256 + b2) * 256 + b3) * 256 + b4) * 256 + b5) * 256 + b6) * 256 + b7) * 256 + b8
end
local nv = tonumber(ARGV[1])
local fields, ttls, skipped = {}, {}, {}
for v = 1, nv do
  fields[v] = ARGV[1 + v]
  ttls[v] = tonumber(ARGV[1 + nv + v])
  skipped[v] = 0
end
local base = 1 + 2 * nv
for k = 1, #KEYS do
  local key = KEYS[k]
  local at = base + (k - 1) * nv
  local old = redis.call('HMGET', key, unpack(fields))
  local set, max_ttl, persist = {}, 0, false
  for v = 1, nv do
    local row = ARGV[at + v]
    if #row > 0 then
      local o = old[v]
      if o and string.byte(o, 1) == 1 and #o >= 9 and event_ts(row) < event_ts(o) then
        skipped[v] = skipped[v] + 1
      else
        set[#set + 1] = fields[v]
        set[#set + 1] = row
        if ttls[v] > 0 then
          if ttls[v] > max_ttl then max_ttl = ttls[v] end
        else
          persist = true
        end
      end
    end
  end
  if #set > 0 then write_entity(key, set, max_ttl, persist) end
end
return skipped
`;

/**
 * Feast layout, several views per entity. KEYS: entity hashes; ARGV: [1] n views, then
 * per view "_ts:<view>", ttl ms, m, its m feature fields; then per key n row blobs in
 * view order (as FEAST_WRITE_LUA's), an empty string where the entity has no row of that
 * view. Returns the number of rows skipped per view.
 */
export const FEAST_ENTITY_WRITE_LUA = `${ENTITY_EXPIRY}
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
local nv = tonumber(ARGV[1])
local ts_fields, ttls, view_fields, skipped = {}, {}, {}, {}
local at = 2
for v = 1, nv do
  ts_fields[v] = ARGV[at]
  ttls[v] = tonumber(ARGV[at + 1])
  local m = tonumber(ARGV[at + 2])
  local list = {}
  for f = 1, m do list[f] = ARGV[at + 2 + f] end
  view_fields[v] = list
  skipped[v] = 0
  at = at + 3 + m
end
local base = at - 1
for k = 1, #KEYS do
  local key = KEYS[k]
  local row_at = base + (k - 1) * nv
  local old = redis.call('HMGET', key, unpack(ts_fields))
  local set, del, max_ttl, persist = {}, {}, 0, false
  for v = 1, nv do
    local blob = ARGV[row_at + v]
    if #blob > 0 then
      local stamp_end = 1 + string.byte(blob, 1)
      local stamp = string.sub(blob, 2, stamp_end)
      local older = false
      local o = old[v]
      if o then
        local seconds, nanos = seconds_nanos(o)
        local new_seconds, new_nanos = seconds_nanos(stamp)
        older = new_seconds < seconds or (new_seconds == seconds and new_nanos < nanos)
      end
      if older then
        skipped[v] = skipped[v] + 1
      else
        set[#set + 1] = ts_fields[v]
        set[#set + 1] = stamp
        local fields = view_fields[v]
        local p = stamp_end + 1
        for f = 1, #fields do
          local length
          length, p = struct.unpack('<i4', blob, p)
          if length < 0 then
            del[#del + 1] = fields[f]
          else
            set[#set + 1] = fields[f]
            set[#set + 1] = string.sub(blob, p, p + length - 1)
            p = p + length
          end
        end
        if ttls[v] > 0 then
          if ttls[v] > max_ttl then max_ttl = ttls[v] end
        else
          persist = true
        end
      end
    end
  end
  if #set > 0 then
    write_entity(key, set, max_ttl, persist)
    if #del > 0 then redis.call('HDEL', key, unpack(del)) end
  end
end
return skipped
`;
