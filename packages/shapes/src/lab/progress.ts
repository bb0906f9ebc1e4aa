import cliProgress from 'cli-progress';

/** A terminal progress bar (plain log lines when stdout is not a terminal, e.g. in CI). */
export function progressBar(label: string, total: number) {
  if (!process.stdout.isTTY) {
    let last = 0;
    return {
      update(done: number, info = '') {
        if (done === total || done - last >= Math.max(1, Math.floor(total / 20))) {
          last = done;
          console.log(`${label}: ${done}/${total} ${info}`);
        }
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar({ format: `${label} [{bar}] {percent}% | {value}/{total} | ETA {eta_formatted} | {info}` }, cliProgress.Presets.shades_classic);
  bar.start(total, 0, { info: '' });
  return { update: (done: number, info = '') => bar.update(done, { info }), stop: () => bar.stop() };
}
