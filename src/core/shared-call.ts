/**
 * One call at a time, shared by everyone who asks for it: a request resolves once a call that
 * began after the request ended, so every request made while a call is under way shares the next
 * one. For a call whose effect covers everything done before it began, such as a durable commit,
 * which flushes every earlier commit to disk: many adds then wait for one flush, not one each.
 */
export class SharedCall {
  private readonly call: () => Promise<unknown>;
  /** The call under way. */
  private current: Promise<void> | null = null;
  /** The one to begin when it ends, shared by the requests made meanwhile. */
  private queued: Promise<void> | null = null;

  constructor(call: () => Promise<unknown>) {
    this.call = call;
  }

  /** Resolves when a call that began after this request has ended; rejects as that call did. */
  request(): Promise<void> {
    if (this.queued) return this.queued;
    const current = this.current;
    if (current === null) return this.begin();
    const queued = current
      .catch(() => {}) // its failure is its own requests' to hear; ours wait for a call of their own
      .then(() => {
        this.queued = null;
        return this.begin();
      });
    this.queued = queued;
    return queued;
  }

  private begin(): Promise<void> {
    const run = (async () => {
      await this.call();
    })();
    this.current = run;
    const ended = () => {
      if (this.current === run) this.current = null;
    };
    run.then(ended, ended);
    return run;
  }
}
