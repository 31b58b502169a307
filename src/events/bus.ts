/**
 * Boot events: every decision is written to the store (the machine's timeline) and published to live listeners
 * (the UI's event stream). A failing store write is logged, never allowed to fail the boot it describes.
 */
import { EventEmitter } from 'node:events';
import type { BootEvent, Store } from '../store/types.ts';

export class EventBus {
  private readonly emitter = new EventEmitter();

  constructor(
    private readonly store: Store,
    private readonly onError: (err: unknown) => void,
  ) {
    this.emitter.setMaxListeners(1000);
  }

  async record(event: BootEvent): Promise<void> {
    try {
      event.id = await this.store.addEvent(event);
    } catch (err) {
      this.onError(err);
    }
    this.emitter.emit('event', event);
  }

  /** Report a failed bookkeeping write the way a failed event write is reported. */
  fail(err: unknown): void {
    this.onError(err);
  }

  subscribe(listener: (event: BootEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }
}
