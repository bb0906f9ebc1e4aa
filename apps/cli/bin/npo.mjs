#!/usr/bin/env node
// The `npo` executable: TypeScript runs through tsx (the repository has no build step).
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
