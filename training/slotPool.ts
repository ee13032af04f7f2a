// A training worker's slots, one per GPU, and which of them are busy in this process.

/** One place a training runs on this worker: a name, and the GPUs it is pinned to (if any). */
export interface SlotSpec {
  name: string;
  /** CUDA_VISIBLE_DEVICES for this slot's trainings. */
  gpus?: string;
}

/**
 * The worker's slots: a training takes a free one (the worker runs at most as many at once as it has
 * slots, so one is always free), preferring the slot a retry trained in before.
 */
export class SlotPool {
  private busy = new Set<string>();
  constructor(private readonly slots: SlotSpec[]) {}

  take(preferred?: string): SlotSpec {
    const free = this.slots.filter((s) => !this.busy.has(s.name));
    const slot = free.find((s) => s.name === preferred) ?? free[0];
    if (!slot) throw new Error(`all ${this.slots.length} training slots of this worker are busy`);
    this.busy.add(slot.name);
    return slot;
  }

  release(slot: SlotSpec): void {
    this.busy.delete(slot.name);
  }
}
