// Job status read latency (GET /v1/jobs/:id with auth, rate limiting and a Postgres read) at fixed request
// rates, measured with autocannon against the API running as its own process on one core. The baseline, in the
// same run and process, is GET /healthz (no auth, no Redis, no Postgres): the floor of HTTP on this machine.
// Prints one JSON line per rate. Usage: tsx bench/api-status.ts [rates, default 250,500,1000] [seconds, default 5]
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { startBenchServer } from './api-server.ts';

/** CPU seconds the API process has used (Linux /proc; null elsewhere). */
function cpuSeconds(pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 1/100 s
  } catch {
    return null;
  }
}

const rates = (process.argv[2] ?? '250,500,1000').split(',').map(Number);
const seconds = Number(process.argv[3] ?? 5);
const server = await startBenchServer('benchstatus', { LOG_LEVEL: 'silent' });
try {
  const url = `${server.base}/v1/jobs/${server.jobId}`;
  await autocannon({ url, headers: { authorization: `Bearer ${server.key}` }, duration: 2, connections: 10, overallRate: 200 }); // warm-up
  for (const rate of rates) {
    const cpu0 = cpuSeconds(server.pid);
    const r = await autocannon({ url, headers: { authorization: `Bearer ${server.key}` }, duration: seconds, connections: 20, overallRate: rate });
    const cpu1 = cpuSeconds(server.pid);
    const apiCpu = cpu0 !== null && cpu1 !== null ? +((cpu1 - cpu0) / seconds).toFixed(2) : null;
    const floor = await autocannon({ url: `${server.base}/healthz`, duration: seconds, connections: 20, overallRate: rate });
    console.log(JSON.stringify({
      bench: 'api-status', target_rps: rate, achieved_rps: Math.round(r.requests.average), p50_ms: r.latency.p50, p90_ms: r.latency.p90, p99_ms: r.latency.p99,
      max_ms: r.latency.max, non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts, seconds, one_core: true, api_cpu_busy: apiCpu,
      healthz_p50_ms: floor.latency.p50, healthz_p99_ms: floor.latency.p99,
      p50_ratio_vs_healthz: +(r.latency.p50 / Math.max(floor.latency.p50, 1)).toFixed(2), p99_ratio_vs_healthz: +(r.latency.p99 / Math.max(floor.latency.p99, 1)).toFixed(2),
    }));
  }
} finally {
  await server.close();
}
