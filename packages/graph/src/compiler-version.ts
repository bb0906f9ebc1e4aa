/**
 * Version of what the compiler emits: bump it whenever the same inputs would compile to a different graph (a new
 * or changed gradient rule, op lowering or serialization). Every cache of compiled graphs (the trainer's step
 * artifacts, keyed by their stepGraphHash) includes it, so a bump rebuilds them all instead of running a stale one.
 */
export const COMPILER_VERSION = 3;
