// Placement: Kubernetes label-selector semantics, and which registered clusters a
// Kustomization's spec.placement selects.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LabelSelector, LabelSelectorRequirement, Placement } from '../../core/declarations/types.js';
import { matchesSelector, placedClusters, unknownClusters, type PlacementCluster } from '../../core/placement.js';

const selector = (matchLabels: Record<string, string>, matchExpressions: LabelSelectorRequirement[] = []): LabelSelector =>
  ({ matchLabels, matchExpressions });
const expr = (key: string, operator: LabelSelectorRequirement['operator'], values: string[] = []): LabelSelectorRequirement =>
  ({ key, operator, values });

const clusters: PlacementCluster[] = [
  { name: 'prod-eu', labels: { env: 'prod', region: 'eu' } },
  { name: 'prod-us', labels: { env: 'prod', region: 'us', gpu: 'true' } },
  { name: 'staging', labels: { env: 'staging', region: 'eu' } },
  { name: 'lab', labels: {} },
];
const placement = (p: Partial<Placement>): Placement => ({ clusters: [], hub: false, ...p });

describe('matchesSelector', () => {
  const labels = { env: 'prod', region: 'eu' };

  it('matches everything with an empty selector', () => {
    assert.equal(matchesSelector(labels, selector({})), true);
    assert.equal(matchesSelector({}, selector({})), true);
  });

  it('needs every matchLabels entry', () => {
    assert.equal(matchesSelector(labels, selector({ env: 'prod' })), true);
    assert.equal(matchesSelector(labels, selector({ env: 'prod', region: 'eu' })), true);
    assert.equal(matchesSelector(labels, selector({ env: 'prod', region: 'us' })), false);
    assert.equal(matchesSelector(labels, selector({ tier: '' })), false, 'a missing label is not an empty one');
  });

  it('In / NotIn / Exists / DoesNotExist', () => {
    assert.equal(matchesSelector(labels, selector({}, [expr('region', 'In', ['eu', 'us'])])), true);
    assert.equal(matchesSelector(labels, selector({}, [expr('region', 'In', ['us'])])), false);
    assert.equal(matchesSelector(labels, selector({}, [expr('zone', 'In', ['a'])])), false, 'In needs the label');
    assert.equal(matchesSelector(labels, selector({}, [expr('region', 'NotIn', ['us'])])), true);
    assert.equal(matchesSelector(labels, selector({}, [expr('region', 'NotIn', ['eu'])])), false);
    assert.equal(matchesSelector(labels, selector({}, [expr('zone', 'NotIn', ['a'])])), true, 'NotIn matches a missing label');
    assert.equal(matchesSelector(labels, selector({}, [expr('env', 'Exists')])), true);
    assert.equal(matchesSelector(labels, selector({}, [expr('zone', 'Exists')])), false);
    assert.equal(matchesSelector(labels, selector({}, [expr('zone', 'DoesNotExist')])), true);
    assert.equal(matchesSelector(labels, selector({}, [expr('env', 'DoesNotExist')])), false);
  });

  it('ANDs matchLabels and every expression', () => {
    assert.equal(matchesSelector(labels, selector({ env: 'prod' }, [expr('region', 'In', ['eu']), expr('gpu', 'DoesNotExist')])), true);
    assert.equal(matchesSelector(labels, selector({ env: 'prod' }, [expr('region', 'In', ['eu']), expr('gpu', 'Exists')])), false);
    assert.equal(matchesSelector(labels, selector({ env: 'staging' }, [expr('region', 'In', ['eu'])])), false);
  });

  it('does not see inherited properties as labels', () => {
    assert.equal(matchesSelector({}, selector({}, [expr('toString', 'Exists')])), false);
    assert.equal(matchesSelector({}, selector({}, [expr('constructor', 'DoesNotExist')])), true);
  });
});

describe('placedClusters', () => {
  it('places every registered cluster when no names and no selector are given', () => {
    assert.deepEqual(placedClusters(placement({}), clusters), ['lab', 'prod-eu', 'prod-us', 'staging']);
  });

  it('places the named clusters, leaving out unregistered names (reported by unknownClusters)', () => {
    const p = placement({ clusters: ['staging', 'gone', 'lab'] });
    assert.deepEqual(placedClusters(p, clusters), ['lab', 'staging']);
    assert.deepEqual(unknownClusters(p, clusters), ['gone']);
    assert.deepEqual(unknownClusters(placement({}), clusters), []);
  });

  it('places the clusters that match the selector', () => {
    assert.deepEqual(placedClusters(placement({ clusterSelector: selector({ env: 'prod' }) }), clusters), ['prod-eu', 'prod-us']);
    assert.deepEqual(placedClusters(placement({ clusterSelector: selector({}, [expr('gpu', 'Exists')]) }), clusters), ['prod-us']);
    assert.deepEqual(placedClusters(placement({ clusterSelector: selector({ env: 'none' }) }), clusters), []);
  });

  it('places names OR selector matches', () => {
    const p = placement({ clusters: ['lab'], clusterSelector: selector({ region: 'eu' }, [expr('env', 'NotIn', ['staging'])]) });
    assert.deepEqual(placedClusters(p, clusters), ['lab', 'prod-eu']);
  });

  it('places nothing on clusters when the build is for the hub', () => {
    assert.deepEqual(placedClusters(placement({ hub: true }), clusters), []);
  });

  it('returns sorted names without duplicates', () => {
    const twice = [...clusters, { name: 'lab', labels: {} }].reverse();
    assert.deepEqual(placedClusters(placement({ clusters: ['lab', 'lab'] }), twice), ['lab']);
  });
});
