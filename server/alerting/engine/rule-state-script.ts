/**
 * The Lua scripts that own all rule window state and the alert lifecycle. Everything that decides "does this
 * fire / resolve / re-notify" runs inside one script call, so any number of replicas sharing a Redis produce each
 * alert, each notification job and each resolution exactly once.
 *
 * `nlRulesApply` gets the per-batch aggregates of every matched (rule, group) — one call per ingested batch.
 * `nlRulesSweep` runs on a timer: resolves alerts whose condition cleared and fires the rules that fire on
 * absence (flatline, spike down, cardinality/aggregate below), which no incoming log would trigger.
 *
 * Key layout under `prefix` (`nl:{tenant}:`), all in the tenant's hash slot:
 *   rs:<rule>:<rev>:<group>:s   STRING "cs ps e cb": window sums, newest bucket and its count (count types)
 *   rs:<rule>:<rev>:<group>:b   HASH closed bucket counts c:<i> (count types)
 *                               (count types); c/s/x/n/p:<i> count, sum, max, min, samples (aggregate)
 *   rs:<rule>:<rev>:<group>:d   ZSET distinct value → last seen (cardinality)
 *   rs:<rule>:<rev>:<group>:v   SET values seen (new_value)
 *   rs:<rule>:<rev>:groups      ZSET group → last seen (groups the sweep checks for absence)
 *   rs:<rule>:last              HASH group → last value (change)
 *   alerts:seq, alerts (ZSET), alert:<id> (HASH), alerts:active (HASH dedup → id), silences (HASH)
 *   rule:<id>:history (STREAM), actions (STREAM, the action queue), sweep:lock (STRING, one sweep per interval)
 * `<rev>` is the rule's updatedAt, so editing a rule starts its windows afresh; old state expires by TTL.
 * A group is the JSON array of the group-by values (`""` without group-by); the dedup key is `<rule>|<group>`.
 */
import type { Redis } from "ioredis";

const COMMON = `
local P = ARGV[1]
local now = tonumber(ARGV[2])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function fmt(n) return string.format('%.0f', n) end
local function num(v, d) if v then return tonumber(v) or d end return d end
local function str(v) if v == nil then return '' end return tostring(v) end
-- One rule that fails (a state key of the wrong type, a script error) must not cost the others their evaluation:
-- each rule's work runs under pcall, and the failures go back to the caller as rule id, message pairs.
local errs = {}
local function guarded(ruleId, work, ...)
  local ok, e = pcall(work, ...)
  if not ok then
    errs[#errs + 1] = ruleId
    errs[#errs + 1] = string.sub(type(e) == 'table' and tostring(e.err or e) or tostring(e), 1, 300)
  end
end

local function stateBase(op) return P .. 'rs:' .. op.r .. ':' .. fmt(op.rev) .. ':' .. op.g end
local function groupsKey(op) return P .. 'rs:' .. op.r .. ':' .. fmt(op.rev) .. ':groups' end

local function labels(op)
  if op.g == '' then return '{}' end
  local ok, vals = pcall(cjson.decode, op.g)
  if not ok then return '{}' end
  local o = {}
  for i, name in ipairs(op.gb or {}) do o[name] = vals[i] end
  return cjson.encode(o)
end

local function windowStats(key, op, t, shift, agg)
  local nb = math.ceil(op.w / op.b)
  local last = math.floor(t / op.b) - shift * nb
  local fields = {}
  for i = last - nb + 1, last do
    local s = fmt(i)
    fields[#fields + 1] = 'c:' .. s
    if agg then
      fields[#fields + 1] = 's:' .. s
      fields[#fields + 1] = 'x:' .. s
      fields[#fields + 1] = 'n:' .. s
      fields[#fields + 1] = 'p:' .. s
    end
  end
  local vals = redis.call('HMGET', key, unpack(fields))
  local st = { count = 0, sum = 0, samples = {} }
  local step = agg and 5 or 1
  for j = 1, #vals, step do
    st.count = st.count + num(vals[j], 0)
    if agg then
      st.sum = st.sum + num(vals[j + 1], 0)
      local x = num(vals[j + 2], nil)
      if x and (st.max == nil or x > st.max) then st.max = x end
      local m = num(vals[j + 3], nil)
      if m and (st.min == nil or m < st.min) then st.min = m end
      if vals[j + 4] then
        for _, v in ipairs(cjson.decode(vals[j + 4])) do st.samples[#st.samples + 1] = v end
      end
    end
  end
  return st
end

local function aggregateValue(st, op)
  if st.count == 0 then return nil end
  if op.agg == 'avg' then return st.sum / st.count end
  if op.agg == 'sum' then return st.sum end
  if op.agg == 'max' then return st.max end
  if op.agg == 'min' then return st.min end
  if #st.samples == 0 then return nil end
  table.sort(st.samples)
  local k = math.max(1, math.ceil(op.pct / 100 * #st.samples))
  return st.samples[k]
end

-- Count windows keep running sums of the current and the previous window (spike compares the two), moved forward
-- bucket by bucket. A group's sums live in one string ('<base>:s' = "cs ps e cb": current-window sum,
-- previous-window sum, newest bucket index, its count), so the apply script reads the state of every group of a
-- batch with ONE MGET and writes each with one SET; the counts of older buckets ('<base>:b', c:<i>) are written
-- only when a bucket closes.
local function unpackState(text)
  if not text then return nil end
  local cs, ps, e, cb = string.match(text, '^(%S+) (%S+) (%S+) (%S+)$')
  return tonumber(cs), tonumber(ps), tonumber(e), tonumber(cb)
end

local function advance(base, op, idx, text)
  local nb = math.ceil(op.w / op.b)
  local cs, ps, e, cb = unpackState(text)
  if e == nil then return 0, 0, idx, 0, true end
  if idx <= e then return cs, ps, e, cb, false end
  local key = base .. ':b'
  if idx - e >= 2 * nb then
    redis.call('DEL', key) -- silent for two windows: nothing is left to count
    return 0, 0, idx, 0, true
  end
  if cb ~= 0 then
    redis.call('HSET', key, 'c:' .. fmt(e), cb)
    redis.call('PEXPIRE', key, 2 * op.w + op.b)
  end
  for s = e + 1, idx do
    local j, k = 'c:' .. fmt(s - nb), 'c:' .. fmt(s - 2 * nb)
    local v = redis.call('HMGET', key, j, k)
    local cj, ck = num(v[1], 0), num(v[2], 0)
    cs = cs - cj
    ps = ps + cj - ck
    if v[2] then redis.call('HDEL', key, k) end
  end
  return cs, ps, idx, 0, true
end

local function saveState(base, op, cs, ps, e, cb)
  redis.call('SET', base .. ':s', string.format('%.0f %.0f %.0f %.0f', cs, ps, e, cb), 'PX', 2 * op.w + op.b)
end

local function counts(base, op, t)
  local cs, ps, e, cb, moved = advance(base, op, math.floor(t / op.b), redis.call('GET', base .. ':s'))
  if moved then saveState(base, op, cs, ps, e, cb) end
  return cs, ps, e
end

-- Whether a windowed rule's condition holds for op.g at time t, and the observed value.
local function evaluate(op, t)
  local base = stateBase(op)
  local ty = op.t
  if ty == 'frequency' then
    local cs = counts(base, op, t)
    return cs >= op.th, cs
  elseif ty == 'flatline' then
    local cs = counts(base, op, t)
    return (t - op.since >= op.w) and cs < op.th, cs
  elseif ty == 'spike' then
    local cur, prev = counts(base, op, t)
    if t - op.since < 2 * op.w then return false, cur end
    if op.dir == 'down' then return prev >= op.minc and cur * op.ratio <= prev, cur end
    return cur >= op.minc and cur >= op.ratio * prev, cur
  elseif ty == 'cardinality' then
    redis.call('ZREMRANGEBYSCORE', base .. ':d', '-inf', '(' .. fmt(t - op.w))
    local card = redis.call('ZCARD', base .. ':d')
    if op.op == 'below' then return (t - op.since >= op.w) and card < op.th, card end
    return card > op.th, card
  elseif ty == 'aggregate' then
    local v = aggregateValue(windowStats(base .. ':b', op, t, 0, true), op)
    if v == nil then return false, nil end
    if op.op == 'below' then return v < op.th, v end
    return v > op.th, v
  end
  return false, nil
end

local function history(ruleId, event, alertId, value, reason)
  redis.call('XADD', P .. 'rule:' .. ruleId .. ':history', 'MAXLEN', '~', '1000', '*',
    'at', fmt(now), 'event', event, 'alert', alertId, 'value', str(value), 'reason', reason)
end

local function enqueue(alertId, event)
  redis.call('XADD', P .. 'actions', 'MAXLEN', '~', '100000', '*', 'alert', alertId, 'event', event, 'at', fmt(now))
end

local function silenced(ruleId, dedupKey)
  local a = num(redis.call('HGET', P .. 'silences', ruleId), 0)
  local b = num(redis.call('HGET', P .. 'silences', dedupKey), 0)
  return math.max(a, b) > now
end

-- Opens an alert for dedupKey, or updates the firing one (and re-notifies after the realert interval). Silences
-- and acknowledgements are looked up only when a notification is due: the common case (still firing) stays cheap.
local function fire(op, dedupKey, value, reason, exampleId, bump)
  local activeKey = P .. 'alerts:active'
  local id = redis.call('HGET', activeKey, dedupKey)
  if id then
    local ak = P .. 'alert:' .. id
    if bump then redis.call('HINCRBY', ak, 'count', 1) end
    redis.call('HSET', ak, 'lastSeenAt', fmt(now), 'value', str(value))
    if (op.re or 0) > 0 then
      local last = num(redis.call('HGET', ak, 'lastNotifiedAt'), 0)
      if now - last >= op.re and not redis.call('HGET', ak, 'ackedAt') and not silenced(op.r, dedupKey) then
        redis.call('HSET', ak, 'lastNotifiedAt', fmt(now), 'silenced', '0')
        redis.call('HINCRBY', ak, 'notifications', 1)
        enqueue(id, 'firing')
        history(op.r, 'realerted', id, value, reason)
      end
    end
    return nil
  end
  local quiet = silenced(op.r, dedupKey)
  id = fmt(redis.call('INCR', P .. 'alerts:seq'))
  local ak = P .. 'alert:' .. id
  redis.call('HSET', ak, 'id', id, 'ruleId', op.r, 'ruleName', op.n, 'ruleType', op.t, 'severity', op.sev,
    'status', 'firing', 'dedupKey', dedupKey, 'groupKey', op.g, 'group', labels(op),
    'firedAt', fmt(now), 'lastSeenAt', fmt(now), 'lastNotifiedAt', fmt(now), 'value', str(value),
    'reason', reason, 'exampleId', exampleId or '', 'count', 1, 'notifications', quiet and 0 or 1,
    'silenced', quiet and '1' or '0')
  redis.call('ZADD', P .. 'alerts', now, id)
  redis.call('HSET', activeKey, dedupKey, id)
  history(op.r, 'fired', id, value, reason)
  if not quiet then enqueue(id, 'firing') end
  return id
end

local function resolve(id, dedupKey, ruleId, notify, reason)
  local ak = P .. 'alert:' .. id
  redis.call('HSET', ak, 'status', 'resolved', 'resolvedAt', fmt(now), 'resolveReason', reason)
  redis.call('HDEL', P .. 'alerts:active', dedupKey)
  history(ruleId, 'resolved', id, '', reason)
  if notify and redis.call('HGET', ak, 'silenced') ~= '1' and not silenced(ruleId, dedupKey) then
    enqueue(id, 'resolved')
  end
end

local function describe(op, value)
  local ty = op.t
  if ty == 'any' then return 'matched' end
  if ty == 'frequency' then return str(value) .. ' matches in window (threshold ' .. str(op.th) .. ')' end
  if ty == 'flatline' then return str(value) .. ' matches in window, fewer than ' .. str(op.th) end
  if ty == 'spike' then return 'spike ' .. (op.dir or 'up') .. ': ' .. str(value) .. ' in window' end
  if ty == 'cardinality' then return str(value) .. ' distinct values, ' .. (op.op or 'above') .. ' ' .. str(op.th) end
  if ty == 'aggregate' then return op.agg .. ' = ' .. str(value) .. ', ' .. (op.op or 'above') .. ' ' .. str(op.th) end
  return ty
end
`;

const APPLY = `${COMMON}
-- Aggregate windows keep per-bucket count, sum, max, min and a sample of values (for percentiles). Returns
-- whether the window is due for evaluation: reading every bucket is the expensive part, so it happens at most
-- once a second per group.
local function addAggregate(key, op)
  local idx = math.floor(now / op.b)
  local s = fmt(idx)
  local cur = redis.call('HMGET', key, 'x:' .. s, 'n:' .. s, 'p:' .. s, 'et')
  local due = now - num(cur[4], 0) >= 1000
  local x, m = num(cur[1], nil), num(cur[2], nil)
  local arr = cur[3] and cjson.decode(cur[3]) or {}
  for _, v in ipairs(op.vs) do
    if #arr < 100 then arr[#arr + 1] = v else arr[math.random(#arr)] = v end
  end
  redis.call('HINCRBY', key, 'c:' .. s, op.c)
  redis.call('HINCRBYFLOAT', key, 's:' .. s, op.s)
  redis.call('HSET', key, 'x:' .. s, (x == nil or op.mx > x) and op.mx or x, 'n:' .. s, (m == nil or op.mn < m) and op.mn or m,
    'p:' .. s, cjson.encode(arr), 'et', due and fmt(now) or cur[4])
  local nb = math.ceil(op.w / op.b)
  local lc = num(redis.call('HGET', key, 'lc'), 0)
  if idx - lc > 2 * nb then
    local keep = idx - 2 * nb
    for _, f in ipairs(redis.call('HKEYS', key)) do
      local i = tonumber(string.sub(f, 3))
      if f ~= 'lc' and i and i <= keep then redis.call('HDEL', key, f) end
    end
    redis.call('HSET', key, 'lc', s)
  end
  redis.call('PEXPIRE', key, 2 * op.w + op.b)
  return due
end

-- Returns the window sums after adding the batch: the caller decides from them, without a second read.
local function addCount(base, op, text)
  local cs, ps, e, cb = advance(base, op, math.floor(now / op.b), text)
  saveState(base, op, cs + op.c, ps, e, cb + op.c)
  return cs + op.c, ps
end

local function countBreach(op, cs, ps)
  if op.t == 'frequency' then return cs >= op.th, cs end
  if op.t == 'spike' and op.dir ~= 'down' then
    if now - op.since < 2 * op.w then return false, cs end
    return cs >= op.minc and cs >= op.ratio * ps, cs
  end
  if op.t == 'spike' then
    if now - op.since < 2 * op.w then return false, cs end
    return ps >= op.minc and cs * op.ratio <= ps, cs
  end
  return false, cs
end

local fired = {}
local function note(id) if id then fired[#fired + 1] = id end end
local batch = cjson.decode(ARGV[3])
local isCount = { frequency = true, flatline = true, spike = true }
-- The count-window state of every group in the batch, read at once.
local stateKeys, states = {}, {}
for _, op in ipairs(batch.ops) do
  setmetatable(op, { __index = batch.rules[op.i] })
  if isCount[op.t] then stateKeys[#stateKeys + 1] = stateBase(op) .. ':s' end
end
for from = 1, #stateKeys, 4000 do
  local chunk = redis.call('MGET', unpack(stateKeys, from, math.min(from + 3999, #stateKeys)))
  for j = 1, #chunk do states[from + j - 1] = chunk[j] end
end
-- One op: its rule's work for one group of the batch (under pcall, see guarded).
local function applyOp(op, state)
  local ty = op.t
  local base = stateBase(op)
  local dedupKey = op.r .. '|' .. op.g
  if op.sw then
    redis.call('ZADD', groupsKey(op), now, op.g)
    redis.call('PEXPIRE', groupsKey(op), op.keep)
  end
  if ty == 'any' then
    note(fire(op, dedupKey, op.c, 'matched', op.ex, true))
  elseif ty == 'frequency' or ty == 'flatline' or ty == 'spike' then
    local breach, value = countBreach(op, addCount(base, op, state))
    if breach then note(fire(op, dedupKey, value, describe(op, value), op.ex, true)) end
  elseif ty == 'aggregate' then
    if addAggregate(base .. ':b', op) then
      local breach, value = evaluate(op, now)
      if breach then note(fire(op, dedupKey, value, describe(op, value), op.ex, true)) end
    end
  elseif ty == 'cardinality' then
    local args = {}
    for _, v in ipairs(op.vals) do
      args[#args + 1] = now
      args[#args + 1] = v
    end
    if #args > 0 then redis.call('ZADD', base .. ':d', unpack(args)) end
    redis.call('PEXPIRE', base .. ':d', op.w + op.b)
    local breach, value = evaluate(op, now)
    if breach then note(fire(op, dedupKey, value, describe(op, value), op.ex, true)) end
  elseif ty == 'new_value' then
    local key = base .. ':v'
    local seen = #op.vals > 0 and redis.call('SMISMEMBER', key, unpack(op.vals)) or {}
    local room = 100000 - redis.call('SCARD', key)
    for i, v in ipairs(op.vals) do
      if seen[i] == 0 and room > 0 then
        room = room - 1
        redis.call('SADD', key, v)
        note(fire(op, dedupKey .. '|' .. v, v, 'new value of ' .. op.f .. ': ' .. v, op.ex, true))
      end
    end
  elseif ty == 'change' then
    local lastKey = P .. 'rs:' .. op.r .. ':last'
    local prev = redis.call('HGET', lastKey, op.g)
    redis.call('HSET', lastKey, op.g, op.last)
    if (prev and prev ~= op.first) or op.inner then
      local from = op.inner and op.from or prev
      note(fire(op, dedupKey, op.last, op.f .. ' changed from ' .. from .. ' to ' .. op.last, op.ex, true))
    end
  end
end

local nextState = 0
for _, op in ipairs(batch.ops) do
  if isCount[op.t] then nextState = nextState + 1 end
  guarded(op.r, applyOp, op, states[nextState])
end
return { fired, errs }
`;

const SWEEP = `${COMMON}
-- One sweep per interval is enough however many replicas run one: the first to take the lock does it.
if tonumber(ARGV[5]) > 0 and not redis.call('SET', P .. 'sweep:lock', '1', 'PX', ARGV[5], 'NX') then
  return { 0, 0 }
end
local rules = cjson.decode(ARGV[3])
local fired, resolved = 0, 0
local active = redis.call('HGETALL', P .. 'alerts:active')
for i = 1, #active, 2 do
  local dedupKey, id = active[i], active[i + 1]
  local meta = redis.call('HMGET', P .. 'alert:' .. id, 'ruleId', 'groupKey', 'lastSeenAt')
  local ruleId, g = meta[1] or string.match(dedupKey, '^[^|]*'), meta[2] or ''
  local rule = rules[ruleId]
  guarded(ruleId, function()
    if rule and rule.off then
      resolve(id, dedupKey, ruleId, true, 'rule disabled')
      resolved = resolved + 1
    elseif not rule then
      -- A rule this replica does not know yet (its cache lags) is left to a replica that does.
      if redis.call('HEXISTS', P .. 'rules', ruleId) == 0 then
        resolve(id, dedupKey, ruleId, true, 'rule removed')
        resolved = resolved + 1
      end
    else
      local breach, value
      if rule.t == 'any' or rule.t == 'new_value' or rule.t == 'change' then
        breach = now - num(meta[3], 0) < rule.ra
      else
        rule.g = g
        if rule.sw and not redis.call('ZSCORE', groupsKey(rule), g) then
          breach = false
        else
          breach, value = evaluate(rule, now)
        end
      end
      if not breach then
        resolve(id, dedupKey, ruleId, rule.nr ~= false, 'condition cleared')
        resolved = resolved + 1
      elseif value ~= nil then
        fire(rule, dedupKey, value, describe(rule, value), nil, false)
      end
    end
  end)
end

for ruleId, rule in pairs(rules) do
  if rule.sw and not rule.off then guarded(ruleId, function()
    local gk = groupsKey(rule)
    if rule.grouped then
      redis.call('ZREMRANGEBYSCORE', gk, '-inf', '(' .. fmt(now - rule.keep))
    else
      redis.call('ZADD', gk, 'NX', now, '')
      redis.call('PEXPIRE', gk, rule.keep)
    end
    for _, g in ipairs(redis.call('ZRANGE', gk, 0, -1)) do
      local dedupKey = ruleId .. '|' .. g
      if redis.call('HEXISTS', P .. 'alerts:active', dedupKey) == 0 then
        rule.g = g
        local breach, value = evaluate(rule, now)
        if breach and fire(rule, dedupKey, value, describe(rule, value), nil, true) then fired = fired + 1 end
      end
    end
  end) end
end

local total = redis.call('ZCARD', P .. 'alerts')
if total > tonumber(ARGV[4]) then
  for _, id in ipairs(redis.call('ZRANGE', P .. 'alerts', 0, total - tonumber(ARGV[4]) - 1)) do
    if redis.call('HGET', P .. 'alert:' .. id, 'status') ~= 'firing' then
      redis.call('DEL', P .. 'alert:' .. id)
      redis.call('ZREM', P .. 'alerts', id)
    end
  end
end
return { fired, resolved, errs }
`;

export interface RuleStateCommands {
  /** The alerts opened, and the rules that failed as `[rule id, message, …]`. */
  nlRulesApply(anchorKey: string, prefix: string, now: string, ops: string): Promise<[string[], string[]]>;
  nlRulesSweep(
    anchorKey: string,
    prefix: string,
    now: string,
    rules: string,
    maxAlerts: string,
    lockMs: string,
  ): Promise<[number, number, string[]]>;
}

export type RuleRedis = Redis & RuleStateCommands;

/** Registers the scripts on a connection (EVALSHA with a transparent EVAL fallback, courtesy of ioredis). */
export function withRuleScripts(redis: Redis): RuleRedis {
  const r = redis as RuleRedis;
  if (typeof r.nlRulesApply !== "function") {
    redis.defineCommand("nlRulesApply", { numberOfKeys: 1, lua: APPLY });
    redis.defineCommand("nlRulesSweep", { numberOfKeys: 1, lua: SWEEP });
  }
  return r;
}
