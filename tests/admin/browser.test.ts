import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { useTestFleet, runJob, waitFor } from '../helpers.ts';
import { startHttp } from '../../workers/http/server.ts';
import { httpPlugins } from '../../workers/http/plugins.ts';
import { createApiToken } from '../../workers/http/admin/tokens.ts';
import { reconcileSchedules, schedulesOf } from '../../workers/scheduler.ts';
import { runScheduleNow } from '../../workers/schedules/status.ts';
import { allJobs } from '../../jobs/index.ts';
import mvRefresh from '../../jobs/mv-refresh/index.ts';
import { launchChromium, artifactPath, publishScreenshots } from './chromium.ts';

const fleet = useTestFleet();
let app: FastifyInstance;
let base: string;
let token: string;
let failedId: string;

beforeAll(async () => {
  app = await startHttp(fleet.services, httpPlugins);
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  token = (await createApiToken(fleet.db, { admin: 'alice' })).token;
  await reconcileSchedules(fleet.services, schedulesOf(allJobs));
  // Something to look at: a scheduled run that worked, and a job that failed for good.
  const host = await fleet.startWorkers([mvRefresh]);
  try {
    const ran = await runScheduleNow(fleet.services.producer, 'mv-refresh', 'admin:alice');
    await waitFor(async () => (await fleet.services.producer.queue('mv-refresh').getJob(ran.id))?.isCompleted());
    const failed = await runJob(fleet, 'mv-refresh', { views: ['no_such_view'] });
    expect(failed.state).toBe('failed');
    failedId = failed.id;
    await waitFor(async () => (await fleet.db.query(`SELECT 1 FROM job_runs WHERE state = 'completed' AND enqueued_by LIKE 'schedule:%'`)).rowCount);
  } finally {
    await host.close(); // no worker from here on: a retried job stays waiting, for the assertion
  }
});
afterAll(async () => {
  await app?.close();
});

describe('admin web UI in Chromium', () => {
  it('refuses a wrong token, logs in, shows every queue, retries a failed job, shows the status page, logs out', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.context.newPage();

      // A wrong token is refused, on the login page, with no session cookie.
      await page.goto(`${base}/admin`);
      await page.waitForURL(/\/admin\/login\?next=%2Fadmin$/);
      await page.fill('#token', 'fleet_this-is-not-a-token');
      const refused = page.waitForResponse((r) => r.url().endsWith('/admin/login') && r.request().method() === 'POST');
      await page.click('button[type=submit]');
      expect((await refused).status()).toBe(401);
      await expect.poll(() => page.locator('[role=alert]').innerText()).toBe('Token not accepted');
      expect(await browser.context.cookies()).toEqual([]);
      await page.screenshot({ path: await artifactPath('login-refused.png') });

      // The right token: a session cookie the page's scripts cannot read, then the status page.
      await page.fill('#token', token);
      await page.click('button[type=submit]');
      await page.waitForURL(`${base}/admin`);
      const [cookie] = await browser.context.cookies();
      expect(cookie).toMatchObject({ name: 'fleet_session', httpOnly: true, sameSite: 'Strict', path: '/admin' });
      expect(await page.evaluate('document.cookie')).toBe('');

      // Status page: each schedule with next/last run and result; runbook metrics with levels.
      const mv = page.locator('#schedules tr[data-schedule="mv-refresh"]');
      await expect.poll(() => mv.innerText()).toMatch(/ok\s+mv-refresh\s+mv-refresh\s+\*\/10 \* \* \* \* UTC\s+\d{4}-.*\(in \d+ (s|min)\)\s+\d{4}-.*ago\)\s+completed in/);
      const logins = page.locator('#runbook tr[data-metric="fleet_admin_failed_logins_total"]');
      expect(await logins.innerText()).toMatch(/ok\s+Failed admin logins per hour\s+fleet_admin_failed_logins_total\s+1 \(counted over 1 min so far\)\s+> 10\s+> 25/);
      expect(await page.locator('#runbook tr').count()).toBe(10); // header + nine runbook rows
      expect(await page.locator('#runbook .lvl').allInnerTexts()).toEqual(expect.arrayContaining(['ok']));
      await page.screenshot({ path: await artifactPath('status.png'), fullPage: true });

      // bull-board: every queue of the fleet, and its schedulers.
      await page.click('text=Queues');
      await page.waitForURL(`${base}/admin/queues`);
      for (const job of allJobs) await page.locator(`main >> text=${job.name}`).first().waitFor();
      await page.screenshot({ path: await artifactPath('queues.png') });
      await page.goto(`${base}/admin/queues/job-schedulers`);
      await page.locator('text=*/10 * * * *').first().waitFor();
      await page.screenshot({ path: await artifactPath('schedulers.png') });

      // Open the failed job and retry it from its page.
      await page.goto(`${base}/admin/queues/queue/mv-refresh?status=failed`);
      await page.click(`a[href*="/queue/mv-refresh/${failedId}"]`);
      await page.waitForURL(new RegExp(`/admin/queues/queue/mv-refresh/${failedId}`));
      await page.locator('text=Unknown materialized view: no_such_view').first().waitFor();
      await page.screenshot({ path: await artifactPath('failed-job.png') });
      await page.locator('button:has(svg.lucide-refresh-cw)').first().click();
      await page.getByText('Are you sure that you want to retry this job?').waitFor();
      const retried = page.waitForResponse((r) => r.url().includes(`/admin/queues/api/queues/mv-refresh/${failedId}/retry`));
      await page.getByRole('button', { name: 'Confirm' }).click();
      expect((await retried).ok()).toBe(true);
      const job = fleet.services.producer.queue('mv-refresh');
      await waitFor(async () => (await (await job.getJob(failedId))?.getState()) === 'waiting', { what: 'the retried job to wait again' });
      await page.screenshot({ path: await artifactPath('job-retried.png') });

      // Log out: the session ends and the UI is closed again.
      await page.goto(`${base}/admin`);
      await page.click('header button:has-text("Log out")');
      await page.waitForURL(/\/admin\/login$/);
      await page.goto(`${base}/admin/queues`);
      await page.waitForURL(/\/admin\/login\?next=/);
      const { rows } = await fleet.db.query(`SELECT count(*)::int AS open FROM admin_tokens WHERE kind = 'session' AND revoked_at IS NULL`);
      expect(rows[0].open).toBe(0);
      await publishScreenshots(['login-refused.png', 'status.png', 'queues.png', 'schedulers.png', 'failed-job.png', 'job-retried.png']);
    } finally {
      await browser.close();
    }
  });
});
