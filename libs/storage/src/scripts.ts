import type { Redis } from 'ioredis';

/**
 * Lua: Redis's clock in ms. Every time compared across processes (heartbeats, limits) is read from
 * it, so workers and apis on machines whose clocks disagree still agree on who is alive.
 */
const NOW_MS = `
      local function nowMs()
        local t = redis.call('TIME')
        return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
      end`;

/** Lua: the oldest heartbeat (ms, Redis's clock) of a live worker, given the heartbeat ttl (ms). */
const LIVE_SINCE = `${NOW_MS}
      local function liveSince(ttlMs)
        return nowMs() - tonumber(ttlMs)
      end`;

/** Lua shared by the placement scripts: drops what `worker` reserved for `container`. */
const UNRESERVE = `
      local function unreserve(workerPrefix, containersPrefix, worker, container)
        local held = redis.call('hget', containersPrefix .. worker, container)
        if not held then return end
        redis.call('hdel', containersPrefix .. worker, container)
        redis.call('hincrby', workerPrefix .. worker, 'memory', '-' .. held)
      end`;

/**
 * Lua scripts, defined on a connection as ioredis commands (EVALSHA after the first call), and
 * called through `runScript` so their names and arities live in one place. Pass them as the
 * `scripts` option of a client that auto-pipelines: its pipelines only know commands defined up front.
 */
export const REDIS_SCRIPTS = {
  /**
   * The one conditional write of an execution record. ARGV: record JSON, ttl s, mode, channel, message.
   * mode `placeholder`: only where there is none. mode `final`: over nothing or an `in_progress`
   * record, never over a finished one; then publishes `message` on `channel` (when given) in the
   * same step, so whoever hears it can read the record back. Returns 1 if written, else 0.
   */
  ciboxWriteExecution: {
    numberOfKeys: 1,
    lua: `
      local current = redis.call('get', KEYS[1])
      if ARGV[3] == 'placeholder' then
        if current then return 0 end
      elseif current and cjson.decode(current).execution.status ~= 'in_progress' then
        return 0
      end
      redis.call('set', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
      if ARGV[4] ~= '' then redis.call('publish', ARGV[4], ARGV[5]) end
      return 1`,
  },
  /**
   * A worker starting an execution. KEYS: record, started mark, cancel mark, the container's sandbox
   * binding. ARGV: placeholder JSON, ttl s, worker, sandbox id ('' for none), binding ttl s.
   * Returns {'finished'} (someone already ended it: do not run), {'started'} (a worker started it
   * before: it may have had effects, do not run again), or {'run', cancel requested (1 or 0), the
   * sandbox bound before (false for none)}: marked as started by this worker and, given a sandbox id,
   * bound to it. One step instead of three round trips on every execution's way in.
   */
  ciboxBeginExecution: {
    numberOfKeys: 4,
    lua: `
      local current = redis.call('get', KEYS[1])
      if current and cjson.decode(current).execution.status ~= 'in_progress' then return {'finished'} end
      if not redis.call('set', KEYS[2], ARGV[3], 'EX', tonumber(ARGV[2]), 'NX') then return {'started'} end
      if not current then redis.call('set', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2])) end
      local previous = false
      if ARGV[4] ~= '' then previous = redis.call('set', KEYS[4], ARGV[4], 'EX', tonumber(ARGV[5]), 'GET') end
      return {'run', redis.call('exists', KEYS[3]), previous}`,
  },
  /**
   * A worker's heartbeat: its time on Redis's clock, and its caps, in one step (placement never sees
   * one without the other). KEYS: workers, the worker's hash, its forgotten mark. ARGV: worker id, max
   * containers, max memory bytes (0 for none), draining ('1' or '0'). Returns 1 if the worker had been
   * forgotten (taken for dead) since its last beat, clearing the mark, else 0.
   */
  ciboxBeat: {
    numberOfKeys: 3,
    lua: `${NOW_MS}
      redis.call('zadd', KEYS[1], nowMs(), ARGV[1])
      redis.call('hset', KEYS[2], 'max_containers', ARGV[2], 'max_memory', ARGV[3], 'draining', ARGV[4])
      return redis.call('del', KEYS[3])`,
  },
  /** The live workers, or with ARGV[2] 'dead' the dead ones. KEYS: workers. ARGV: heartbeat ttl (ms), which. */
  ciboxListWorkers: {
    numberOfKeys: 1,
    lua: `${LIVE_SINCE}
      local since = liveSince(ARGV[1])
      if ARGV[2] == 'dead' then return redis.call('zrangebyscore', KEYS[1], '-inf', '(' .. since) end
      return redis.call('zrangebyscore', KEYS[1], since, '+inf')`,
  },
  /**
   * The container's owner if it is alive (draining or not: it holds the container until it hands it
   * over). KEYS: owner, workers. ARGV: heartbeat ttl (ms). Returns the owner, or false.
   */
  ciboxRouteContainer: {
    numberOfKeys: 2,
    lua: `${LIVE_SINCE}
      local owner = redis.call('get', KEYS[1])
      if not owner then return false end
      local beat = redis.call('zscore', KEYS[2], owner)
      if beat and tonumber(beat) >= liveSince(ARGV[1]) then return owner end
      return false`,
  },
  /**
   * Places a container on the live, non-draining worker with the most room left, in one step with
   * recording it as the owner and reserving the container and its memory there (and releasing what
   * a dead or former owner reserved for it). Room is the worker's load once the container is on it:
   * the larger of containers / max_containers and memory / max_memory (a cap of 0 or none is no cap).
   * KEYS: workers, owner, placing mark. ARGV: heartbeat ttl (ms), container id, its bytes, force ('1': place
   * over a cap rather than refuse), worker key prefix, worker-containers key prefix, mark ttl s.
   * Returns {outcome, worker}: 'owner' (it has a live owner already), 'placed', 'over' (placed past a
   * cap, forced), 'full' (every worker is at a cap: nothing was written) or 'none' (no worker can take it).
   * A new placement also sets KEYS[3], the container's placing mark, for ARGV[7] s: until its record
   * is stored, the container is one being created, not one deleted.
   */
  ciboxPlaceContainer: {
    numberOfKeys: 3,
    lua: `${UNRESERVE}${LIVE_SINCE}
      local since = liveSince(ARGV[1])
      local owner = redis.call('get', KEYS[2])
      if owner then
        local beat = redis.call('zscore', KEYS[1], owner)
        if beat and tonumber(beat) >= since then return {'owner', owner} end
      end
      local bytes = tonumber(ARGV[3])
      local best, bestLoad = nil, nil
      for _, w in ipairs(redis.call('zrangebyscore', KEYS[1], since, '+inf')) do
        local info = redis.call('hmget', ARGV[5] .. w, 'draining', 'max_containers', 'max_memory', 'memory')
        if info[1] ~= '1' then
          local load = 0
          local maxContainers = tonumber(info[2]) or 0
          if maxContainers > 0 then load = (redis.call('hlen', ARGV[6] .. w) + 1) / maxContainers end
          local maxMemory = tonumber(info[3]) or 0
          if maxMemory > 0 then load = math.max(load, ((tonumber(info[4]) or 0) + bytes) / maxMemory) end
          if not bestLoad or load < bestLoad then best, bestLoad = w, load end
        end
      end
      if not best then return {'none', ''} end
      local outcome = 'placed'
      if bestLoad > 1 then
        if ARGV[4] ~= '1' then return {'full', ''} end
        outcome = 'over'
      end
      if owner then unreserve(ARGV[5], ARGV[6], owner, ARGV[2]) end
      redis.call('set', KEYS[2], best)
      redis.call('hset', ARGV[6] .. best, ARGV[2], ARGV[3])
      redis.call('hincrby', ARGV[5] .. best, 'memory', ARGV[3])
      redis.call('set', KEYS[3], best, 'EX', tonumber(ARGV[7]))
      return {outcome, best}`,
  },
  /**
   * The container no longer has an owner; its reservation is released. KEYS: owner. ARGV: container
   * id, the owner it must have ('' for any), worker key prefix, worker-containers key prefix.
   * Returns 1, or 0 when it had no owner or another one.
   */
  ciboxReleaseContainer: {
    numberOfKeys: 1,
    lua: `${UNRESERVE}
      local owner = redis.call('get', KEYS[1])
      if not owner or (ARGV[2] ~= '' and owner ~= ARGV[2]) then return 0 end
      redis.call('del', KEYS[1])
      unreserve(ARGV[3], ARGV[4], owner, ARGV[1])
      return 1`,
  },
  /**
   * A dead worker is forgotten: its caps and reservations, and its ownership of the containers it
   * held, which are placed again at their next job; its forgotten mark is set, for it to find should
   * it come back. It stays listed (dead) until its queue is empty. KEYS: workers, its forgotten mark.
   * ARGV: worker id, heartbeat ttl (ms), owner key prefix, worker key prefix, worker-containers key
   * prefix, mark ttl s. Returns 0, changing nothing, if it is not listed or beat again since it was
   * found dead; else 1.
   */
  ciboxForgetWorker: {
    numberOfKeys: 2,
    lua: `${LIVE_SINCE}
      local beat = redis.call('zscore', KEYS[1], ARGV[1])
      if not beat or tonumber(beat) >= liveSince(ARGV[2]) then return 0 end
      for _, c in ipairs(redis.call('hkeys', ARGV[5] .. ARGV[1])) do
        if redis.call('get', ARGV[3] .. c) == ARGV[1] then redis.call('del', ARGV[3] .. c) end
      end
      redis.call('del', ARGV[4] .. ARGV[1], ARGV[5] .. ARGV[1])
      redis.call('set', KEYS[2], '1', 'EX', tonumber(ARGV[6]))
      return 1`,
  },
  /** A forgotten worker stops being listed, if still dead. KEYS: workers. ARGV: worker id, heartbeat ttl (ms). Returns 1 or 0. */
  ciboxDropWorker: {
    numberOfKeys: 1,
    lua: `${LIVE_SINCE}
      local beat = redis.call('zscore', KEYS[1], ARGV[1])
      if not beat or tonumber(beat) >= liveSince(ARGV[2]) then return 0 end
      return redis.call('zrem', KEYS[1], ARGV[1])`,
  },
  /**
   * A container file written at its path, replacing what the path held. KEYS: the path → id hash,
   * the container's index, the files version. ARGV: path, id, record JSON, score, record key prefix,
   * whether to check, the id the path must hold ('' for none). Returns {1, replaced record JSON or ''}
   * or, when the check fails, {0, ''}.
   */
  ciboxUpsertFileByPath: {
    numberOfKeys: 3,
    lua: `
      local previous = redis.call('HGET', KEYS[1], ARGV[1])
      if ARGV[6] == '1' and (previous or '') ~= ARGV[7] then return {0, ''} end
      local replaced = ''
      if previous then
        replaced = redis.call('GET', ARGV[5] .. previous) or ''
        redis.call('DEL', ARGV[5] .. previous)
        redis.call('ZREM', KEYS[2], previous)
      end
      redis.call('SET', ARGV[5] .. ARGV[2], ARGV[3])
      redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
      redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
      redis.call('INCR', KEYS[3])
      return {1, replaced}`,
  },
  /**
   * A batch changes state. KEYS: the record. ARGV: the statuses it may be in (comma-separated), the
   * fields to set (JSON object). Returns the new record JSON, or false when it is in another state
   * (so a cancel and the runner's own moves never overwrite each other).
   */
  ciboxTransitionBatch: {
    numberOfKeys: 1,
    lua: `
      local raw = redis.call('GET', KEYS[1])
      if not raw then return false end
      local record = cjson.decode(raw)
      local allowed = false
      for status in string.gmatch(ARGV[1], '[^,]+') do
        if status == record.status then allowed = true end
      end
      if not allowed then return false end
      for k, v in pairs(cjson.decode(ARGV[2])) do record[k] = v end
      local out = cjson.encode(record)
      redis.call('SET', KEYS[1], out)
      return out`,
  },
  /**
   * One line of a batch ended, recorded once. KEYS: done bitmap, progress hash, results list. ARGV:
   * line, result JSON ('' for none), count to add 1 to ('completed', 'failed' or ''), then the usage
   * to add: input, cached, output, reasoning, total tokens. Returns 1, or 0 if the line was recorded
   * before or the batch has ended (its progress is gone: a late line must not bring its keys back).
   */
  ciboxRecordBatchLine: {
    numberOfKeys: 3,
    lua: `
      if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
      if redis.call('SETBIT', KEYS[1], ARGV[1], 1) == 1 then return 0 end
      if ARGV[2] ~= '' then redis.call('RPUSH', KEYS[3], ARGV[2]) end
      redis.call('HINCRBY', KEYS[2], 'finished', 1)
      if ARGV[3] ~= '' then redis.call('HINCRBY', KEYS[2], ARGV[3], 1) end
      local fields = {'input_tokens', 'cached_tokens', 'output_tokens', 'reasoning_tokens', 'total_tokens'}
      for i, field in ipairs(fields) do
        local n = tonumber(ARGV[3 + i])
        if n ~= 0 then redis.call('HINCRBY', KEYS[2], field, n) end
      end
      return 1`,
  },
  /**
   * Counts a tenant's live containers from their records and, given a record and a limit, inserts it
   * only while fewer than the limit are live: count and insert are one step, so two creations racing
   * at the limit cannot both get in. Live is `isExpired`'s opposite (repositories.ts), in seconds.
   * KEYS: the tenant's index, the index of all containers. ARGV: record key prefix, now (s), limit,
   * then the id, record JSON and index score of the container to insert (none to only count).
   * Returns {inserted (1 or 0), live containers after it, s until the first live one expires}.
   */
  ciboxInsertContainerWithin: {
    numberOfKeys: 2,
    lua: `
      local now = tonumber(ARGV[2])
      local live, first = 0, 0
      for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
        local raw = redis.call('GET', ARGV[1] .. id)
        if raw then
          local r = cjson.decode(raw)
          local left = r.last_active_at + r.expires_minutes * 60 - now
          if not r.expired and left > 0 then
            live = live + 1
            if first == 0 or left < first then first = left end
          end
        end
      end
      if not ARGV[4] or live >= tonumber(ARGV[3]) then return {0, live, first} end
      redis.call('SET', ARGV[1] .. ARGV[4], ARGV[5])
      redis.call('ZADD', KEYS[1], ARGV[6], ARGV[4])
      redis.call('ZADD', KEYS[2], ARGV[6], ARGV[4])
      return {1, live + 1, first}`,
  },
  /**
   * Takes one slot of a tenant's limit, on Redis's clock so every api instance agrees. KEYS: a sorted
   * set of entries scored by when they expire (ms). ARGV: member, its lifetime ms, limit. Expired
   * entries are dropped first, so a slot that nobody released frees itself. Returns {taken (1 or 0),
   * entries now held, ms until the oldest entry expires}.
   */
  ciboxTakeSlot: {
    numberOfKeys: 1,
    lua: `${NOW_MS}
      local now = nowMs()
      redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
      local held = redis.call('ZCARD', KEYS[1])
      local taken = 0
      if held < tonumber(ARGV[3]) then
        redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
        if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
        held = held + 1
        taken = 1
      end
      local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
      local resetMs = 0
      if oldest[2] then resetMs = tonumber(oldest[2]) - now end
      return {taken, held, resetMs}`,
  },
} as const;

type ScriptName = keyof typeof REDIS_SCRIPTS;

export function runScript(redis: Redis, name: ScriptName, keys: string[], args: (string | number)[]): Promise<unknown> {
  const client = redis as Redis & Record<string, ((...a: (string | number)[]) => Promise<unknown>) | undefined>;
  if (typeof client[name] !== 'function') redis.defineCommand(name, REDIS_SCRIPTS[name]);
  return client[name]!(...keys, ...args);
}
