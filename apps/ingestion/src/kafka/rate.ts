/** Events per second over the last minute, in one-second buckets (fixed memory). */
export class RateWindow {
  private readonly buckets = new Float64Array(60);
  private readonly seconds = new Float64Array(60);
  private readonly started = Date.now();

  add(count: number, now = Date.now()): void {
    const second = Math.floor(now / 1000);
    const i = second % 60;
    if (this.seconds[i] !== second) {
      this.seconds[i] = second;
      this.buckets[i] = 0;
    }
    this.buckets[i] = (this.buckets[i] as number) + count;
  }

  perSecond(now = Date.now()): number {
    const second = Math.floor(now / 1000);
    let total = 0;
    for (let i = 0; i < 60; i++) {
      const s = this.seconds[i] as number;
      if (s > second - 60 && s <= second) total += this.buckets[i] as number;
    }
    // A consumer younger than a minute is averaged over its own age.
    const span = Math.min(60, Math.max(1, (now - this.started) / 1000));
    return total / span;
  }
}
