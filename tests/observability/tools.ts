// Runs the external validators (promtool, docker-compose). They are part of CI
// (.ci/packages installs them); a machine without them fails these tests with the
// command to install them, rather than skipping the checks.
import { spawn } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');

const INSTALL: Record<string, string> = {
  promtool: 'apt-get install -y prometheus   (Debian package "prometheus" ships /usr/bin/promtool)',
  'docker-compose': 'apt-get install -y docker-compose',
};

export interface ToolResult { status: number; stdout: string; stderr: string; output: string }

/** Runs a tool asynchronously (a blocking spawn would stall the test worker's RPC). */
export function runTool(tool: 'promtool' | 'docker-compose', args: string[], opts: { cwd?: string; timeoutMs?: number; input?: string } = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { cwd: opts.cwd ?? ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.on('error', () => {}); // reported through 'error' / the exit status
    child.stdin.end(opts.input ?? '');
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(err.code === 'ENOENT'
        ? new Error(`${tool} is not installed, so this check cannot run. Install it: ${INSTALL[tool]} (CI does this from .ci/packages).`)
        : err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ status: code ?? -1, stdout, stderr, output: `${stdout}\n${stderr}${signal ? `\n(killed by ${signal})` : ''}` });
    });
  });
}
