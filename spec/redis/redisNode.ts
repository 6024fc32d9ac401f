import { createClient } from 'redis';
import { RedisTopicStore } from '../../src/redis/index.js';
import type { RedisTopicStoreOptions } from '../../src/redis/index.js';
import { TopicServer } from '../topics/topicServer.js';
import type { TopicServerOptions } from '../topics/topicServer.js';

/**
 * One node of a cluster as an application runs it: its own node-redis client, a
 * `RedisTopicStore` on it, and a real ws server whose `ConnectionManager` keeps topics there.
 */
export class RedisNode {
  private constructor(
    readonly server: TopicServer,
    readonly store: RedisTopicStore,
    private readonly client: { destroy(): void },
  ) {}

  /**
   * Starts a node on 127.0.0.1 and a free port.
   * @param redisUrl The Redis every node shares.
   * @param store The store's options besides its client.
   * @param server The test server's options besides its store.
   */
  static async start(
    redisUrl: string,
    store: Omit<RedisTopicStoreOptions, 'client'> = {},
    server: Omit<TopicServerOptions, 'store'> = {},
  ): Promise<RedisNode> {
    // Reconnects within 200 ms, so a Redis that comes back is found again soon; connection
    // errors, expected while it is down, are the store's to handle.
    const client = createClient({
      url: redisUrl,
      socket: { reconnectStrategy: (retries: number) => Math.min(20 * 2 ** retries, 200) },
    });
    client.on('error', () => {});
    await client.connect();
    const topicStore = new RedisTopicStore({ client, ...store });
    const topicServer = await new TopicServer({ ...server, store: topicStore }).start();
    return new RedisNode(topicServer, topicStore, client);
  }

  get url(): string {
    return this.server.url;
  }

  get manager(): TopicServer['manager'] {
    return this.server.manager;
  }

  /** Closes the server (and with it the store), then the node's Redis client. */
  async close(): Promise<void> {
    await this.server.close();
    this.client.destroy();
  }
}
