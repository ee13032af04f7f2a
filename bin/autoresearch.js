#!/usr/bin/env node
// The `autoresearch` command. The project is TypeScript run through tsx, so there is no build step.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
