export * from './signature.ts';
export * from './address-policy.ts';
export * from './send.ts';
export * from './retry.ts';
export * from './emit.ts';
export * from './deliver.ts';
export * from './sweep.ts';
