// Signals an actor sends to other actors, from one coroutine. Handlers and the main loop
// only enqueue (they must not block on another workflow); the outbox delivers: everything
// queued at once, in parallel across targets and in order for each target. A target that
// does not exist (never started, or finished) is reported to `onMissing` and the message
// dropped: actors that need it eventually (a subscription) re-send on their own schedule.
import { condition, getExternalWorkflowHandle, patched, type SignalDefinition } from '@temporalio/workflow';

interface Message {
  readonly target: string;
  readonly send: (target: string) => Promise<void>;
}

export class Outbox {
  private readonly queue: Message[] = [];
  private sending = false;

  constructor(private readonly onMissing: (target: string) => void = () => undefined) {}

  signal<Args extends unknown[]>(target: string, def: SignalDefinition<Args>, ...args: Args): void {
    this.queue.push({ target, send: (t) => getExternalWorkflowHandle(t).signal(def, ...args) });
  }

  /** Runs for the life of the workflow; start it once with `void outbox.run()`. */
  async run(): Promise<never> {
    for (;;) {
      await condition(() => this.queue.length > 0);
      this.sending = true;
      // Histories recorded before batching sent one signal per workflow task.
      const batch = patched('outbox-batches') ? this.queue.splice(0) : this.queue.splice(0, 1);
      const byTarget = new Map<string, Message[]>();
      for (const m of batch) byTarget.set(m.target, [...(byTarget.get(m.target) ?? []), m]);
      await Promise.all([...byTarget.entries()].map(async ([target, messages]) => {
        for (const m of messages) {
          try {
            await m.send(target);
          } catch {
            this.onMissing(target);
          }
        }
      }));
      this.sending = this.queue.length > 0;
    }
  }

  /** True when everything enqueued has been sent (wait for it before continue-as-new). */
  idle(): boolean {
    return this.queue.length === 0 && !this.sending;
  }
}
