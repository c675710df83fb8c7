/**
 * `read`, called at most once per `ms`: callers in between share its promise. A failed read is
 * not kept, so the next caller tries again.
 */
export function reuseFor<T>(ms: number, now: () => number, read: () => Promise<T>): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    const at = now();
    if (last === undefined || at - last.at >= ms) {
      const entry = { at, value: read() };
      entry.value.catch(() => {
        if (last === entry) last = undefined;
      });
      last = entry;
    }
    return last.value;
  };
}
