import { execWithServeFlags } from './serve-flags.ts';

// Before main.ts loads the server's modules: `serve` may replace this process with one that has its heap flags.
await execWithServeFlags(process.argv);
const { run } = await import('./main.ts');
process.exitCode = await run(process.argv);
