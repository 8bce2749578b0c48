/**
 * Re-checks a condition on the database until it holds. The test's own timeout bounds
 * the wait; nothing here asserts how long it took.
 */
export async function eventually<T>(read: () => Promise<T>, holds: (value: T) => boolean, pauseMs = 50): Promise<T> {
  for (;;) {
    const value = await read();
    if (holds(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
}
