/**
 * Runs one of the toolkit's scripts (its exported `main`) in this process and prints the process's peak
 * resident memory (the kernel's VmHWM, all threads) as the last line of stderr: `peak-rss-bytes N`. The
 * damage tests run the CLIs through it, so memory is measured in the child that did the work.
 *
 * Usage: deno run -A tests/store/_measured.ts SCRIPT.ts ARGS...
 * @module
 */

const [script, ...args] = Deno.args;
const mod = await import(new URL(`../../${script}`, import.meta.url).href) as {
  main: (args: string[]) => Promise<number>;
};
const code = await mod.main(args);
const status = Deno.readTextFileSync("/proc/self/status");
const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
console.error(`peak-rss-bytes ${kb * 1024}`);
Deno.exit(code);
