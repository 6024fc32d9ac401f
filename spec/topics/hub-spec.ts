import { VirtualTimeScheduler } from 'rxjs';
import { Registry } from 'prom-client';
import { ConnectionManager, gzipSyncCompressor, MemoryTopicStore } from '../../src/index.js';
import type {
  GzipCompressor,
  ManagedSocket,
  TopicEvent,
  TopicsOptions,
  WsOutboxOptions,
} from '../../src/index.js';
import { SocketDouble } from '../helpers/socketDouble.js';

type Line = Record<string, unknown>;

const stores: MemoryTopicStore[] = [];

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

/**
 * A manager whose outboxes and topic windows run on a virtual scheduler, on socket doubles. The
 * store keeps real time: flushing the virtual scheduler would otherwise age its history away.
 */
function setup(outbox: WsOutboxOptions<unknown> = {}, topics: Omit<TopicsOptions, 'store'> = {}) {
  const scheduler = new VirtualTimeScheduler();
  const registry = new Registry();
  const store = new MemoryTopicStore();
  stores.push(store);
  const manager = new ConnectionManager({
    outbox: { scheduler, compressor: gzipSyncCompressor, metrics: registry, ...outbox },
    heartbeat: false,
    topics: { ...topics, store },
  });
  const connect = () => {
    const socket = new SocketDouble(scheduler, 1);
    manager.connect(socket as unknown as ManagedSocket);
    return socket;
  };
  const metric = async (name: string) =>
    (await registry.getSingleMetric(name)!.get()).values.reduce((sum, v) => sum + v.value, 0);
  return { scheduler, manager, connect, metric, store };
}

/** Every line a socket was sent, in order. */
function lines(socket: SocketDouble): Line[] {
  return socket.sent as Line[];
}

function pubs(socket: SocketDouble): number[] {
  return lines(socket)
    .filter((line) => line.type === 'pub')
    .map((line) => line.offset as number);
}

/** Lets the store's promises settle, then runs what is due on the virtual scheduler. */
async function settle(scheduler: VirtualTimeScheduler): Promise<void> {
  // A turn lets every pending promise settle (the store's answers, the connection's queue).
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    scheduler.flush();
  }
}

/** A socket joined to `room:a` after `count` publications, with the topic's epoch. */
async function joinedAfter(
  { scheduler, manager, connect }: ReturnType<typeof setup>,
  count: number,
): Promise<{ socket: SocketDouble; epoch: string }> {
  const socket = connect();
  for (let n = 1; n <= count; n++) await manager.publish('room:a', { n });
  await manager.join(socket, 'room:a');
  await settle(scheduler);
  return { socket, epoch: lines(socket)[0].epoch as string };
}

/** The socket's client asks to resume `room:a` from `since`. */
function resume(
  manager: ReturnType<typeof setup>['manager'],
  socket: SocketDouble,
  since: { epoch: string; offset: number },
): void {
  manager.handleTopicRequest(manager.outbox(socket)!, {
    type: 'subscribe',
    topic: 'room:a',
    since,
  });
}

describe('TopicHub', () => {
  it('should build one frame per window, shared by every local subscriber', async () => {
    const { scheduler, manager, connect, metric } = setup();
    const sockets = [connect(), connect(), connect()];
    for (const socket of sockets) await manager.join(socket, 'room:a');
    await settle(scheduler);

    for (let n = 1; n <= 5; n++) await manager.publish('room:a', { n });
    await settle(scheduler);

    const frames = sockets.map((socket) =>
      socket.frames.filter((f) => f.values[0] && (f.values[0] as Line).type === 'pub'),
    );
    expect(frames.map((f) => f.length)).toEqual([1, 1, 1]);
    // The very same frame, not three equal copies.
    expect(frames[1][0].data).toBe(frames[0][0].data);
    expect(frames[2][0].data).toBe(frames[0][0].data);
    expect(sockets.map(pubs)).toEqual([
      [1, 2, 3, 4, 5],
      [1, 2, 3, 4, 5],
      [1, 2, 3, 4, 5],
    ]);
    expect(await metric('ws_outbox_topic_frames_total')).toBe(1);
    expect(await metric('ws_outbox_topic_publications_total')).toBe(5);
  });

  it('should cut a window of large publications into frames of at most 256 KiB of text', async () => {
    const { scheduler, manager, connect } = setup({ compressAbove: false });
    const socket = connect();
    await manager.join(socket, 'room:a');
    await settle(scheduler);

    const text = 'x'.repeat(60_000);
    for (let n = 1; n <= 10; n++) await manager.publish('room:a', { n, text });
    await settle(scheduler);

    const frames = socket.frames.slice(1).map((frame) => frame.data as string);
    expect(frames.length).toBe(3);
    expect(frames.every((frame) => frame.length <= 256 * 1024)).toBe(true);
    expect(pubs(socket)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('should serialize a publication once and gzip a window once, whatever the subscribers', async () => {
    let compressions = 0;
    const counting: GzipCompressor = (input, level) => {
      compressions++;
      return gzipSyncCompressor(input, level);
    };
    const { scheduler, manager, connect } = setup({ compressAbove: 100, compressor: counting });
    const sockets = [connect(), connect(), connect(), connect()];
    for (const socket of sockets) await manager.join(socket, 'room:a');
    await settle(scheduler);
    let serializations = 0;
    const data = {
      toJSON() {
        serializations++;
        return { text: 'x'.repeat(200) };
      },
    };

    await manager.publish('room:a', data);
    await settle(scheduler);

    expect(serializations).toBe(1);
    expect(compressions).toBe(1);
    for (const socket of sockets) {
      expect(socket.frames.at(-1)!.data).toBeInstanceOf(Uint8Array);
      expect(pubs(socket)).toEqual([1]);
    }
  });

  it('should send one gap to a subscriber whose outbox drops a frame, and no live frame after it', async () => {
    // One entry held at most, and the first frame in the socket stops the buffer.
    const { scheduler, manager, connect, metric } = setup({
      capacity: 1,
      highWaterMark: 1,
      maxBatch: 1,
    });
    const slow = connect();
    const fast = connect();
    await manager.join(slow, 'room:a');
    await manager.join(fast, 'room:a');
    await settle(scheduler);
    slow.stall();

    // The fast socket takes each frame before the next; the stalled one takes none.
    for (let n = 1; n <= 6; n++) {
      await manager.publish('room:a', { n });
      await settle(scheduler);
    }
    slow.flow();
    await settle(scheduler);

    expect(pubs(fast)).toEqual([1, 2, 3, 4, 5, 6]);
    const gaps = lines(slow).filter((line) => line.type === 'gap');
    expect(gaps).toHaveLength(1);
    // What reached the slow socket is a prefix, then the gap says where it stands.
    const got = pubs(slow);
    expect(got).toEqual(got.map((_, i) => i + 1));
    expect(gaps[0].after).toBe(got.length);
    expect(await metric('ws_outbox_topic_gaps_total')).toBe(1);
    // Live frames stop for it until it resubscribes.
    await manager.publish('room:a', { n: 7 });
    await settle(scheduler);
    expect(pubs(slow)).toEqual(got);
    expect(pubs(fast)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('should answer subscribed before any publication, and nothing after leave but unsubscribed', async () => {
    const { scheduler, manager, connect } = setup();
    const socket = connect();
    await manager.publish('room:a', { n: 1 });
    await manager.join(socket, 'room:a');
    await manager.publish('room:a', { n: 2 });
    await settle(scheduler);
    expect(await manager.leave(socket, 'room:a')).toBe(true);
    await manager.publish('room:a', { n: 3 });
    await settle(scheduler);

    expect(lines(socket).map((line) => [line.type, line.offset])).toEqual([
      ['subscribed', 1],
      ['pub', 2],
      ['unsubscribed', undefined],
    ]);
    expect(await manager.leave(socket, 'room:a')).toBe(false);
  });

  it('should stop following a topic on this node once its last subscriber is gone', async () => {
    const { scheduler, manager, connect, metric, store } = setup();
    const watch = jest.spyOn(store, 'watch');
    const a = connect();
    const b = connect();
    await manager.join(a, 'room:a');
    await manager.join(b, 'room:a');
    expect(watch).toHaveBeenCalledTimes(1);
    expect(await metric('ws_outbox_topic_subscriptions')).toBe(2);

    a.close();
    b.close();
    await settle(scheduler);

    expect(await metric('ws_outbox_topic_subscriptions')).toBe(0);
    await manager.join(connect(), 'room:a');
    expect(watch).toHaveBeenCalledTimes(2);
  });

  it('should splice publications that arrive during the history read: none twice, none missed', async () => {
    const topics = setup();
    const { scheduler, manager, store } = topics;
    // History reads (not position reads) wait until the test opens the gate.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const read = store.read.bind(store);
    jest
      .spyOn(store, 'read')
      .mockImplementation((topic, after, limit) =>
        limit === 0 ? read(topic, after, limit) : gate.then(() => read(topic, after, limit)),
      );
    const { socket, epoch } = await joinedAfter(topics, 5);

    resume(manager, socket, { epoch, offset: 2 });
    await settle(scheduler);
    for (let n = 6; n <= 8; n++) await manager.publish('room:a', { n });
    await settle(scheduler);
    open();
    await settle(scheduler);

    const answers = lines(socket).filter((line) => line.type === 'subscribed');
    expect(answers[1]).toEqual({
      type: 'subscribed',
      topic: 'room:a',
      epoch,
      offset: 2,
      recovered: true,
      replayed: 6,
    });
    // 6 to 8 came live during the read, which already held them too: each once.
    expect(pubs(socket)).toEqual([3, 4, 5, 6, 7, 8]);
  });

  it("should send the tail of a replay once it is caught up, not at the window's deadline", async () => {
    const topics = setup();
    const { scheduler, manager } = topics;
    const { socket, epoch } = await joinedAfter(topics, 5);
    const resumedAt = scheduler.now();

    resume(manager, socket, { epoch, offset: 2 });
    await settle(scheduler);

    expect(pubs(socket)).toEqual([3, 4, 5]);
    const replayFrame = socket.frames.find((frame) =>
      (frame.values as Line[]).some((line) => line.type === 'pub'),
    )!;
    // The coalescing window is 25 ms: without the flush the frame would go at its deadline.
    expect(replayFrame.time).toBe(resumedAt);
  });

  it("should answer epoch to a position past the topic's top, and follow from the top", async () => {
    const topics = setup();
    const { scheduler, manager } = topics;
    const { socket, epoch } = await joinedAfter(topics, 5);

    resume(manager, socket, { epoch, offset: 9 });
    await settle(scheduler);
    await manager.publish('room:a', { n: 6 });
    await settle(scheduler);

    expect(lines(socket).filter((line) => line.type === 'subscribed')[1]).toEqual({
      type: 'subscribed',
      topic: 'room:a',
      epoch,
      offset: 5,
      recovered: false,
      reason: 'epoch',
    });
    expect(pubs(socket)).toEqual([6]);
  });

  it('should answer the next request when a new epoch stops a resume waiting for its history', async () => {
    const topics = setup();
    const { scheduler, manager, store } = topics;
    const read = store.read.bind(store);
    jest
      .spyOn(store, 'read')
      .mockImplementation((topic, after, limit) =>
        limit === 0 ? read(topic, after, limit) : new Promise(() => undefined),
      );
    let announce!: (event: TopicEvent) => void;
    const watch = store.watch.bind(store);
    jest.spyOn(store, 'watch').mockImplementation((topic, listener) => {
      announce = listener;
      return watch(topic, listener);
    });
    const { socket, epoch } = await joinedAfter(topics, 3);
    const outbox = manager.outbox(socket)!;

    // This resume's history read never comes back.
    resume(manager, socket, { epoch, offset: 1 });
    await settle(scheduler);
    announce({ kind: 'reset', epoch: 'next', top: 0 });
    manager.handleTopicRequest(outbox, { type: 'unsubscribe', topic: 'room:a' });
    await settle(scheduler);

    expect(lines(socket).map((line) => [line.type, line.epoch, line.reason])).toEqual([
      ['subscribed', epoch, undefined],
      ['subscribed', 'next', 'epoch'],
      ['unsubscribed', undefined, undefined],
    ]);
  });

  it('should send a gap when more live publications come than it may hold while catching up', async () => {
    // Every line leaves at once, and one frame in the socket stops the next page.
    const { scheduler, manager, connect } = setup(
      { highWaterMark: 1, maxBatch: 1 },
      { maxReplayBuffer: 5, replayPageSize: 2 },
    );
    const socket = connect();
    for (let n = 1; n <= 10; n++) await manager.publish('room:a', { n });
    await manager.join(socket, 'room:a');
    await settle(scheduler);
    const epoch = lines(socket)[0].epoch as string;
    // The socket stops reading: the replay stops after its first page.
    socket.stall();

    resume(manager, socket, { epoch, offset: 0 });
    await settle(scheduler);
    for (let n = 11; n <= 16; n++) await manager.publish('room:a', { n });
    await settle(scheduler);
    socket.flow();
    await settle(scheduler);

    // What it replayed before the socket stopped, then the gap, then nothing.
    const after = lines(socket).slice(1);
    const replayed = after.filter((line) => line.type === 'pub').map((line) => line.offset);
    expect(replayed.length).toBeLessThan(10);
    expect(after.map((line) => [line.type, line.offset ?? line.after])).toEqual([
      ['subscribed', 0],
      ...replayed.map((_offset, index) => ['pub', index + 1]),
      ['gap', replayed.length],
    ]);
  });

  it('should refuse a subscription past maxSubscriptions, and requests past maxPendingRequests', async () => {
    const { scheduler, manager, connect } = setup(
      {},
      { authorize: () => true, maxSubscriptions: 2, maxPendingRequests: 3 },
    );
    const socket = connect();
    const outbox = manager.outbox(socket)!;

    for (const topic of ['a', 'b', 'c', 'd', 'e']) {
      manager.handleTopicRequest(outbox, { type: 'subscribe', topic });
    }
    await settle(scheduler);

    // d and e found three requests waiting; c found two subscriptions already.
    expect(lines(socket).map((line) => [line.type, line.topic, line.code])).toEqual([
      ['error', 'd', 'rate_limited'],
      ['error', 'e', 'rate_limited'],
      ['subscribed', 'a', undefined],
      ['subscribed', 'b', undefined],
      ['error', 'c', 'rate_limited'],
    ]);
  });

  it('should take the socket out of a topic when it refuses a request about it', async () => {
    const { scheduler, manager, connect } = setup({}, { authorize: () => true });
    const socket = connect();
    const outbox = manager.outbox(socket)!;
    manager.handleTopicRequest(outbox, { type: 'subscribe', topic: 'a' });
    await settle(scheduler);

    // Over the connection's rate: refused, naming the topic, and no longer followed.
    manager.handleTopicRequest(outbox, { type: 'subscribe', topic: 'a' }, 'rate_limited');
    await manager.publish('a', { n: 1 });
    await settle(scheduler);

    expect(lines(socket).map((line) => [line.type, line.topic, line.code])).toEqual([
      ['subscribed', 'a', undefined],
      ['error', 'a', 'rate_limited'],
    ]);
  });

  it('should be validated at construction, and refuse to publish once closed', async () => {
    expect(
      () => new ConnectionManager({ heartbeat: false, topics: { maxSubscriptions: 0 } }),
    ).toThrow(RangeError);
    const { manager, connect } = setup();
    const socket = connect();
    await manager.closeAll();

    await expect(manager.publish('room:a', 1)).rejects.toThrow('closed');
    expect(await manager.join(socket, 'room:a')).toBe(false);
  });

  it('should refuse a publication that is not JSON or is too large', async () => {
    const { manager } = setup();
    await expect(manager.publish('room:a', undefined)).rejects.toThrow(TypeError);
    await expect(manager.publish('room:a', 'x'.repeat(70_000))).rejects.toThrow(RangeError);
    await expect(manager.publish('', 1)).rejects.toThrow(TypeError);
  });
});
