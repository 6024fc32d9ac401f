import { EventEmitter } from 'node:events';
import type { TopicEvent } from '../../src/topics/store.js';
import { until } from '../helpers/until.js';

/** Records what a watch listener sees, and waits for it. */
export class EventLog extends EventEmitter {
  readonly events: TopicEvent[] = [];
  readonly listener = (event: TopicEvent): void => {
    this.events.push(event);
    this.emit('event');
  };

  /** Every publication seen, in order, as `offset:data`. */
  get publications(): string[] {
    return this.events.flatMap((event) =>
      event.kind === 'publications'
        ? event.publications.map(({ offset, data }) => `${offset}:${data}`)
        : [],
    );
  }

  /** The events other than publications. */
  get others(): TopicEvent[] {
    return this.events.filter((event) => event.kind !== 'publications');
  }

  /** Resolves once `predicate` holds for the log. */
  until(predicate: (log: this) => boolean, description: string): Promise<void> {
    return until(() => predicate(this), this, 'event', { description });
  }
}

/**
 * @param first The first offset.
 * @param data The data, one per offset.
 * @returns `offset:data` for each, from `first`.
 */
export function numbered(first: number, data: readonly string[]): string[] {
  return data.map((item, index) => `${first + index}:${item}`);
}
