/**
 * `work`, or `error()` once `ms` have passed without an answer. The timer never keeps the process
 * alive and is cleared as soon as either side settles. (The work itself goes on: the caller closes
 * what it opened.)
 */
export function rejectAfter<T>(work: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error()), ms);
    timer.unref();
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
