import type { FastifyRequest } from 'fastify';
import { UnsupportedMediaTypeError, ValidationError, uploadFormProblem } from '@npo/contracts';
import type { UploadedFile } from '../services/store-upload.ts';

/** Reads the multipart form up to its file part; fields sent before the file (name, format) come along. */
export async function readUpload(request: FastifyRequest): Promise<UploadedFile> {
  if (!request.isMultipart()) throw new UnsupportedMediaTypeError('send multipart/form-data with the file in a "file" field', { content_type: request.headers['content-type'] ?? null });
  let part;
  try {
    part = await request.file();
  } catch (err) {
    // busboy's parse errors carry no status; a broken form is the client's mistake
    if ((err as { statusCode?: number }).statusCode) throw err;
    throw new ValidationError(`malformed multipart body: ${(err as Error).message}`, {}, 'malformed_multipart');
  }
  if (!part) throw new ValidationError('the form has no file part: put the file in a "file" field', { field: 'file' }, 'missing_file');
  const fields: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(part.fields)) {
    const f = Array.isArray(v) ? v[0] : v;
    if (f && f.type === 'field') fields[k] = String(f.value);
  }
  const problem = uploadFormProblem(part.filename, fields);
  if (problem) {
    part.file.resume(); // nothing is stored: drain the file so the request completes
    throw new ValidationError(problem.message, { field: problem.field });
  }
  return { filename: part.filename || 'upload', file: part.file, fields };
}
