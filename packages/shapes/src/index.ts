export * from './errors.ts';
export { Rng, RngError, type RngState } from '@npo/graph';
export * from './world.ts';
export * from './quantise.ts';
export * from './reward.ts';
export * from './stats.ts';
export * from './image.ts';
export * from './report.ts';
