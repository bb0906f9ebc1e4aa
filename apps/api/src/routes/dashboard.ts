import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';

// The dashboard: static files only (the page signs in with an API key kept in the browser's sessionStorage and
// calls /v1 with it; the server holds no session). uPlot is served from node_modules, no build step.
const require = createRequire(import.meta.url);
const PAGE_DIR = new URL('../../dashboard/', import.meta.url).pathname;
const UPLOT_DIST = join(dirname(require.resolve('uplot/package.json')), 'dist');

const FILES: Record<string, { path: string; type: string }> = {
  '': { path: join(PAGE_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
  'app.js': { path: join(PAGE_DIR, 'app.js'), type: 'text/javascript; charset=utf-8' },
  'app.css': { path: join(PAGE_DIR, 'app.css'), type: 'text/css; charset=utf-8' },
  'vendor/uPlot.iife.min.js': { path: join(UPLOT_DIST, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  'vendor/uPlot.min.css': { path: join(UPLOT_DIST, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
};
const CSP = "default-src 'self'; img-src 'self' data: http: https:; connect-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'";

export function dashboardRoutes(app: FastifyInstance): void {
  const cache = new Map<string, Buffer>();
  const serve = (name: string) => {
    const file = FILES[name];
    let body = cache.get(name);
    if (!body) cache.set(name, (body = readFileSync(file.path)));
    return { body, type: file.type };
  };
  app.get('/dashboard', { schema: { hide: true } }, async (_req, reply) => {
    const { body, type } = serve('');
    return reply.type(type).header('content-security-policy', CSP).header('cache-control', 'no-cache').send(body);
  });
  app.get('/dashboard/*', { schema: { hide: true } }, async (request, reply) => {
    const name = (request.params as { '*': string })['*'];
    if (!Object.hasOwn(FILES, name) || name === '') return reply.status(404).send({ error: { code: 'not_found', message: `dashboard file ${name} not found`, details: {} } });
    const { body, type } = serve(name);
    return reply.type(type).header('cache-control', 'no-cache').send(body);
  });
}
