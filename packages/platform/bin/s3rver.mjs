#!/usr/bin/env node
// Runs s3rver (a local S3-protocol server) so local development and tests use the real S3 client code path.
// Usage: node packages/platform/bin/s3rver.mjs <dataDir> <port> [bucket]
import S3rver from 's3rver';
import { mkdirSync } from 'node:fs';

const [dir = '.data/s3', port = '4569', bucket = 'npo-forge'] = process.argv.slice(2);
mkdirSync(dir, { recursive: true });
const server = new S3rver({ port: Number(port), address: '127.0.0.1', directory: dir, silent: true, configureBuckets: [{ name: bucket }] });
await server.run();
console.log(`s3rver listening on 127.0.0.1:${port}, data in ${dir}`);
const stop = () => server.close().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
