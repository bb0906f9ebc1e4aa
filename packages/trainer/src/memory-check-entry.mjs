// Worker threads do not inherit the main thread's TypeScript loader: register tsx here, then load the memory check.
import { register } from 'tsx/esm/api';

register();
await import('./memory-check-worker.ts');
