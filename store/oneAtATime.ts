// Work on one repository that must not overlap within this process (fetches into one clone, worktree
// administration): each call waits for the one before it on the same key, whether that one failed or not.
const inFlight = new Map<string, Promise<unknown>>();

/** Runs `work` once every earlier call for `key` (in this process) has settled; its result or error. */
export async function oneAtATime<T>(key: string, work: () => Promise<T>): Promise<T> {
  const previous = inFlight.get(key) ?? Promise.resolve();
  const mine = previous.catch(() => {}).then(work);
  inFlight.set(key, mine);
  try {
    return await mine;
  } finally {
    if (inFlight.get(key) === mine) inFlight.delete(key);
  }
}
