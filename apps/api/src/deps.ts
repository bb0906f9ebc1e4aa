import type { Connections, Logger } from '@npo/platform';

/** Everything the API needs from the outside world; server.ts builds it, tests build their own. */
export interface AppDeps extends Connections {
  logger?: Logger | boolean;
}
