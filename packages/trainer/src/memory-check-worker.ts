import { checkJobMemory, type MemoryCheck, type MemoryCheckOptions } from './memory-check.ts';
import type { ThreadTask } from './thread-task.ts';

/** The memory check as a thread task (memory-check-thread.ts). */
const check: ThreadTask<MemoryCheckOptions, MemoryCheck> = (o) => checkJobMemory(o);
export default check;
