/**
 * Group commit, for DHCPv4 and DHCPv6 alike: lease changes decided in the same turn of the event loop are made
 * durable together (one fsync for a burst, not one a client), and the replies that depend on them are released only
 * once they are. A failed commit releases none of them: not durable, so not acknowledged; the clients retransmit.
 */
export interface GroupCommitOptions<C, S, R> {
  /** Makes `changes` durable; resolves only when they are (with whatever the caller's store says back). */
  commit(changes: C[]): Promise<R>;
  /** The commit is durable: let the replies go. */
  release(sends: S[], result: R): void;
  /** The commit failed: settle every reply that waited for it. */
  fail(sends: S[], err: Error): void;
}

export class GroupCommit<C, S, R> {
  private pendingChanges: C[] = [];
  private pendingSends: S[] = [];
  private flushing: Promise<void> | undefined;
  private flushQueued = false;

  constructor(private readonly o: GroupCommitOptions<C, S, R>) {}

  /** Queues `changes` for the commit at the end of this turn, and `send` (if any) to be released once it is done. */
  add(changes: readonly C[], send?: S): void {
    this.pendingChanges.push(...changes);
    if (send !== undefined) this.pendingSends.push(send);
    if (!this.flushQueued) {
      this.flushQueued = true;
      setImmediate(() => void this.flush());
    }
  }

  /** Commits and releases whatever is pending, and waits for a commit under way. */
  async close(): Promise<void> {
    await this.flush();
    await this.flushing;
  }

  private async flush(): Promise<void> {
    this.flushQueued = false;
    // One commit at a time: what arrives while one is under way waits for the next, together.
    await this.flushing;
    const changes = this.pendingChanges;
    const sends = this.pendingSends;
    this.pendingChanges = [];
    this.pendingSends = [];
    if (!changes.length && !sends.length) return;
    this.flushing = (async () => {
      let result: R;
      try {
        result = await this.o.commit(changes);
      } catch (err) {
        this.o.fail(sends, err as Error);
        return;
      }
      this.o.release(sends, result);
    })();
    await this.flushing;
  }
}
