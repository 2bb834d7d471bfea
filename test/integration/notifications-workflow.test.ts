// The notifications workflow on Temporal's time-skipping test server, with a stand-in for the
// delivery activity: routing through Alerts, deduplication, missing and suspended Providers,
// bounded retries, deliveries that never block the events signal, deletion, and
// continue-as-new carrying declarations, throttle, counters and unfinished deliveries.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import {
  notificationDeclarationSignal, notificationDeleteSignal, notificationEventsSignal, notificationsStatusQuery,
  type DeliverNotificationInput, type NotificationActivities, type NotificationsStatus,
} from '../../api/notifications.js';
import { parseDeclarations } from '../../core/declarations/parse.js';
import type { NotificationDeclaration } from '../../core/declarations/types.js';
import { newEvent, type FlotillaEvent } from '../../core/notifications/event.js';
import { bin } from '../../deploy/dev/binaries.js';
import { notificationsWorkflow } from '../../workflows/notifications.js';

const TASK_QUEUE = 'notifications-test';

function declarations(yaml: string): NotificationDeclaration[] {
  const parsed = parseDeclarations(yaml, 'test.yaml');
  assert.deepEqual(parsed.errors, []);
  return parsed.declarations.filter((d): d is NotificationDeclaration => d.kind === 'Provider' || d.kind === 'Alert' || d.kind === 'Receiver');
}

const provider = (name: string, extra = ''): string =>
  `apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Provider\nmetadata: {name: ${name}, namespace: flux-system}\nspec: {type: generic, address: "http://127.0.0.1:1/${name}"${extra}}\n---\n`;
const alert = (name: string, providerName: string, extra = ''): string =>
  `apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Alert\nmetadata: {name: ${name}, namespace: flux-system}\nspec: {providerRef: {name: ${providerName}}, eventSources: [{kind: Kustomization, name: "*"}]${extra}}\n---\n`;

let nowMs = Date.UTC(2024, 4, 1);
function event(message: string, severity: 'info' | 'error' = 'info', name = 'app'): FlotillaEvent {
  nowMs += 1000;
  return newEvent({
    object: { kind: 'Kustomization', namespace: 'flux-system', name, apiVersion: 'kustomize.toolkit.fluxcd.io/v1' },
    severity, reason: severity === 'error' ? 'ReconciliationFailed' : 'ReconciliationSucceeded', message, metadata: { revision: 'main@sha1:abc' }, nowMs,
  });
}

interface Call {
  readonly provider: string;
  readonly message: string;
  readonly attempt: number;
  readonly runId: string;
}

describe('notifications workflow', () => {
  const state: { env?: TestWorkflowEnvironment; worker?: Worker; running?: Promise<void> } = {};
  const calls: Call[] = [];
  /** Deliveries to 'slow' wait until released. */
  const slow = { released: false, waiting: [] as (() => void)[] };
  const releaseSlow = (): void => {
    slow.released = true;
    for (const resolve of slow.waiting.splice(0)) resolve();
  };

  const activities: NotificationActivities = {
    async deliverNotification({ provider: p, event: e }: DeliverNotificationInput) {
      const { attempt, workflowExecution } = Context.current().info;
      calls.push({ provider: p.name, message: e.message, attempt, runId: workflowExecution?.runId ?? '' });
      switch (p.name) {
        case 'ok': return { status: 200 };
        case 'flaky':
          if (attempt < 3) throw ApplicationFailure.retryable(`flaky answered 503 (attempt ${attempt})`, 'NotificationDeliveryFailed');
          return { status: 200 };
        case 'down': throw ApplicationFailure.retryable('Provider flux-system/down: http://127.0.0.1:1 answered 503', 'NotificationDeliveryFailed');
        case 'refuses': throw ApplicationFailure.nonRetryable('Provider flux-system/refuses: answered 400', 'NotificationRejected');
        case 'slow':
          if (!slow.released) await new Promise<void>((resolve) => { slow.waiting.push(resolve); });
          return { status: 200 };
        default: return { skipped: 'nothing to send' };
      }
    },
  };

  before(async () => {
    Runtime.install({ logger: new DefaultLogger('ERROR') }); // the deliberately failing activities would log every attempt
    const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: bin('temporalTestServer') } } });
    state.env = env;
    const worker = await Worker.create({
      connection: env.nativeConnection, taskQueue: TASK_QUEUE, activities,
      workflowsPath: fileURLToPath(new URL('../../workflows/notifications.js', import.meta.url)),
    });
    state.worker = worker;
    state.running = worker.run();
  }, { timeout: 120_000 });

  after(async () => {
    releaseSlow();
    state.worker?.shutdown();
    await state.running;
    await state.env?.teardown();
  }, { timeout: 60_000 });

  const env = (): TestWorkflowEnvironment => {
    if (!state.env) throw new Error('no test environment');
    return state.env;
  };

  async function start(id: string, decls: readonly NotificationDeclaration[], input: Parameters<typeof notificationsWorkflow>[0] = {}): Promise<void> {
    const [first, ...rest] = decls;
    if (!first) throw new Error('no declarations');
    const handle = await env().client.workflow.signalWithStart(notificationsWorkflow, {
      workflowId: id, taskQueue: TASK_QUEUE, args: [input], signal: notificationDeclarationSignal, signalArgs: [first],
    });
    for (const d of rest) await handle.signal(notificationDeclarationSignal, d);
  }

  async function status(id: string): Promise<NotificationsStatus> {
    return env().client.workflow.getHandle(id).query(notificationsStatusQuery);
  }

  /** Polls the status, letting (test) time pass between looks, until `done` holds. */
  async function until(id: string, what: string, done: (s: NotificationsStatus) => boolean, step = '2 seconds'): Promise<NotificationsStatus> {
    let last: NotificationsStatus | undefined;
    for (let i = 0; i < 300; i++) {
      last = await status(id);
      if (done(last)) return last;
      await env().sleep(step);
    }
    assert.fail(`${id}: ${what}; last status ${JSON.stringify(last, null, 1)}`);
  }

  const alertOf = (s: NotificationsStatus, name: string) => {
    const a = s.alerts.find((x) => x.declaration.name === name);
    assert.ok(a, `alert ${name} in the status`);
    return a;
  };

  it('routes events through Alerts, drops duplicates, and counts a missing or suspended Provider', async () => {
    const id = 'routing';
    await start(id, declarations(provider('ok') + provider('paused', ', suspend: true') + alert('all', 'ok') + alert('errors', 'ok', ', eventSeverity: error')
      + alert('orphan', 'missing') + alert('held', 'paused') + alert('quiet', 'ok', ', exclusionList: ["^noisy"]')));
    const handle = env().client.workflow.getHandle(id);
    const e1 = event('applied app');
    await handle.signal(notificationEventsSignal, [e1]);
    await handle.signal(notificationEventsSignal, [e1, event('noisy reconcile'), { not: 'an event' } as unknown as FlotillaEvent]);
    const s = await until(id, 'both distinct events sent', (x) => alertOf(x, 'all').sent === 2 && alertOf(x, 'all').matched === 3);
    assert.equal(alertOf(s, 'all').duplicates, 1, 'the same event again is a duplicate');
    // 'quiet' sends to the same Provider: one Provider gets one notification per event; 'noisy' is excluded.
    const quiet = alertOf(s, 'quiet');
    assert.deepEqual([quiet.matched, quiet.duplicates, quiet.sent], [2, 2, 0]);
    assert.equal(alertOf(s, 'errors').matched, 0, 'an info event does not reach an error-only Alert');
    assert.equal(alertOf(s, 'orphan').skipped, 3);
    assert.match(alertOf(s, 'orphan').lastSkipped ?? '', /Provider flux-system\/missing not found/);
    assert.equal(alertOf(s, 'held').skipped, 3);
    assert.match(alertOf(s, 'held').lastSkipped ?? '', /suspended/);
    assert.equal(s.eventsReceived, 3);
    assert.equal(s.invalidEvents, 1);
    assert.equal(s.providers.find((p) => p.declaration.name === 'ok')?.sent, 2, 'all: applied app, noisy reconcile');
  });

  it('retries a failing Provider a bounded number of times while other deliveries go on', async () => {
    const id = 'retries';
    await start(id, declarations(provider('ok') + provider('down') + provider('flaky') + provider('refuses')
      + alert('to-down', 'down') + alert('to-ok', 'ok') + alert('to-flaky', 'flaky') + alert('to-refuses', 'refuses')));
    const handle = env().client.workflow.getHandle(id);
    await handle.signal(notificationEventsSignal, [event('first')]);
    // The events signal returned at once; 'ok' got its notification while 'down' keeps failing.
    const during = await until(id, 'ok delivered', (x) => alertOf(x, 'to-ok').sent === 1, '1 second');
    assert.equal(alertOf(during, 'to-down').sent, 0);
    await handle.signal(notificationEventsSignal, [event('second')]);
    const later = await until(id, 'down gives up', (x) => alertOf(x, 'to-down').failed === 2 && alertOf(x, 'to-ok').sent === 2, '30 seconds');
    assert.match(alertOf(later, 'to-down').lastError ?? '', /answered 503/);
    assert.equal(calls.filter((c) => c.provider === 'down' && c.message === 'first').length, 10, 'at most 10 attempts');
    assert.equal(alertOf(later, 'to-flaky').sent, 2);
    assert.deepEqual(calls.filter((c) => c.provider === 'flaky' && c.message === 'first').map((c) => c.attempt), [1, 2, 3]);
    assert.equal(alertOf(later, 'to-refuses').failed, 2);
    assert.equal(calls.filter((c) => c.provider === 'refuses' && c.message === 'first').length, 1, 'a refused request is not retried');
    assert.equal(later.providers.find((p) => p.declaration.name === 'down')?.failed, 2);
  });

  it('deletes a declaration by id', async () => {
    const id = 'routing';
    await env().client.workflow.getHandle(id).signal(notificationDeleteSignal, 'alert/flux-system/orphan');
    const s = await until(id, 'orphan gone', (x) => !x.alerts.some((a) => a.declaration.name === 'orphan'));
    assert.ok(s.alerts.some((a) => a.declaration.name === 'all'));
  });

  it('continues as new with its declarations, throttle, counters and unfinished deliveries (sent again: at-least-once)', async () => {
    const id = 'long-lived';
    await start(id, declarations(provider('ok') + provider('slow') + alert('to-ok', 'ok') + alert('to-slow', 'slow', ', eventSeverity: error')), { historyLimit: 60 });
    const handle = env().client.workflow.getHandle(id);
    const firstRun = (await handle.describe()).runId;
    const repeated = event('the same every time');
    await handle.signal(notificationEventsSignal, [event('stuck', 'error')]);
    await until(id, 'slow delivery started', () => calls.some((c) => c.provider === 'slow'), '1 second');
    for (let i = 0; i < 15; i++) await handle.signal(notificationEventsSignal, [i === 0 ? repeated : event(`event ${i}`)]);
    let runId = firstRun;
    for (let i = 0; i < 100 && runId === firstRun; i++) {
      await env().sleep('5 seconds');
      runId = (await handle.describe()).runId;
    }
    assert.notEqual(runId, firstRun, 'continued as new');
    await handle.signal(notificationEventsSignal, [repeated]);
    // to-ok (severity info) also got 'stuck': 16 sends, and the repeated event is a duplicate in the new run.
    const s = await until(id, 'counters carried over', (x) => alertOf(x, 'to-ok').sent === 16 && alertOf(x, 'to-ok').duplicates === 1, '1 second');
    assert.equal(s.providers.length, 2, 'declarations carried over');
    assert.equal(s.eventsReceived, 17);
    // The slow delivery was in flight when the run ended: started again in the new run.
    await until(id, 'the slow delivery started again', () => calls.some((c) => c.provider === 'slow' && c.runId === runId), '1 second');
    releaseSlow();
    const done = await until(id, 'slow delivered', (x) => alertOf(x, 'to-slow').sent === 1);
    assert.ok(calls.some((c) => c.provider === 'slow' && c.runId === firstRun), 'started in the first run');
    assert.equal(done.inFlight, 0);
  });
});
