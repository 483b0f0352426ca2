#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx: one code path for development, tests and installs.
import { register } from 'tsx/esm/api';

register();
await import('../apps/controller-manager/src/main.ts');
