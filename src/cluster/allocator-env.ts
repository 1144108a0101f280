/**
 * glibc malloc tuning for the workers. argon2id allocates its 19 MiB block with malloc on a
 * libuv pool thread; after the first such block is freed glibc raises its mmap threshold to
 * the block's size (and its trim threshold to twice that), so later blocks come from the
 * thread's own arena and the freed 19 MiB stays resident there: one per pool thread, measured
 * in the soak (test/load/README.md). Fixing the threshold turns that dynamic adjustment off,
 * so a password hash's block is mapped and unmapped again. glibc reads these variables once,
 * at process start: a process cannot change them for itself, only for the processes it
 * starts, which is why the primary sets them for its workers and single-process deployments
 * set them in their environment (Dockerfile, compose, Kubernetes, RUNBOOK).
 */
export const ALLOCATOR_DEFAULTS: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: '131072',
};

/** The defaults the operator has not set: an operator's own value always wins. */
export function allocatorEnvFor(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  return Object.fromEntries(Object.entries(ALLOCATOR_DEFAULTS).filter(([name]) => env[name] === undefined));
}
