/** Polls `fn` until it returns without throwing (and, if a value, a truthy one) or the deadline passes. */
export async function eventually<T>(fn: () => Promise<T> | T, opts: { timeoutMs?: number; intervalMs?: number } = {}): Promise<Exclude<T, false | null | undefined>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let lastError: unknown = new Error('condition never held');
  for (;;) {
    try {
      const value = await fn();
      if (value !== false && value !== null && value !== undefined) return value as Exclude<T, false | null | undefined>;
      lastError = new Error(`condition returned ${String(value)}`);
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw lastError;
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
}
