/**
 * The time constant of the demand count: a sandbox taken counts 1 at once, 1/e of that 30 s later.
 * Long enough that the pool grown by a burst is still there for the next one; short enough that
 * idle sandboxes beyond the minimum are gone about a minute after demand stops.
 */
export const DEMAND_WINDOW_MS = 30_000;

/**
 * How many warm sandboxes a worker should keep: as many as it handed to containers in about the last
 * `DEMAND_WINDOW_MS` (an exponentially weighted count, so an old take weighs less than a new one),
 * within `[min, max]`.
 */
export class WarmPoolDemand {
  private level = 0;
  private levelAt = 0;

  constructor(
    private readonly min: number,
    private readonly max: number,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** A container took a sandbox (from the pool or not). */
  record(): void {
    this.level = this.current() + 1;
    this.levelAt = this.now();
  }

  target(): number {
    return Math.min(this.max, Math.max(this.min, Math.round(this.current())));
  }

  private current(): number {
    return this.level * Math.exp(-(this.now() - this.levelAt) / DEMAND_WINDOW_MS);
  }
}
