import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AttemptLimiter } from '../../../src/core/attempts.ts';

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

describe('AttemptLimiter', () => {
  it('blocks a key after max failures within the window, and not others', () => {
    const c = clock();
    const limiter = new AttemptLimiter({ max: 3, windowMs: 60_000, now: c.now });
    for (let i = 0; i < 3; i++) {
      assert.equal(limiter.blocked('10.0.0.1'), false);
      limiter.fail('10.0.0.1');
    }
    assert.equal(limiter.blocked('10.0.0.1'), true);
    assert.equal(limiter.blocked('10.0.0.2'), false);
  });

  it('defaults to 10 failures per minute', () => {
    const c = clock();
    const limiter = new AttemptLimiter({ now: c.now });
    for (let i = 0; i < 9; i++) limiter.fail('ip');
    assert.equal(limiter.blocked('ip'), false);
    limiter.fail('ip');
    assert.equal(limiter.blocked('ip'), true);
    c.t += 59_999;
    assert.equal(limiter.blocked('ip'), true);
    c.t += 1;
    assert.equal(limiter.blocked('ip'), false);
  });

  it('forgets failures when the window ends', () => {
    const c = clock();
    const limiter = new AttemptLimiter({ max: 2, windowMs: 1000, now: c.now });
    limiter.fail('k');
    c.t += 1000;
    limiter.fail('k');
    assert.equal(limiter.blocked('k'), false, 'the first failure expired');
    limiter.fail('k');
    assert.equal(limiter.blocked('k'), true);
  });

  it('tells how long until the key may retry', () => {
    const c = clock();
    const limiter = new AttemptLimiter({ max: 1, windowMs: 60_000, now: c.now });
    assert.equal(limiter.retryAfterMs('k'), 0);
    limiter.fail('k');
    c.t += 15_000;
    assert.equal(limiter.retryAfterMs('k'), 45_000);
  });

  it('a success clears the key', () => {
    const c = clock();
    const limiter = new AttemptLimiter({ max: 2, now: c.now });
    limiter.fail('k');
    limiter.succeed('k');
    limiter.fail('k');
    assert.equal(limiter.blocked('k'), false);
    assert.equal(limiter.size, 1);
  });

  it('bounds memory by evicting the oldest keys', () => {
    const c = clock();
    const limiter = new AttemptLimiter({ max: 1, windowMs: 60_000, maxKeys: 100, now: c.now });
    for (let i = 0; i < 1000; i++) {
      limiter.fail(`ip${i}`);
      c.t += 1;
    }
    assert.equal(limiter.size, 100);
    assert.equal(limiter.blocked('ip0'), false, 'evicted');
    assert.equal(limiter.blocked('ip999'), true);
    assert.equal(limiter.blocked('ip900'), true);
  });

  it('drops expired entries', () => {
    const c = clock();
    const limiter = new AttemptLimiter({ windowMs: 1000, now: c.now });
    for (let i = 0; i < 50; i++) limiter.fail(`ip${i}`);
    c.t += 1000;
    limiter.fail('late');
    assert.equal(limiter.size, 1);
  });

  it('a repeated failure does not reorder or extend the window', () => {
    const c = clock();
    const limiter = new AttemptLimiter({ max: 5, windowMs: 1000, maxKeys: 2, now: c.now });
    limiter.fail('a');
    c.t += 10;
    limiter.fail('b');
    limiter.fail('a');
    limiter.fail('c');
    assert.equal(limiter.size, 2);
    assert.equal(limiter.retryAfterMs('b'), 0);
    for (let i = 0; i < 5; i++) limiter.fail('b');
    assert.equal(limiter.blocked('b'), true);
    c.t += 990;
    assert.equal(limiter.blocked('b'), true);
    c.t += 10;
    assert.equal(limiter.blocked('b'), false);
  });

  it('rejects nonsense limits', () => {
    assert.throws(() => new AttemptLimiter({ max: 0 }), RangeError);
    assert.throws(() => new AttemptLimiter({ windowMs: 0 }), RangeError);
  });
});
