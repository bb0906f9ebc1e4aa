import { Ajv } from 'ajv';
import type { FastifyInstance } from 'fastify';

// Two AJV instances: bodies are validated strictly (no type coercion, unknown fields rejected, never silently
// removed), while querystrings and params coerce strings to the declared types (`?limit=5`).
export function registerValidators(app: FastifyInstance): void {
  const strict = new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: false, allErrors: false, strict: false });
  const coercing = new Ajv({ coerceTypes: 'array', useDefaults: true, removeAdditional: false, allErrors: false, strict: false });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema));
}
