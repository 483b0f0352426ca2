#!/usr/bin/env -S node --max-semi-space-size=64
import { runMain } from './run-main.js';

await runMain('shoal-controller-manager');
