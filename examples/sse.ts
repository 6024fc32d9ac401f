import { createServer } from 'node:http';
import type { Server, ServerResponse } from 'node:http';
import { BehaviorSubject, interval, map } from 'rxjs';
import type { Observable, SchedulerLike } from 'rxjs';
import { boundedBuffer, coalesce, ndjson } from '../operators/index.js';
import type { NdjsonConfig, OverflowStrategy } from '../operators/index.js';

// Server-Sent Events over `node:http` with the transport-free operators: the same
// boundedBuffer → coalesce → ndjson pipe as the WebSocket outbox, with the HTTP response's own
// backpressure (`write()` returning false, then 'drain') as the buffer's readiness.

/** Options of {@link sseOutbox}. */
export interface SseOutboxOptions<T> {
  /** Messages held while the response cannot take more. Default 512. */
  capacity?: number;
  /** What to do with a message that finds the buffer full. Default `'drop-newest'`. */
  overflow?: OverflowStrategy;
  /** Sees every message that will never be written (overflow, or still held at the end). */
  onDrop?: (message: T) => void;
  /** Sees the number of held messages every time it changes. */
  onSize?: (size: number) => void;
  /** The coalescing window: one SSE event per window. Default 25 ms. */
  windowMs?: number;
  /** The most messages in one event. Default 512. */
  maxBatch?: number;
  /** How messages are serialized (`schema`, `stringify`, `onError`). */
  ndjson?: NdjsonConfig<T>;
  /** Times the coalescing windows. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

/** What {@link sseOutbox} returns: the state of one event stream. */
export interface SseOutbox {
  /** The response's demand: false from a `write()` that returned false until its 'drain'. */
  readonly ready: Observable<boolean>;
  /**
   * Resolves once the stream has ended, whatever ended it: the messages completed (the response
   * was ended), failed (the response was destroyed), or the client went away.
   */
  readonly closed: Promise<void>;
  /** Stops the stream and ends the response. */
  close(): void;
}

/**
 * Streams `messages` to one SSE client: each coalesced batch is ONE event whose NDJSON lines
 * are its `data:` lines. SSE forbids a raw newline inside a field, and a client joins the
 * `data:` lines of one event with `"\n"`, so `event.data` is the batch's NDJSON text again
 * (`parseNdjson(event.data)` gives the messages back).
 *
 * Writes the `text/event-stream` headers if none were sent yet. The subscription ends when the
 * request or response closes (the client went away), so a dead client leaves no observer on
 * `messages`. Completing `messages` ends the response; an error destroys it.
 */
export function sseOutbox<T>(
  res: ServerResponse,
  messages: Observable<T>,
  options: SseOutboxOptions<T> = {},
): SseOutbox {
  const {
    capacity = 512,
    overflow,
    onDrop,
    onSize,
    windowMs = 25,
    maxBatch = 512,
    scheduler,
  } = options;

  if (!res.headersSent) {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      // Reverse proxies (nginx) would otherwise hold the events back to fill their buffers.
      'X-Accel-Buffering': 'no',
    });
    // The client sees the stream open at once, not with the first batch.
    res.flushHeaders();
  }

  // A response whose first writes are already queued starts not ready; 'drain' says otherwise.
  const ready = new BehaviorSubject<boolean>(!res.writableNeedDrain);
  const onDrain = () => ready.next(true);
  res.on('drain', onDrain);

  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));

  const subscription = messages
    .pipe(
      boundedBuffer<T>(capacity, { ready, overflow, onDrop, onSize }),
      coalesce<T>(windowMs, { maxBatch, scheduler }),
      ndjson<T>(options.ndjson),
    )
    .subscribe({
      next: (text) => {
        if (res.writableEnded || res.destroyed) return;
        // JSON escapes every newline, so the only "\n" in the text are the NDJSON separators.
        const event = 'data: ' + text.replaceAll('\n', '\ndata: ') + '\n\n';
        if (!res.write(event)) ready.next(false);
      },
      error: (err: unknown) => {
        res.destroy(err instanceof Error ? err : new Error(String(err)));
      },
      complete: () => res.end(),
    });
  // Teardown also runs when the client goes away first: nothing is left observing `messages`.
  subscription.add(() => {
    res.off('drain', onDrain);
    res.off('close', onClose);
    ready.complete();
    resolveClosed();
  });

  function onClose(): void {
    ready.next(false);
    subscription.unsubscribe();
  }
  // The response closes when it is ended, destroyed, or its connection drops.
  res.on('close', onClose);
  if (res.destroyed) onClose();

  return {
    ready: ready.asObservable(),
    closed,
    close: () => {
      subscription.unsubscribe();
      if (!res.writableEnded) res.end();
    },
  };
}

/** Options of {@link createSseServer}. */
export interface SseServerOptions<T> extends SseOutboxOptions<T> {
  /** Default 0: an ephemeral port. */
  port?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  /** The messages of one request; subscribed once per client, unsubscribed when it leaves. */
  messagesFor: (url: URL) => Observable<T>;
}

/** An HTTP server answering every GET with an SSE stream of `messagesFor(url)`. */
export async function createSseServer<T>(
  options: SseServerOptions<T>,
): Promise<{ server: Server; url: string }> {
  const { port = 0, host = '127.0.0.1', messagesFor, ...outboxOptions } = options;
  const server = createServer((req, res) => {
    if (req.method !== 'GET') {
      res.writeHead(405, { Allow: 'GET' }).end();
      return;
    }
    sseOutbox(res, messagesFor(new URL(req.url ?? '/', 'http://localhost')), outboxOptions);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  return { server, url: `http://${host}:${boundPort}/` };
}

// `tsx examples/sse.ts`: ten ticks a second to every client; `curl -N http://127.0.0.1:8081/`.
// Guarded so that importing this module (the tests do) starts nothing.
if (require.main === module) {
  const port = Number(process.env.PORT ?? 8081);
  createSseServer({
    port,
    messagesFor: () => interval(100).pipe(map((i) => ({ type: 'tick', i, at: Date.now() }))),
  }).then(
    ({ url }) => console.log(`SSE demo on ${url}  (try: curl -N ${url})`),
    (error: unknown) => {
      console.error('SSE demo failed to start:', error);
      process.exit(1);
    },
  );
}
