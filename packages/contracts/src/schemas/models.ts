import { Type, type Static } from 'typebox';
import { PageQuery, Page, Timestamp } from './common.ts';
import { SafeText } from './text.ts';

export const ModelStatus = Type.Union([Type.Literal('validating'), Type.Literal('ready'), Type.Literal('invalid')]);
export type ModelStatus = Static<typeof ModelStatus>;

export const Model = Type.Object({
  id: Type.String(),
  name: Type.String(),
  source: Type.Union([Type.Literal('upload'), Type.Literal('s3'), Type.Literal('builtin')]),
  status: ModelStatus,
  builtin: Type.Boolean(),
  info: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  errors: Type.Union([Type.Array(Type.String()), Type.Null()]),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type Model = Static<typeof Model>;

// S3's "safe" key characters only: one byte each, so the length bound is a byte bound and a prefix plus the longest
// file path inside a model folder stays under S3's 1,024-byte key limit.
export const S3_PREFIX_PATTERN = "^[A-Za-z0-9!_.*'()/-]+$";
export const S3_PREFIX_MAX_LENGTH = 512;

/** JSON registration from an S3 prefix the service can read (upload registration is multipart). */
export const CreateModelFromS3 = Type.Object(
  {
    name: SafeText({ minLength: 1, maxLength: 200 }),
    s3_prefix: Type.String({
      minLength: 1, maxLength: S3_PREFIX_MAX_LENGTH, pattern: S3_PREFIX_PATTERN,
      description: 'prefix under imports/<your tenant id>/ in the service bucket holding unet/, text_encoder/, tokenizer/ and optionally vae/ (letters, digits and !-_.*\'()/)',
    }),
  },
  { additionalProperties: false },
);
export type CreateModelFromS3 = Static<typeof CreateModelFromS3>;

export const ModelList = Page(Model);
export const ModelListQuery = Type.Object({ ...PageQuery });
