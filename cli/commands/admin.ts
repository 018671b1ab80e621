import type { Command } from '../command.ts';
import { parse, UsageError } from '../command.ts';
import { fromEnv } from '../../shared/config.ts';
import { createPool, type Pool } from '../../shared/db.ts';
import { createApiToken, revokeTokens, listApiTokens } from '../../workers/http/admin/tokens.ts';

async function withDb<T>(env: Record<string, string | undefined>, fn: (db: Pool) => Promise<T>): Promise<T> {
  const db = createPool(fromEnv(env).databaseUrl, { max: 1, applicationName: 'stockroom-fleet:cli' });
  try {
    return await fn(db);
  } finally {
    await db.end();
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$/;

export const adminCommand: Command = {
  name: 'admin',
  summary: 'Create, list and revoke admin API tokens',
  help: `Usage: fleet admin create-token --name <admin> [--label <label>] [--expires-days <n>]
       fleet admin revoke-token <id|label>
       fleet admin list-tokens [--json]

create-token  creates the admin if missing and a token for it, printed once on stdout
              (only its sha256 is stored). Use it as "Authorization: Bearer <token>",
              in FLEET_TOKEN for the CLI's --remote, or on the web UI's login page.
                --label         the token's name [the admin's name]
                --expires-days  expire after this many days [never]
revoke-token  revokes a token by id, or every token with that label; browser sessions
              opened with it end too.
list-tokens   every API token: id, admin, label, created, last used, expiry, revoked.

Needs DATABASE_URL. Examples:
  fleet admin create-token --name alice
  fleet admin create-token --name alice --label ci --expires-days 90
  fleet admin revoke-token ci`,
  async run(args, io) {
    const { values, positionals } = parse(args, {
      name: { type: 'string' }, label: { type: 'string' }, 'expires-days': { type: 'string' }, json: { type: 'boolean' },
    });
    const [sub, ref, ...extra] = positionals;
    if (extra.length) throw new UsageError(`unexpected argument: ${extra[0]}`);
    switch (sub) {
      case 'create-token': {
        if (!values.name) throw new UsageError('--name <admin> is required');
        if (!NAME.test(values.name)) throw new UsageError('--name: letters, digits, ".", "_", "@", "-" (up to 100)');
        if (values.label !== undefined && !NAME.test(values.label)) throw new UsageError('--label: letters, digits, ".", "_", "@", "-" (up to 100)');
        if (values.label !== undefined && /^\d+$/.test(values.label)) throw new UsageError('--label must not be all digits (revoke-token reads that as an id)');
        let expiresAt: Date | undefined;
        if (values['expires-days'] !== undefined) {
          const days = Number(values['expires-days']);
          if (!Number.isInteger(days) || days < 1 || days > 3650) throw new UsageError('--expires-days must be an integer from 1 to 3650');
          expiresAt = new Date(Date.now() + days * 86_400_000);
        }
        const created = await withDb(io.env, (db) => createApiToken(db, { admin: values.name!, label: values.label, expiresAt }));
        io.err(`token ${created.id} "${created.name}" for admin ${created.admin}${created.expiresAt ? `, expires ${created.expiresAt.toISOString()}` : ''}; it is shown only now:`);
        io.out(created.token);
        return 0;
      }
      case 'revoke-token': {
        if (!ref) throw new UsageError('which token? (fleet admin revoke-token <id|label>)');
        const revoked = await withDb(io.env, (db) => revokeTokens(db, ref));
        if (revoked.length === 0) {
          io.err(`no active token with id or label "${ref}"`);
          return 1;
        }
        for (const t of revoked) io.out(`revoked token ${t.id} "${t.name}"`);
        return 0;
      }
      case 'list-tokens': {
        const rows = await withDb(io.env, (db) => listApiTokens(db));
        if (values.json) {
          io.out(JSON.stringify(rows, null, 2));
          return 0;
        }
        const d = (x: Date | null) => (x ? x.toISOString().slice(0, 19).replace('T', ' ') : '-');
        const table = rows.map((r) => [String(r.id), r.admin, r.name, d(r.createdAt), d(r.lastUsedAt), d(r.expiresAt), r.revokedAt ? `revoked ${d(r.revokedAt)}` : 'active']);
        const head = ['id', 'admin', 'label', 'created', 'last used', 'expires', 'state'];
        const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
        for (const row of [head, ...table]) io.out(row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
        return 0;
      }
      default:
        throw new UsageError(sub ? `unknown subcommand "${sub}"` : 'which subcommand? (create-token, revoke-token, list-tokens)');
    }
  },
};
