import type { Redis } from 'ioredis';

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
   * The container's owner if it is alive, optionally claiming it. KEYS: owner, workers. ARGV: oldest
   * live heartbeat (ms), claimant ('' for none). Returns the live owner, or the claimant once it took
   * the container over, or false.
   */
  ciboxRouteContainer: {
    numberOfKeys: 2,
    lua: `
      local owner = redis.call('get', KEYS[1])
      if owner then
        local beat = redis.call('zscore', KEYS[2], owner)
        if beat and tonumber(beat) >= tonumber(ARGV[1]) then return owner end
      end
      if ARGV[2] == '' then return false end
      redis.call('set', KEYS[1], ARGV[2])
      return ARGV[2]`,
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
   * Takes one slot of a tenant's limit, on Redis's clock so every api instance agrees. KEYS: a sorted
   * set of entries scored by when they expire (ms). ARGV: member, its lifetime ms, limit. Expired
   * entries are dropped first, so a slot that nobody released frees itself. Returns {taken (1 or 0),
   * entries now held, ms until the oldest entry expires}.
   */
  ciboxTakeSlot: {
    numberOfKeys: 1,
    lua: `
      local t = redis.call('TIME')
      local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
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
