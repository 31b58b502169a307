/**
 * The group commit both DHCP servers use: the changes of one event-loop turn in one commit, their replies released
 * only once it resolves, one commit at a time, and a failed commit failing every reply that waited for it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GroupCommit } from '../../../src/dhcp/group-commit.ts';

describe('GroupCommit', () => {
  test('one commit per turn; what comes during a commit waits for the next, together', {
    timeout: 10_000,
  }, async () => {
    const log: string[] = [];
    let finish: () => void = () => {};
    const gate = new Promise<void>((r) => {
      finish = r;
    });
    const g = new GroupCommit<number, string, number>({
      commit: async (changes) => {
        log.push(`commit ${changes.join(',')}`);
        if (changes[0] === 0) await gate;
        return changes.length;
      },
      release: (sends, n) => log.push(`release ${sends.join(',')} after ${n}`),
      fail: () => assert.fail('no commit fails here'),
    });
    for (let i = 0; i < 50; i++) g.add([i], `s${i}`);
    // A change with no reply (an expiry sweep) rides along.
    g.add([50]);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(log, [`commit ${Array.from({ length: 51 }, (_, i) => i).join(',')}`]);
    g.add([100], 'late1');
    g.add([101], 'late2');
    await new Promise((r) => setImmediate(r));
    assert.equal(log.length, 1, 'the second commit waits for the first');
    finish();
    await g.close();
    assert.deepEqual(log, [
      log[0],
      `release ${Array.from({ length: 50 }, (_, i) => `s${i}`).join(',')} after 51`,
      'commit 100,101',
      'release late1,late2 after 2',
    ]);
  });

  test('a failed commit releases nothing and fails each waiting reply', { timeout: 10_000 }, async () => {
    const failed: string[] = [];
    const g = new GroupCommit<number, string, void>({
      commit: async () => {
        throw new Error('disk full');
      },
      release: () => assert.fail('nothing is released'),
      fail: (sends, err) => failed.push(...sends.map((s) => `${s}: ${err.message}`)),
    });
    g.add([1], 'a');
    g.add([2], 'b');
    await g.close();
    assert.deepEqual(failed, ['a: disk full', 'b: disk full']);
  });
});
