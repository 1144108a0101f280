import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { RollingRestartRequest, RolloutResult, SupervisorStatus } from '../../../src/cluster/protocol.js';

export const PRIMARY_FIXTURE = fileURLToPath(new URL('../fixtures/primary.mjs', import.meta.url));
export const WORKER_FIXTURE = fileURLToPath(new URL('../fixtures/http-worker.mjs', import.meta.url));

export interface LogLine {
  level: 'info' | 'warn' | 'error';
  msg: string;
  obj: Record<string, unknown>;
  at: number;
}

/** JSON-safe supervisor options (the fixture adds the logger). */
export interface FixtureSupervisorOptions {
  workers: number;
  readyTimeoutMs: number;
  drainTimeoutMs: number;
  watchdogTimeoutMs: number;
  lagThresholdMs: number;
  lagBeats: number;
  churnWindowS: number;
  churnMax: number;
  cooldownS: number;
  crashBackoffBaseMs: number;
  crashBackoffMaxMs: number;
  heartbeatIntervalMs?: number;
  stuckKillMs?: number;
}

/** An ephemeral port on 127.0.0.1, released again so the workers can bind it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True while a process with this pid exists (signal 0 only probes). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A supervisor in its own process (the primary fixture) and the handful of things a test does
 * with it. Everything it kills it started: the primary, and the workers that primary forked.
 */
export class PrimaryProcess {
  readonly logs: LogLine[] = [];
  readonly port: number;
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, (result: unknown) => void>();
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private sequence = 0;
  private seenWorkerPids = new Set<number>();
  private started: Promise<SupervisorStatus>;

  constructor(options: { port: number; distDir: string; controlFile: string; supervisor: FixtureSupervisorOptions }) {
    this.port = options.port;
    const env: NodeJS.ProcessEnv = { ...process.env };
    // Vitest's own loader flags must not leak into plain-Node fixtures.
    delete env['NODE_OPTIONS'];
    this.child = fork(PRIMARY_FIXTURE, [], {
      execArgv: [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: {
        ...env,
        CLUSTER_DIST: options.distDir,
        FIXTURE_MAX_LIFETIME_MS: '90000',
        SUPERVISOR_OPTIONS: JSON.stringify({
          ...options.supervisor,
          exec: WORKER_FIXTURE,
          env: {
            CLUSTER_DIST: options.distDir,
            FIXTURE_PORT: String(options.port),
            FIXTURE_CONTROL_FILE: options.controlFile,
            FIXTURE_MAX_LIFETIME_MS: '90000',
          },
        }),
      },
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    this.started = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('primary did not start within 20 s')), 20_000);
      this.child.on('message', (raw) => {
        const message = raw as { kind: string; id?: number; result?: unknown; status?: SupervisorStatus } & LogLine;
        if (message.kind === 'log') this.logs.push({ level: message.level, msg: message.msg, obj: message.obj, at: message.at });
        else if (message.kind === 'reply' && message.id !== undefined) this.pending.get(message.id)?.(message.result);
        else if (message.kind === 'started' && message.status) {
          clearTimeout(timer);
          this.remember(message.status);
          resolve(message.status);
        }
      });
      void this.exited.then(() => reject(new Error('primary exited before it started')));
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  whenStarted(): Promise<SupervisorStatus> {
    return this.started;
  }

  async status(): Promise<SupervisorStatus> {
    const status = (await this.command('status', {}, 5000)) as SupervisorStatus;
    this.remember(status);
    return status;
  }

  rollingRestart(request: RollingRestartRequest, timeoutMs = 30_000): Promise<RolloutResult> {
    return this.command('rollingRestart', { request }, timeoutMs) as Promise<RolloutResult>;
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Polls status until `predicate` holds; returns that status, or throws after timeoutMs. */
  async waitFor(predicate: (status: SupervisorStatus) => boolean, timeoutMs: number, intervalMs = 50): Promise<SupervisorStatus> {
    const deadline = Date.now() + timeoutMs;
    let last: SupervisorStatus | null = null;
    while (Date.now() < deadline) {
      last = await this.status();
      if (predicate(last)) return last;
      await sleep(intervalMs);
    }
    throw new Error(`condition not met within ${timeoutMs} ms; last status: ${JSON.stringify(last)}`);
  }

  async waitForLog(predicate: (line: LogLine) => boolean, timeoutMs: number): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = this.logs.find(predicate);
      if (found) return found;
      await sleep(50);
    }
    throw new Error(`log line not seen within ${timeoutMs} ms`);
  }

  /** SIGTERM (the graceful path) and wait; SIGKILL the primary and its workers if it hangs. */
  async stop(timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    const outcome = await Promise.race([this.exited, sleep(timeoutMs).then(() => null)]);
    if (outcome) return outcome;
    this.child.kill('SIGKILL');
    for (const pid of this.seenWorkerPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    return this.exited;
  }

  /** Workers this primary has forked that are still running (used to prove a clean stop). */
  livingWorkers(): number[] {
    return [...this.seenWorkerPids].filter(alive);
  }

  private remember(status: SupervisorStatus): void {
    for (const worker of status.workers) if (worker.pid !== null) this.seenWorkerPids.add(worker.pid);
  }

  private command(cmd: string, body: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
    this.sequence += 1;
    const id = this.sequence;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`primary did not answer ${cmd} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, (result) => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(result);
      });
      this.child.send({ id, cmd, ...body });
    });
  }
}

export interface HttpReply {
  status: number;
  body: Record<string, unknown>;
}

/** One request; `agent: false` gives a fresh connection (used for triggers). */
export function request(
  port: number,
  path: string,
  options: { method?: string; agent?: http.Agent | false; timeoutMs?: number } = {},
): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', agent: options.agent ?? false },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (data += chunk));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(data) as Record<string, unknown> });
          } catch (error) {
            reject(error instanceof Error ? error : new Error(String(error)));
          }
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(options.timeoutMs ?? 5000, () => req.destroy(new Error(`timeout after ${options.timeoutMs ?? 5000} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export interface LoadStats {
  requests: number;
  errors: string[];
  pids: Map<number, number>;
  ports: Set<number>;
  /** [startMs, latencyMs, pid] per successful request. */
  samples: Array<[number, number, number]>;
  newConnections: number;
}

/**
 * `connections` loops, each sending GET / back to back over one shared keep-alive agent
 * (maxSockets = connections), until stop() — so the agent holds that many sockets the whole time.
 */
export function startLoad(port: number, connections: number): { stats: LoadStats; stop: () => Promise<LoadStats> } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  const stats: LoadStats = { requests: 0, errors: [], pids: new Map(), ports: new Set(), samples: [], newConnections: 0 };
  let running = true;
  const loop = async (): Promise<void> => {
    while (running) {
      const started = performance.now();
      try {
        const reply = await request(port, '/', { agent, timeoutMs: 5000 });
        stats.requests += 1;
        if (reply.status !== 200) {
          stats.errors.push(`status ${reply.status}`);
          continue;
        }
        const pid = Number(reply.body['pid']);
        stats.pids.set(pid, (stats.pids.get(pid) ?? 0) + 1);
        stats.ports.add(Number(reply.body['port']));
        stats.samples.push([started, performance.now() - started, pid]);
      } catch (error) {
        stats.requests += 1;
        stats.errors.push(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
      }
    }
  };
  const originalCreate = agent.createConnection.bind(agent);
  agent.createConnection = ((...args: Parameters<typeof originalCreate>) => {
    stats.newConnections += 1;
    return originalCreate(...args);
  }) as typeof agent.createConnection;
  const loops = Array.from({ length: connections }, () => loop());
  return {
    stats,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return stats;
    },
  };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}
