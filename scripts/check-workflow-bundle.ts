// `npm run check:workflows`: bundle the workflow code the way a worker does (worker.ts, workflowBundle) and
// fail if that fails. Temporal's bundler refuses a Node built-in or a package that needs one anywhere in
// what the workflows import, packages included, which the workflow typecheck does not follow.
import { workflowBundle } from '../worker';

const started = Date.now();
const { code } = await workflowBundle();
const seconds = ((Date.now() - started) / 1000).toFixed(1);
console.log(`workflow bundle: ${(code.length / 1024).toFixed(0)} KiB in ${seconds}s`);
