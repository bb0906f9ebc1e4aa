// Worker threads do not inherit the main thread's TypeScript loader: register tsx here, then load the training thread.
import { register } from 'tsx/esm/api';

register();
await import('./training-thread.ts');
