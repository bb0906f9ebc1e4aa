// `npm start`: one-time setup (database, migrations, bucket, built-in models), then the API and one worker in
// the foreground as child processes. Ctrl-C stops both; if either exits, the other is stopped too.
// (scripts/services.sh runs first, from the npm script, to bring Postgres, Redis and s3rver up.)
import { spawn, type ChildProcess } from 'node:child_process';
import { createLogger, loadConfigOrExit, setupServices, REPO_ROOT } from '../src/index.ts';

const config = loadConfigOrExit();
const log = createLogger(config.logLevel, 'npo-start');
const builtins = await setupServices(config, log);
log.info({ builtins }, 'setup done; starting API and worker');

const children: ChildProcess[] = [];
const run = (name: string, entry: string) => {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], { cwd: REPO_ROOT, stdio: 'inherit', env: process.env });
  child.on('exit', (code, signal) => {
    log.info({ name, code, signal }, 'process exited');
    for (const c of children) if (c !== child && c.exitCode === null) c.kill('SIGTERM');
    process.exitCode = code ?? 1;
  });
  children.push(child);
};
run('api', 'apps/api/src/server.ts');
run('worker', 'apps/worker/src/main.ts');
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => { for (const c of children) c.kill('SIGTERM'); });
