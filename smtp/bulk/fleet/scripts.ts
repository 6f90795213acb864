/**
 * Every change of an item's state is one Lua script, run atomically by Redis
 * and guarded by the claim token of the worker that holds the item, so a
 * worker that lost its claim (paused past its lease, cut off from Redis) can
 * neither send an item another worker holds nor overwrite its outcome. The
 * counts by state change in the same script, so status is O(1).
 *
 * The fields of an item's hash: `d` digest, `s` state, `r` recipient, `t`
 * the holder's claim token, `p` the token that
 * last deferred it, `n` tries, `c` reply code, `g` diagnostic, `j` refused
 * recipients (JSON), `u` due time (ms), `a` time of the last change (ms).
 * The row's values live in the campaign's values hash, so that item hashes
 * stay under Redis's listpack limits (64-byte values) and small.
 *
 * A token is `<worker>:<run>`; the worker is alive while its lease key
 * `<prefix>w:<worker>` exists. A claim whose worker's lease ran out may be
 * taken over; an item in `sending` whose worker's lease ran out becomes
 * `uncertain` and is never sent again unless the operator asks.
 *
 * Every script is idempotent for its caller: ioredis sends a command again
 * after a reconnection, and the first one may have been applied.
 */
import type { Redis } from 'ioredis';

const COMMON = `
local FINAL = {sent=true, refused=true, failed=true, uncertain=true, invalid=true, suppressed=true, bounced=true}
local function nowms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function alive(prefix, token)
  if not token or token == '' then return false end
  local worker = string.match(token, '^(.*):[^:]*$') or token
  return redis.call('EXISTS', prefix .. 'w:' .. worker) == 1
end
local function move(counts, from, to)
  if from == to then return end
  redis.call('HINCRBY', counts, from, -1)
  redis.call('HINCRBY', counts, to, 1)
end
local function lapse(key, counts, due, id, now)
  redis.call('HSET', key, 's', 'uncertain', 'a', now, 'g', 'its worker stopped after recording sending: the message may have been delivered')
  move(counts, 'sending', 'uncertain')
  redis.call('ZREM', due, id)
end
`;

/**
 * Claims items of a batch. KEYS: counts, due. ARGV: prefix, campaign base (`<prefix>c:<name>:`), token, ids...
 * Returns 4 values per id: status, recipient, values, tries. Status: `claimed`, `held` (a live worker has it),
 * `later` (deferred, not due yet), `final`, `uncertain` (its worker died in `sending`: now recorded so), `missing`.
 */
const CLAIM = `${COMMON}
local counts, due = KEYS[1], KEYS[2]
local prefix, base, token = ARGV[1], ARGV[2], ARGV[3]
local now = nowms()
local out = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  local key = base .. 'i:' .. id
  local f = redis.call('HMGET', key, 's', 't', 'u', 'r', 'n')
  local s, t = f[1], f[2]
  local status = 'claimed'
  if not s then status = 'missing'
  elseif FINAL[s] then status = 'final'
  elseif s == 'sending' then
    if t ~= token and not alive(prefix, t) then lapse(key, counts, due, id, now); status = 'uncertain'
    else status = 'held' end
  elseif t and t ~= '' and t ~= token and alive(prefix, t) then status = 'held'
  elseif s == 'deferred' and tonumber(f[3] or '0') > now then status = 'later'
  else redis.call('HSET', key, 't', token) end
  if status == 'claimed' then
    out[#out + 1] = status; out[#out + 1] = f[4] or ''; out[#out + 1] = redis.call('HGET', base .. 'v', id) or '{}'; out[#out + 1] = f[5] or '0'
  else
    out[#out + 1] = status; out[#out + 1] = ''; out[#out + 1] = ''; out[#out + 1] = ''
  end
end
return out
`;

/**
 * Claims deferred items that are due. KEYS: due, counts. ARGV: prefix, base, token, limit, lease ms.
 * A claimed item stays in the due set one lease ahead, so it comes back if its worker dies before
 * `sending`; an item in `sending` whose worker died becomes uncertain. Returns 4 values per claimed item:
 * id, recipient, values, tries.
 */
const CLAIM_DUE = `${COMMON}
local due, counts = KEYS[1], KEYS[2]
local prefix, base, token, limit, lease = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local now = nowms()
local ids = redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, limit)
local out = {}
for _, id in ipairs(ids) do
  local key = base .. 'i:' .. id
  local f = redis.call('HMGET', key, 's', 't', 'r', 'n')
  local s, t = f[1], f[2]
  if not s or FINAL[s] then redis.call('ZREM', due, id)
  elseif s == 'sending' then
    if t ~= token and not alive(prefix, t) then lapse(key, counts, due, id, now)
    else redis.call('ZADD', due, now + lease, id) end
  elseif t and t ~= '' and t ~= token and alive(prefix, t) then redis.call('ZADD', due, now + lease, id)
  else
    redis.call('HSET', key, 't', token)
    redis.call('ZADD', due, now + lease, id)
    out[#out + 1] = id; out[#out + 1] = f[3] or ''; out[#out + 1] = redis.call('HGET', base .. 'v', id) or '{}'; out[#out + 1] = f[4] or '0'
  end
end
return out
`;

/** Records `sending`. KEYS: item, counts. ARGV: token, tries. Returns `ok` or why not. */
const MARK_SENDING = `${COMMON}
local key, counts = KEYS[1], KEYS[2]
local token, tries = ARGV[1], ARGV[2]
local f = redis.call('HMGET', key, 's', 't')
if not f[1] then return 'missing' end
if f[2] ~= token then return 'not-holder' end
if f[1] == 'sending' then return 'ok' end
if f[1] ~= 'pending' and f[1] ~= 'deferred' then return 'state:' .. f[1] end
redis.call('HSET', key, 's', 'sending', 'n', tries, 'a', nowms())
move(counts, f[1], 'sending')
return 'ok'
`;

/** Records a temporary failure and releases the claim. KEYS: item, counts, due. ARGV: token, tries, code, diagnostic, due ms, id. */
const MARK_DEFERRED = `${COMMON}
local key, counts, due = KEYS[1], KEYS[2], KEYS[3]
local token, tries, code, diag, when, id = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local f = redis.call('HMGET', key, 's', 't', 'p')
if not f[1] then return 'missing' end
if f[1] == 'deferred' and f[3] == token then return 'ok' end
if f[2] ~= token then return 'not-holder' end
if f[1] ~= 'pending' and f[1] ~= 'deferred' and f[1] ~= 'sending' then return 'state:' .. f[1] end
redis.call('HSET', key, 's', 'deferred', 't', '', 'p', token, 'n', tries, 'c', code, 'g', diag, 'u', when, 'a', nowms())
redis.call('ZADD', due, when, id)
move(counts, f[1], 'deferred')
return 'ok'
`;

/**
 * Records an outcome. KEYS: item, counts, due. ARGV: token, state, tries, code, diagnostic, rejected JSON, id.
 * The holder may also settle an item another worker found lapsed (uncertain): it knows better.
 */
const MARK_OUTCOME = `${COMMON}
local key, counts, due = KEYS[1], KEYS[2], KEYS[3]
local token, state, tries, code, diag, rejected, id = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local f = redis.call('HMGET', key, 's', 't')
if not f[1] then return 'missing' end
if f[2] ~= token then return 'not-holder' end
if f[1] == state then return 'ok' end
if f[1] ~= 'pending' and f[1] ~= 'deferred' and f[1] ~= 'sending' and f[1] ~= 'uncertain' then return 'state:' .. f[1] end
redis.call('HSET', key, 's', state, 'n', tries, 'c', code, 'g', diag, 'j', rejected, 'a', nowms())
redis.call('HDEL', key, 'u')
redis.call('ZREM', due, id)
move(counts, f[1], state)
return 'ok'
`;

/** Hands back an unsent claimed item. KEYS: item. ARGV: token. */
const RELEASE = `
local f = redis.call('HMGET', KEYS[1], 's', 't')
if f[2] == ARGV[1] and (f[1] == 'pending' or f[1] == 'deferred') then redis.call('HSET', KEYS[1], 't', '') end
return 'ok'
`;

/**
 * Stores items. KEYS: counts, order, meta, and the check read's scratch hash (or `''` for single items).
 * ARGV: base, accept changed (0/1), the key of the BullMQ job that carries this batch (or `''`), then 7 per
 * item: id, digest, recipient, values JSON, state (`pending`, `invalid` or `suppressed`), diagnostic, and
 * the item's ordinal in the list (`''` for single items). Returns per item: `new` (stored now), `pending`
 * (known and still pending), `known`, `changed` (stored anew: accepted), `refused` (changed, not accepted),
 * `repeat` (the scratch hash names an earlier item of the list with this id: left out) or `unchecked` (the
 * check read never saw the id: left out); then one more value: `1` when the batch needs its job (some item
 * is pending and the job is not queued), else `0`. A job is removed only once its items are settled, so
 * checking both in one script leaves no gap for a job to be added twice.
 */
const ADD_ITEMS = `
local counts, order, meta, seen = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local base, accept, job = ARGV[1], ARGV[2] == '1', ARGV[3]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
local waiting = false
for i = 4, #ARGV, 7 do
  local id, digest, rcpt, values, state, diag, ordinal = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], ARGV[i + 6]
  local key = base .. 'i:' .. id
  local first = seen ~= '' and redis.call('HGET', seen, id)
  if seen ~= '' and not first then
    out[#out + 1] = 'unchecked'
  elseif seen ~= '' and string.sub(first, 1, #ordinal + 1) ~= ordinal .. ' ' then
    out[#out + 1] = 'repeat'
  else
    local f = redis.call('HMGET', key, 'd', 's')
    if not f[1] then
      if diag ~= '' then redis.call('HSET', key, 'd', digest, 's', state, 'r', rcpt, 'a', now, 'g', diag)
      else redis.call('HSET', key, 'd', digest, 's', state, 'r', rcpt, 'a', now) end
      redis.call('HSET', base .. 'v', id, values)
      redis.call('HINCRBY', counts, state, 1)
      redis.call('RPUSH', order, id)
      redis.call('HINCRBY', meta, 'total', 1)
      out[#out + 1] = 'new'
      if state == 'pending' then waiting = true end
    elseif f[1] == digest then
      out[#out + 1] = f[2] == 'pending' and 'pending' or 'known'
      if f[2] == 'pending' then waiting = true end
    elseif accept then
      redis.call('HSET', key, 'd', digest, 'r', rcpt)
      redis.call('HSET', base .. 'v', id, values)
      out[#out + 1] = f[2] == 'pending' and 'pending' or 'changed'
      if f[2] == 'pending' then waiting = true end
    else
      out[#out + 1] = 'refused'
    end
  end
end
if seen ~= '' then redis.call('PEXPIRE', seen, 3600000) end
if waiting and (job == '' or redis.call('EXISTS', job) == 0) then out[#out + 1] = '1' else out[#out + 1] = '0' end
return out
`;

/**
 * Checks items against what is stored, before anything is stored. KEYS: a scratch hash (the ids seen in
 * this list, each with the ordinal of its first item and 16 characters of its digest; expires an hour after
 * the last call). ARGV: base, then id, digest key (the digest's first 16 characters), ordinal triples. Returns per item: `ok`, `duplicate` (the same
 * item earlier in the list), `clash` (the same id earlier in the list with another digest), `changed`
 * (stored with another digest).
 */
const CHECK = `
local seen, base = KEYS[1], ARGV[1]
local out = {}
for i = 2, #ARGV, 3 do
  local id, digest, ordinal = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local prev = redis.call('HGET', seen, id)
  if prev then
    out[#out + 1] = string.sub(prev, -16) == digest and 'duplicate' or 'clash'
  else
    redis.call('HSET', seen, id, ordinal .. ' ' .. digest)
    local stored = redis.call('HGET', base .. 'i:' .. id, 'd')
    out[#out + 1] = (stored and string.sub(stored, 1, 16) ~= digest) and 'changed' or 'ok'
  end
end
redis.call('PEXPIRE', seen, 3600000)
return out
`;

/**
 * Sends uncertain items again: they become pending, unclaimed. KEYS: counts. ARGV: base, ids...
 * Returns the ids that were uncertain.
 */
const RESEND = `
local counts, base = KEYS[1], ARGV[1]
local out = {}
for i = 2, #ARGV do
  local key = base .. 'i:' .. ARGV[i]
  if redis.call('HGET', key, 's') == 'uncertain' then
    redis.call('HSET', key, 's', 'pending', 't', '', 'g', "sent again at the operator's request: it may arrive twice")
    redis.call('HINCRBY', counts, 'uncertain', -1)
    redis.call('HINCRBY', counts, 'pending', 1)
    out[#out + 1] = ARGV[i]
  end
end
return out
`;

/**
 * Reserves a send time in a campaign's bucket (GCRA, the generic cell rate algorithm: a token bucket kept as
 * one "theoretical arrival time"). KEYS: bucket. ARGV: rate per second, burst. Each reservation moves the
 * bucket's time on by one interval (1000 / rate ms); a reservation may fall up to burst - 1 intervals before it,
 * never before now. So any window of L ms holds at most burst + L * rate / 1000 reservations. Times are Redis's
 * own clock, in ms; the reply is the reserved time as a string (fractions kept).
 */
const RESERVE = `
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local interval = 1000 / rate
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local tat = tonumber(redis.call('HGET', KEYS[1], 'tat') or '0')
if tat < now then tat = now end
local slot = tat - (burst - 1) * interval
if slot < now then slot = now end
redis.call('HSET', KEYS[1], 'tat', string.format('%.3f', tat + interval))
redis.call('PEXPIRE', KEYS[1], 3600000)
return string.format('%.3f', slot)
`;

/** The scripts as commands of a client (ioredis sends EVALSHA and falls back to EVAL, e.g. after a Redis restart). */
export interface FleetCommands {
  tclmailClaim(counts: string, due: string, ...args: string[]): Promise<string[]>;
  tclmailClaimDue(due: string, counts: string, ...args: string[]): Promise<string[]>;
  tclmailSending(item: string, counts: string, token: string, tries: string): Promise<string>;
  tclmailDeferred(item: string, counts: string, due: string, ...args: string[]): Promise<string>;
  tclmailOutcome(item: string, counts: string, due: string, ...args: string[]): Promise<string>;
  tclmailRelease(item: string, token: string): Promise<string>;
  tclmailAddItems(counts: string, order: string, meta: string, seen: string, ...args: string[]): Promise<string[]>;
  tclmailResend(counts: string, ...args: string[]): Promise<string[]>;
  tclmailCheck(seen: string, ...args: string[]): Promise<string[]>;
  tclmailReserve(bucket: string, rate: string, burst: string): Promise<string>;
}

export type FleetRedis = Redis & FleetCommands;

const DEFINED = new WeakSet<object>();

/** Adds the fleet's scripts to a client (once). @internal */
export function withScripts(client: Redis): FleetRedis {
  if (!DEFINED.has(client)) {
    client.defineCommand('tclmailClaim', { numberOfKeys: 2, lua: CLAIM });
    client.defineCommand('tclmailClaimDue', { numberOfKeys: 2, lua: CLAIM_DUE });
    client.defineCommand('tclmailSending', { numberOfKeys: 2, lua: MARK_SENDING });
    client.defineCommand('tclmailDeferred', { numberOfKeys: 3, lua: MARK_DEFERRED });
    client.defineCommand('tclmailOutcome', { numberOfKeys: 3, lua: MARK_OUTCOME });
    client.defineCommand('tclmailRelease', { numberOfKeys: 1, lua: RELEASE });
    client.defineCommand('tclmailAddItems', { numberOfKeys: 4, lua: ADD_ITEMS });
    client.defineCommand('tclmailResend', { numberOfKeys: 1, lua: RESEND });
    client.defineCommand('tclmailCheck', { numberOfKeys: 1, lua: CHECK });
    client.defineCommand('tclmailReserve', { numberOfKeys: 1, lua: RESERVE });
    DEFINED.add(client);
  }
  return client as FleetRedis;
}
