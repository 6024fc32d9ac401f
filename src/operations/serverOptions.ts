/** The largest client frame accepted by default: 64 KiB. */
export const DEFAULT_MAX_PAYLOAD = 64 * 1024;

/** WebSocket close code `ws` uses for a frame over `maxPayload`: "Message Too Big". */
export const CLOSE_MESSAGE_TOO_BIG = 1009;

/** The `ws` server options the operations layer relies on. */
export interface RecommendedServerOptions {
  /**
   * Bytes in the largest frame a client may send. `ws` closes the connection with 1009 on a
   * bigger one, before buffering it, which no handler could do.
   */
  maxPayload: number;
}

/**
 * The `WebSocketServer` options recommended with `Operations`: an explicit `maxPayload` (`ws`'s
 * own default is 100 MiB).
 *
 * ## Example
 *
 * ```ts
 * const wss = new WebSocketServer({
 *   ...recommendedServerOptions(),
 *   host: '127.0.0.1',
 *   port: 8080,
 * });
 * ```
 *
 * @param overrides Values to use instead of the recommended ones.
 * @returns Options to spread into `new WebSocketServer({ … })`.
 */
export function recommendedServerOptions(
  overrides: Partial<RecommendedServerOptions> = {},
): RecommendedServerOptions {
  return { maxPayload: DEFAULT_MAX_PAYLOAD, ...overrides };
}
