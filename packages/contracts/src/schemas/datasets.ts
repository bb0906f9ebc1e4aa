import { Type, type Static } from 'typebox';
import { PageQuery, Page, Timestamp } from './common.ts';

export const DatasetStatus = Type.Union([Type.Literal('validating'), Type.Literal('ready'), Type.Literal('invalid')]);
export type DatasetStatus = Static<typeof DatasetStatus>;
export const DatasetFormat = Type.Union([Type.Literal('parquet'), Type.Literal('zip'), Type.Literal('tar')]);
export type DatasetFormat = Static<typeof DatasetFormat>;

export const Dataset = Type.Object({
  id: Type.String(),
  name: Type.String(),
  format: DatasetFormat,
  status: DatasetStatus,
  size_bytes: Type.Integer(),
  report: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type Dataset = Static<typeof Dataset>;

export const DatasetList = Page(Dataset);
export const DatasetListQuery = Type.Object({ ...PageQuery, status: Type.Optional(DatasetStatus) });
