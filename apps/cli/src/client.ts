import { ApiError, CliError } from './errors.ts';
import { postMultipartFile } from './multipart-upload.ts';

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
      throw this.connectionError(err);
    }
    if (res.status >= 200 && res.status < 300) return res;
    throw errorFromText(res.status, await res.text().catch(() => ''), res.statusText);
  }

  private connectionError(err: unknown): CliError {
    const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
    const why = e.cause?.code ?? e.cause?.message ?? e.code ?? e.message;
    return new CliError('connection_failed', `cannot reach the API at ${this.baseUrl} (${why}); set NPO_API_URL or --url`, { url: this.baseUrl });
  }

  /** A JSON request: the parsed body and the status (201 and 200 differ for an idempotent create). */
  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<{ status: number; body: T }> {
    const res = await this.request(method, path, { ...opts, headers: { accept: 'application/json', ...opts.headers } });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  }

  /** POSTs a file from disk as multipart/form-data (streamed: memory stays flat in the file size). */
  async upload<T>(path: string, filePath: string, fields: Record<string, string> = {}): Promise<{ status: number; body: T }> {
    let res: { status: number; text: string };
    try {
      res = await postMultipartFile(new URL(this.url(path)), this.key ? { authorization: `Bearer ${this.key}` } : {}, filePath, fields);
    } catch (err) {
      throw this.connectionError(err);
    }
    if (res.status >= 200 && res.status < 300) return { status: res.status, body: JSON.parse(res.text) as T };
    throw errorFromText(res.status, res.text);
  }

  get<T>(path: string, query?: RequestOptions['query']): Promise<T> {
    return this.json<T>('GET', path, { query }).then((r) => r.body);
  }
}

function errorFromText(status: number, text: string, statusText = ''): ApiError {
  try {
    const { error } = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    if (error && typeof error.code === 'string') {
      return new ApiError(error.code, String(error.message ?? ''), (error.details ?? {}) as Record<string, unknown>, status);
    }
  } catch { /* not JSON: a proxy's page, say */ }
  return new ApiError(`http_${status}`, text.slice(0, 300) || statusText || `HTTP ${status}`, {}, status);
}
