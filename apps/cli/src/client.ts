import { ApiError, CliError } from './errors.ts';

export interface RequestOptions {
  body?: BodyInit;
  /** Sent as application/json when `body` is not given. */
  json?: unknown;
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string>;
}

/** A thin fetch wrapper: base URL, bearer key, and API errors turned into ApiError. */
export class ApiClient {
  constructor(readonly baseUrl: string, private readonly key: string | undefined) {}

  url(path: string, query: RequestOptions['query'] = {}): string {
    const u = new URL(path, this.baseUrl.endsWith('/') ? this.baseUrl : `${this.baseUrl}/`);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  /** The raw response of a successful request (2xx); any other status throws ApiError. */
  async request(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { ...(this.key ? { authorization: `Bearer ${this.key}` } : {}), ...opts.headers };
    let body = opts.body;
    if (body === undefined && opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers['content-type'] = 'application/json';
    }
    let res: Response;
    try {
      res = await fetch(this.url(path, opts.query), { method, headers, body, redirect: 'manual' });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError('connection_failed', `cannot reach the API at ${this.baseUrl} (${cause?.code ?? cause?.message ?? (err as Error).message}); set NPO_API_URL or --url`, { url: this.baseUrl });
    }
    if (res.status >= 200 && res.status < 300) return res;
    throw await errorFrom(res);
  }

  /** A JSON request: the parsed body and the status (201 and 200 differ for an idempotent create). */
  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<{ status: number; body: T }> {
    const res = await this.request(method, path, { ...opts, headers: { accept: 'application/json', ...opts.headers } });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  }

  get<T>(path: string, query?: RequestOptions['query']): Promise<T> {
    return this.json<T>('GET', path, { query }).then((r) => r.body);
  }
}

async function errorFrom(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  try {
    const { error } = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    if (error && typeof error.code === 'string') {
      return new ApiError(error.code, String(error.message ?? ''), (error.details ?? {}) as Record<string, unknown>, res.status);
    }
  } catch { /* not JSON: a proxy's page, say */ }
  return new ApiError(`http_${res.status}`, text.slice(0, 300) || res.statusText, {}, res.status);
}
