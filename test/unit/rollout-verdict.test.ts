// The rollout's wave verdicts (core/rollout-verdict.ts), rule by rule as tables: maxFailures
// after a batch and during the bake, health reports of this and other waves, analysis checks
// (when due, failureLimit), the end of the bake, and what follows a failed wave. The reason
// texts are checked word for word: the status, the events and recorded histories carry them.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  acceptedByResumeMessage, afterFailurePause, afterWaveFailure, analysisCheckDue, analysisFailedMessage, analysisVerdict, bakeHealthVerdict,
  bakeVerdict, failuresVerdict, needsBake, waveHasNothingToDo,
  type BakeHealthReport, type BakeState, type FailedCluster, type FailurePauseEnd, type WaveVerdict,
} from '../../core/rollout-verdict.js';

const failed = (...names: string[]): FailedCluster[] => names.map((c) => ({ cluster: c, message: `${c} not ready` }));

describe('rollout verdicts', () => {
  it('a wave has nothing to do only when every cluster runs the target (an empty wave included)', () => {
    const cases: [string[], string[], boolean][] = [
      [['a', 'b'], ['a', 'b', 'c'], true],
      [['a', 'b'], ['a'], false],
      [['a'], [], false],
      [[], [], true],
    ];
    for (const [clusters, atTarget, want] of cases) {
      assert.equal(waveHasNothingToDo(clusters, new Set(atTarget)), want, `${clusters.join(',')} at ${atTarget.join(',')}`);
    }
  });

  it('after a batch: the wave fails when more clusters failed than maxFailures', () => {
    const cases: [FailedCluster[], number, 'batch' | 'bake', WaveVerdict][] = [
      [[], 0, 'batch', { kind: 'continue' }],
      [failed('a'), 1, 'batch', { kind: 'continue' }],
      [failed('a'), 0, 'batch', { kind: 'failed', reason: '1 cluster failed (maxFailures 0): a: a not ready' }],
      [failed('a', 'b'), 1, 'batch', { kind: 'failed', reason: '2 clusters failed (maxFailures 1): a: a not ready; b: b not ready' }],
      [failed('b', 'a'), 1, 'batch', { kind: 'failed', reason: '2 clusters failed (maxFailures 1): b: b not ready; a: a not ready' }],
      [failed('a', 'b'), 2, 'bake', { kind: 'continue' }],
      [failed('a'), 0, 'bake', { kind: 'failed', reason: 'during bake: 1 cluster failed (maxFailures 0): a: a not ready' }],
    ];
    for (const [f, maxFailures, when, want] of cases) {
      assert.deepEqual(failuresVerdict(f, maxFailures, when), want, `${f.length} failed, maxFailures ${maxFailures}, ${when}`);
    }
  });

  it('during the bake: another wave\'s cluster fails the wave, this wave\'s counts, others are ignored', () => {
    const report = (patch: Partial<BakeHealthReport>): BakeHealthReport => ({
      cluster: 'c1', ok: false, message: 'pod crashlooping', clusterWave: 'prod', atTarget: true, ...patch,
    });
    const cases: [string, BakeHealthReport, ReturnType<typeof bakeHealthVerdict>][] = [
      ['this wave, unhealthy', report({}), { kind: 'counts' }],
      ['an earlier wave, unhealthy', report({ cluster: 'canary-1', clusterWave: 'canary' }), {
        kind: 'failed', reason: 'canary-1 (wave canary) turned unhealthy during the bake of wave prod: pod crashlooping',
      }],
      ['a healthy report', report({ ok: true }), { kind: 'ignore' }],
      ['a healthy report of another wave', report({ ok: true, clusterWave: 'canary' }), { kind: 'ignore' }],
      ['a cluster not at the target', report({ atTarget: false }), { kind: 'ignore' }],
      ['another wave\'s cluster not at the target', report({ atTarget: false, clusterWave: 'canary' }), { kind: 'ignore' }],
      ['a cluster this rollout does not place', report({ clusterWave: undefined }), { kind: 'ignore' }],
    ];
    for (const [name, r, want] of cases) assert.deepEqual(bakeHealthVerdict(r, 'prod'), want, name);
  });

  it('a wave bakes when it changed a cluster and has a bake time or an analysis', () => {
    const cases: [number, number, boolean, boolean][] = [
      [0, 60, true, false],
      [2, 0, false, false],
      [2, 60, false, true],
      [2, 0, true, true],
      [1, 60, true, true],
    ];
    for (const [changed, bakeSeconds, hasAnalysis, want] of cases) {
      assert.equal(needsBake(changed, bakeSeconds, hasAnalysis), want, `${changed} changed, ${bakeSeconds}s, analysis ${hasAnalysis}`);
    }
  });

  it('an analysis check is due when its interval is up, and once at the end of a bake shorter than the interval', () => {
    const s = (patch: Partial<BakeState>): BakeState => ({ hasAnalysis: true, bakeOver: false, checkDue: false, checks: 0, ...patch });
    const cases: [string, BakeState, boolean][] = [
      ['interval up', s({ checkDue: true }), true],
      ['interval up after checks', s({ checkDue: true, checks: 3 }), true],
      ['nothing fired', s({}), false],
      ['bake over, no check ran', s({ bakeOver: true }), true],
      ['bake over, a check ran', s({ bakeOver: true, checks: 1 }), false],
      ['no analysis', s({ hasAnalysis: false, checkDue: true, bakeOver: true }), false],
    ];
    for (const [name, state, want] of cases) assert.equal(analysisCheckDue(state), want, name);
  });

  it('analysis: more failed checks than failureLimit fail the wave', () => {
    const check = { message: 'error rate 7%', failureLimit: 1 };
    const cases: [boolean, number, number, WaveVerdict][] = [
      [true, 1, 0, { kind: 'continue' }],
      [false, 1, 1, { kind: 'continue' }],
      [true, 3, 2, { kind: 'continue' }],
      [false, 2, 2, { kind: 'failed', reason: 'analysis failed 2 times (failureLimit 1): error rate 7%' }],
    ];
    for (const [ok, checks, failures, want] of cases) {
      assert.deepEqual(analysisVerdict({ ...check, ok, checks, failures }), want, `ok ${ok}, ${failures}/${checks}`);
    }
    assert.deepEqual(analysisVerdict({ ok: false, message: 'down', checks: 1, failures: 1, failureLimit: 0 }),
      { kind: 'failed', reason: 'analysis failed 1 time (failureLimit 0): down' });
    assert.equal(analysisFailedMessage({ ok: false, message: 'down', checks: 3, failures: 1, failureLimit: 2 }, 'prod'),
      'analysis check 3 of wave prod failed (1/2 tolerated): down');
  });

  it('the bake ends well when its timer is over and (no analysis, or a check ran)', () => {
    const s = (patch: Partial<BakeState>): BakeState => ({ hasAnalysis: false, bakeOver: false, checkDue: false, checks: 0, ...patch });
    const cases: [string, BakeState, WaveVerdict['kind']][] = [
      ['bake running', s({}), 'continue'],
      ['bake over, no analysis', s({ bakeOver: true }), 'ok'],
      ['bake over, analysis not yet checked', s({ bakeOver: true, hasAnalysis: true }), 'continue'],
      ['bake over, analysis checked', s({ bakeOver: true, hasAnalysis: true, checks: 1 }), 'ok'],
      ['bake running, analysis checked', s({ hasAnalysis: true, checks: 2 }), 'continue'],
    ];
    for (const [name, state, want] of cases) assert.equal(bakeVerdict(state).kind, want, name);
  });

  it('after a failed wave: rollback or pause, then interrupted > retry > resume > superseded', () => {
    assert.equal(afterWaveFailure('rollback'), 'rollback');
    assert.equal(afterWaveFailure('pause'), 'pause');
    const end = (patch: Partial<FailurePauseEnd>): FailurePauseEnd => ({ interrupted: false, retryRequested: false, resumed: false, ...patch });
    const cases: [FailurePauseEnd, ReturnType<typeof afterFailurePause>][] = [
      [end({ interrupted: true, retryRequested: true, resumed: true }), 'interrupted'],
      [end({ retryRequested: true, resumed: true }), 'retry'],
      [end({ retryRequested: true }), 'retry'],
      [end({ resumed: true }), 'resume'],
      [end({}), 'superseded'],
    ];
    for (const [e, want] of cases) assert.equal(afterFailurePause(e), want, JSON.stringify(e));
    assert.equal(acceptedByResumeMessage('1 cluster failed (maxFailures 0): a: down'), 'failed (1 cluster failed (maxFailures 0): a: down); accepted by resume');
  });
});
