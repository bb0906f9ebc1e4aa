// autocannon ships no types; this is the part the API benches use.
declare module 'autocannon' {
  interface Result {
    requests: { average: number };
    latency: { p50: number; p90: number; p99: number; max: number };
    non2xx: number;
    errors: number;
    timeouts: number;
  }
  function autocannon(opts: { url: string; headers?: Record<string, string>; duration?: number; connections?: number; overallRate?: number }): Promise<Result>;
  export default autocannon;
}
