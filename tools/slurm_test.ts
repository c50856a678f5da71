/**
 * The Slurm recipe of the README, run for real (`deno task test:slurm`): installs `slurm-wlm` and `munge`
 * when missing, starts munged, slurmctld and slurmd on localhost from a one-node configuration in a temp
 * folder, serves a synthetic archive with its mapping CSV, submits scripts/slurm_download.sh unchanged with
 * `sbatch --array=0-3` (4 shards), waits for the array, and checks that the store is complete and bit-exact
 * with the sources and that each task fetched exactly its share. Every daemon started is stopped by pid.
 *
 * Needs root (or sudo) for the daemons; kept out of `deno task test` (tests/) on purpose.
 * @module
 */

import { strict as assert } from "node:assert";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { shardSkycells } from "../lib/ingest/plan.ts";
import { assertStoreMatchesSource, makeArchive, type TestArchive } from "../tests/ingest/_setup.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SCRIPT = path.join(ROOT, "scripts", "slurm_download.sh");
const SHARDS = 4;
/** Safety net: a daemon left behind by a killed test process ends by itself after this many seconds. */
const DAEMON_LIFETIME_S = 900;

/** Result of a short command. */
interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a short command (with a deadline) and returns its exit code and output. */
async function run(cmd: string, args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}) {
  const child = new Deno.Command(cmd, {
    args,
    env: opts.env,
    cwd: opts.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 600_000);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) } as Ran;
  } finally {
    clearTimeout(timer);
  }
}

/** True when `cmd` is on the PATH. */
async function have(cmd: string): Promise<boolean> {
  return (await run("bash", ["-c", `command -v ${cmd}`])).code === 0;
}

/** Installs slurm-wlm and munge with apt-get when a daemon or client is missing. */
async function ensureSlurm(): Promise<void> {
  const needed = ["munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "sinfo"];
  const missing = [];
  for (const cmd of needed) if (!(await have(cmd))) missing.push(cmd);
  if (missing.length === 0) return;
  console.log(`installing slurm-wlm and munge (missing: ${missing.join(", ")})`);
  const sudo = Deno.uid() === 0 ? "" : "sudo ";
  const r = await run("bash", [
    "-c",
    `${sudo}apt-get update -qq && DEBIAN_FRONTEND=noninteractive ${sudo}apt-get install -y -qq slurm-wlm munge`,
  ]);
  assert.equal(r.code, 0, `apt-get install slurm-wlm munge failed:\n${r.stdout}\n${r.stderr}`);
}

/** A free TCP port on 127.0.0.1 (free when asked; the daemons bind it soon after). */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Polls `check` every 200 ms until it returns true; fails with `what` after `seconds`. */
async function waitFor(what: string, seconds: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A daemon started in the foreground, its output in a log file. */
class Daemon {
  readonly child: Deno.ChildProcess;
  #status: Promise<Deno.CommandStatus>;
  #exited = false;
  constructor(readonly name: string, readonly log: string, cmd: string[], env: Record<string, string>) {
    // bash execs `timeout`, which runs the daemon and forwards our SIGTERM to it: the pid we hold is
    // the one to signal, and a daemon left by a killed test ends by itself.
    this.child = new Deno.Command("bash", {
      args: [
        "-c",
        `exec timeout -k 10 ${DAEMON_LIFETIME_S} "$@" >"$DAEMON_LOG" 2>&1`,
        "bash",
        ...cmd,
      ],
      env: { ...env, DAEMON_LOG: log },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#status = this.child.status.then((s) => {
      this.#exited = true;
      return s;
    });
  }
  /** True while the process runs. */
  get running(): boolean {
    return !this.#exited;
  }
  /** The last lines of its log. */
  async tail(lines = 30): Promise<string> {
    const text = await Deno.readTextFile(this.log).catch(() => "");
    return `--- ${this.name} (${this.log})\n${text.trimEnd().split("\n").slice(-lines).join("\n")}`;
  }
  /** SIGTERM, then SIGKILL after `seconds`; resolves when the process has exited. */
  async stop(seconds = 15): Promise<void> {
    if (!this.#exited) {
      try {
        this.child.kill("SIGTERM");
      } catch { /* already gone */ }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        try {
          this.child.kill("SIGKILL");
        } catch { /* already gone */ }
        resolve();
      }, seconds * 1000);
    });
    await Promise.race([this.#status.then(() => {}), killed]);
    clearTimeout(timer);
    await this.#status;
  }
}

/** The contents of the README's shell block that follows the mention of `scripts/slurm_download.sh`. */
async function readmeScript(): Promise<string> {
  const readme = await Deno.readTextFile(path.join(ROOT, "README.md"));
  const section = readme.slice(readme.indexOf("### Batch jobs"));
  const from = section.indexOf("scripts/slurm_download.sh");
  assert.ok(from >= 0, "the Batch jobs section names scripts/slurm_download.sh");
  const m = /```sh\n([\s\S]*?)```/.exec(section.slice(from));
  assert.ok(m, "a ```sh block follows the mention");
  return m[1];
}

Deno.test("README's Slurm recipe is scripts/slurm_download.sh, verbatim", async () => {
  assert.equal(await readmeScript(), await Deno.readTextFile(SCRIPT));
});

/** One array task's record from `scontrol show job -o`. */
interface TaskState {
  task: string;
  state: string;
  exitCode: string;
}

const TERMINAL = new Set([
  "COMPLETED",
  "FAILED",
  "CANCELLED",
  "TIMEOUT",
  "NODE_FAIL",
  "OUT_OF_MEMORY",
  "PREEMPTED",
  "BOOT_FAIL",
  "DEADLINE",
]);

Deno.test({
  name: "sbatch --array=0-3 scripts/slurm_download.sh: 4 shards fill the store once, bit-exact",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await ensureSlurm();
    const tmp = await Deno.makeTempDir({ prefix: "ps1_slurm_" });
    // munged wants every directory above its socket searchable by all; its key private.
    await Deno.chmod(tmp, 0o755);
    const dirs = Object.fromEntries(
      ["state", "spool", "logs", "munge_key", "munge_run"].map((d) => [d, path.join(tmp, d)]),
    );
    for (const d of Object.values(dirs)) await Deno.mkdir(d);
    await Deno.chmod(dirs.munge_key, 0o700);
    const conf = path.join(tmp, "slurm.conf");
    const socket = path.join(dirs.munge_run, "munge.socket");
    const env = { SLURM_CONF: conf };
    const daemons: Daemon[] = [];
    let archive: TestArchive | undefined;
    let jobId: string | undefined;
    let ok = false;
    try {
      const key = new Uint8Array(1024);
      crypto.getRandomValues(key);
      const keyFile = path.join(dirs.munge_key, "munge.key");
      await Deno.writeFile(keyFile, key, { mode: 0o600 });
      const memMB = Math.floor(Deno.systemMemoryInfo().total / 2 ** 20 * 0.9);
      await Deno.writeTextFile(
        conf,
        [
          "ClusterName=ps1test",
          "SlurmctldHost=localhost",
          `SlurmctldPort=${freePort()}`,
          `SlurmdPort=${freePort()}`,
          "SlurmUser=root",
          "SlurmdUser=root",
          "AuthType=auth/munge",
          "CredType=cred/munge",
          `AuthInfo=socket=${socket}`,
          `StateSaveLocation=${dirs.state}`,
          `SlurmdSpoolDir=${dirs.spool}`,
          `SlurmctldPidFile=${path.join(tmp, "slurmctld.pid")}`,
          `SlurmdPidFile=${path.join(tmp, "slurmd.pid")}`,
          `SlurmctldLogFile=${path.join(dirs.logs, "slurmctld.log")}`,
          `SlurmdLogFile=${path.join(dirs.logs, "slurmd.log")}`,
          `PlugStackConfig=${path.join(tmp, "plugstack.conf")}`,
          "ProctrackType=proctrack/linuxproc",
          "TaskPlugin=task/none",
          "JobAcctGatherType=jobacct_gather/none",
          "AccountingStorageType=accounting_storage/none",
          "JobCompType=jobcomp/none",
          "SelectType=select/cons_tres",
          "SelectTypeParameters=CR_Core",
          "SchedulerType=sched/backfill",
          "MpiDefault=none",
          "ReturnToService=2",
          "MinJobAge=600",
          `NodeName=localhost CPUs=2 RealMemory=${Math.max(memMB, 1)} State=UNKNOWN`,
          "PartitionName=ps1 Nodes=localhost Default=YES MaxTime=INFINITE State=UP",
          "",
        ].join("\n"),
      );
      await Deno.writeTextFile(path.join(tmp, "plugstack.conf"), "");

      const munged = new Daemon("munged", path.join(dirs.logs, "munged.log"), [
        "munged",
        "-F",
        `--socket=${socket}`,
        `--key-file=${keyFile}`,
        `--pid-file=${path.join(dirs.munge_run, "munged.pid")}`,
        `--seed-file=${path.join(dirs.munge_key, "munged.seed")}`,
      ], env);
      daemons.push(munged);
      await waitFor("munged's socket", 20, async () => {
        if (!munged.running) throw new Error(`munged exited\n${await munged.tail()}`);
        return (await run("munge", ["-S", socket, "-n"])).code === 0;
      });

      const ctld = new Daemon("slurmctld", path.join(dirs.logs, "slurmctld.out"), [
        "slurmctld",
        "-D",
        "-i",
        "-f",
        conf,
      ], env);
      daemons.push(ctld);
      await waitFor("slurmctld (scontrol ping)", 30, async () => {
        if (!ctld.running) throw new Error(`slurmctld exited\n${await ctld.tail()}`);
        return /is UP/.test((await run("scontrol", ["ping"], { env })).stdout);
      });

      const slurmd = new Daemon("slurmd", path.join(dirs.logs, "slurmd.out"), [
        "slurmd",
        "-D",
        "-N",
        "localhost",
        "-f",
        conf,
      ], env);
      daemons.push(slurmd);
      await waitFor("node localhost idle (sinfo)", 30, async () => {
        if (!slurmd.running) throw new Error(`slurmd exited\n${await slurmd.tail()}`);
        const r = await run("sinfo", ["-h", "-n", "localhost", "-o", "%T"], { env });
        return r.stdout.trim() === "idle";
      });

      archive = await makeArchive();
      const a = archive;
      // cpus-per-task=1: two shards share the store at once on this 2-CPU node, as on a cluster.
      const submit = await run("sbatch", [
        `--array=0-${SHARDS - 1}`,
        "--cpus-per-task=1",
        ...(memMB < 2048 ? ["--mem=256M"] : []),
        `--output=${path.join(dirs.logs, "ps1-%A_%a.out")}`,
        `--error=${path.join(dirs.logs, "ps1-%A_%a.err")}`,
        SCRIPT,
        a.outputDir,
        a.server.url,
        String(SHARDS),
      ], { env: { ...env, DENO: Deno.execPath() }, cwd: ROOT });
      assert.equal(submit.code, 0, `sbatch failed: ${submit.stderr}`);
      console.log(submit.stdout.trim());
      const m = /^Submitted batch job (\d+)$/m.exec(submit.stdout);
      assert.ok(m, `sbatch printed: ${submit.stdout}`);
      jobId = m[1];

      let tasks: TaskState[] = [];
      await waitFor(`array job ${jobId} (scontrol show job)`, 240, async () => {
        const r = await run("scontrol", ["show", "job", "-o", jobId!], { env });
        tasks = r.stdout.split("\n").filter((l) => l.includes("JobId=")).map((l) => ({
          task: /ArrayTaskId=(\S+)/.exec(l)?.[1] ?? "?",
          state: /JobState=(\S+)/.exec(l)?.[1] ?? "?",
          exitCode: /ExitCode=(\S+)/.exec(l)?.[1] ?? "?",
        }));
        return tasks.length === SHARDS && tasks.every((t) => TERMINAL.has(t.state));
      });
      tasks.sort((x, y) => Number(x.task) - Number(y.task));
      assert.deepEqual(
        tasks,
        Array.from({ length: SHARDS }, (_, k) => ({ task: String(k), state: "COMPLETED", exitCode: "0:0" })),
      );

      // Each task's result: exactly its share, written, and nothing of the other shares.
      const all = [...a.skycells].sort();
      const seen: string[] = [];
      for (let k = 0; k < SHARDS; k++) {
        const share = shardSkycells(all, { index: k, count: SHARDS });
        assert.ok(share.length > 0, `shard ${k} has skycells`);
        const out = await Deno.readTextFile(path.join(dirs.logs, `ps1-${jobId}_${k}.out`));
        const result = JSON.parse(out);
        assert.equal(result.status, "completed", `shard ${k}: ${result.message}`);
        assert.equal(result.unique_images, share.length, `shard ${k}: unique_images`);
        assert.deepEqual([...result.produced_skycells].sort(), share, `shard ${k}: produced_skycells`);
        const touched = [...new Set(result.arrays.map((x: { skycell: string }) => x.skycell))].sort();
        assert.deepEqual(touched, share, `shard ${k}: the skycells of its arrays`);
        const written = result.arrays.filter((x: { action: string }) => x.action === "written");
        assert.equal(written.length, share.length * 4 * 3, `shard ${k}: arrays written`);
        seen.push(...share);
      }
      assert.equal(seen.length, all.length, "no skycell in two shares");
      assert.deepEqual([...seen].sort(), all, "the shares cover the list");
      // Every source file was fetched once in all: no shard fetched another's.
      const hits = [...a.server.hits.entries()].filter(([p]) => p.endsWith(".fits"));
      assert.equal(hits.length, all.length * 4 * 3, "distinct files fetched");
      for (const [p, n] of hits) assert.equal(n, 1, `${p} fetched ${n} times`);

      await assertStoreMatchesSource(a.storePath, a.archiveDir, all);
      ok = true;
    } finally {
      if (jobId !== undefined) {
        const q = await run("squeue", ["-h", "-j", jobId], { env });
        if (q.stdout.trim() !== "") {
          await run("scancel", [jobId], { env });
          await waitFor(`job ${jobId} to leave the queue`, 30, async () => {
            return (await run("squeue", ["-h", "-j", jobId!], { env })).stdout.trim() === "";
          }).catch((err) => console.error(String(err)));
        }
      }
      if (!ok) {
        for (const d of daemons) console.error(await d.tail());
        for await (const e of Deno.readDir(dirs.logs)) {
          if (/^ps1-.*\.(out|err)$/.test(e.name)) {
            console.error(`--- ${e.name}\n${await Deno.readTextFile(path.join(dirs.logs, e.name))}`);
          }
        }
      }
      for (const d of [...daemons].reverse()) await d.stop();
      await archive?.close();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
