import { createHash } from 'node:crypto';
import type { RedisCommandClient } from './client.js';

/** A Lua script, sent by its SHA1 (`EVALSHA`) and by its text only when Redis lacks it. */
export interface LuaScript {
  readonly source: string;
  readonly sha1: string;
}

function luaScript(source: string): LuaScript {
  return { source, sha1: createHash('sha1').update(source).digest('hex') };
}

// Both scripts treat a topic whose meta hash is gone (never created, expired, deleted, or a Redis
// restarted empty) as a new epoch: the candidate epoch the caller sends becomes the topic's, and
// whatever stream was left from the lost epoch is dropped, so offsets restart at 1.

/**
 * Appends a batch and announces it, atomically: offsets follow the topic's top with no hole, and
 * the announcement goes out in the same order as the stream's entries.
 *
 * KEYS: meta, log, producer. ARGV: candidate epoch, MAXLEN, idle expiry (ms), channel, batch id,
 * producer key expiry (ms), then each publication's data.
 * Reply: { epoch, first offset, last offset }.
 *
 * The producer key holds this producer's last batch and its result: a retry of a batch that
 * already ran (its reply was lost) returns that result instead of appending it again.
 * The announcement is `<epoch>\n<first offset>\n<data>\n<data>…` (data holds no raw newline).
 */
export const APPEND_SCRIPT = luaScript(`
local done = redis.call('GET', KEYS[3])
if done then
  local batch, epoch, first, last = string.match(done, '^(.-)\\n(.-)\\n(%d+)\\n(%d+)$')
  if batch == ARGV[5] then return { epoch, first, last } end
end
local state = redis.call('HMGET', KEYS[1], 'epoch', 'top')
local epoch, top = state[1], tonumber(state[2]) or 0
if not epoch then
  epoch, top = ARGV[1], 0
  redis.call('DEL', KEYS[2])
end
local first = top + 1
for i = 7, #ARGV do
  top = top + 1
  redis.call('XADD', KEYS[2], string.format('%d-0', top), 'd', ARGV[i])
end
redis.call('XTRIM', KEYS[2], 'MAXLEN', ARGV[2])
redis.call('HSET', KEYS[1], 'epoch', epoch, 'top', string.format('%d', top))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
local firstText, lastText = string.format('%d', first), string.format('%d', top)
redis.call('SET', KEYS[3], ARGV[5] .. '\\n' .. epoch .. '\\n' .. firstText .. '\\n' .. lastText,
  'PX', ARGV[6])
redis.call('PUBLISH', ARGV[4], epoch .. '\\n' .. firstText .. '\\n' .. table.concat(ARGV, '\\n', 7))
return { epoch, firstText, lastText }
`);

/**
 * Reads a topic's position and the publications after an offset, in one consistent view.
 *
 * KEYS: meta, log. ARGV: candidate epoch, idle expiry (ms), after, limit.
 * Reply: { epoch, top, oldest, offset, data, offset, data, … }.
 *
 * A topic with no epoch gets one here (with the idle expiry), so that a reader of an empty topic
 * holds the position (epoch, 0) that the topic's first publication continues.
 */
export const READ_SCRIPT = luaScript(`
local state = redis.call('HMGET', KEYS[1], 'epoch', 'top')
local epoch, top = state[1], tonumber(state[2]) or 0
if not epoch then
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'top', '0')
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return { ARGV[1], '0', '1' }
end
local reply = { epoch, string.format('%d', top), string.format('%d', top + 1) }
local head = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
if #head > 0 then reply[3] = string.match(head[1][1], '^%d+') end
local after, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
if limit > 0 and after < top then
  local entries = redis.call('XRANGE', KEYS[2], string.format('%d-0', after + 1), '+', 'COUNT', limit)
  for _, entry in ipairs(entries) do
    reply[#reply + 1] = string.match(entry[1], '^%d+')
    reply[#reply + 1] = entry[2][2]
  end
end
return reply
`);

/**
 * Runs a script: `EVALSHA`, then `EVAL` with its text if Redis answers `NOSCRIPT` (a fresh or
 * restarted server), which also loads it for the next calls.
 *
 * Scripts are sent as raw commands rather than `defineScript`: node-redis attaches defined
 * scripts when a client is created, and the store works with a client created by its user.
 * @param client The client to send through.
 * @param script The script.
 * @param keys Its keys.
 * @param args Its arguments.
 * @param signal Aborts the command while it is still queued in the client.
 * @returns The script's reply.
 */
export async function runScript<T>(
  client: RedisCommandClient,
  script: LuaScript,
  keys: readonly string[],
  args: readonly string[],
  signal: AbortSignal,
): Promise<T> {
  const tail = [String(keys.length), ...keys, ...args];
  try {
    return await client.sendCommand<T>(['EVALSHA', script.sha1, ...tail], { abortSignal: signal });
  } catch (error) {
    if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw error;
    return client.sendCommand<T>(['EVAL', script.source, ...tail], { abortSignal: signal });
  }
}
