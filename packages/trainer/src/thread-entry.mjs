// Worker threads do not inherit the main thread's TypeScript loader: register tsx here, then load the host, which runs
// the task module named in workerData (thread-task.ts).
import { register } from 'tsx/esm/api';

register();
await import('./thread-host.ts');
