import { once } from 'node:events';
import WebSocket from 'ws';
import type { Reply } from '../operations/support.js';
import { FrameCollector } from './frameCollector.js';

/** A reply of the demo: an operation's (`id`) or a chat's (`message_id`). */
export type DemoReply = Reply & { message_id?: string };

/** One client connection to a demo server, and what it received. */
export class DemoTestClient {
  readonly replies: FrameCollector;

  private constructor(readonly ws: WebSocket) {
    this.replies = new FrameCollector(ws);
  }

  /**
   * Connects to `wsUrl` and waits for the open.
   * @param opened Where the socket is added, for the spec's afterEach to terminate.
   */
  static async open(wsUrl: string, opened: Set<WebSocket>): Promise<DemoTestClient> {
    const ws = new WebSocket(wsUrl);
    opened.add(ws);
    ws.on('error', () => {});
    const client = new DemoTestClient(ws);
    await once(ws, 'open');
    return client;
  }

  send(message: object): void {
    this.ws.send(JSON.stringify(message));
  }

  /** Sends a `chat.message` without waiting. */
  sendChat(id: string, text: string): void {
    this.send({ type: 'chat.message', id, payload: { text, agent_id: 'anima' } });
  }

  /** Replies carrying `id`, as an operation's `id` or a chat's `message_id`, in order. */
  of(id: string): DemoReply[] {
    return (this.replies.values as DemoReply[]).filter(
      (reply) => reply.id === id || reply.message_id === id,
    );
  }

  /** Resolves with the first reply of `id` with one of `types`. */
  async reply(id: string, ...types: string[]): Promise<DemoReply> {
    const find = () => this.of(id).find((reply) => types.includes(reply.type));
    await this.replies.until(() => find() !== undefined, {
      description: `${types.join(' or ')} for ${id}`,
    });
    return find()!;
  }

  /** Sends a chat message and waits for its chat.done: the server has stored it by then. */
  async chat(text: string, id: string): Promise<void> {
    this.sendChat(id, text);
    await this.reply(id, 'chat.done');
  }
}
