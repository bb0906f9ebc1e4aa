// `npm run npo -- <resource> <action> …` / the `npo` bin: runs one command with the process's streams.
import { processIo } from './io.ts';
import { run } from './run.ts';

process.exitCode = await run(process.argv.slice(2), processIo());
