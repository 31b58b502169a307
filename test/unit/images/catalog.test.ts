/** Image names (they become folders, profile names and URL parts) and the progress lines. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BootherdError } from '../../../src/errors.ts';
import { checkImageName, defaultImageName } from '../../../src/images/catalog.ts';
import { Progress, progressLine } from '../../../src/images/progress.ts';

describe('image names', () => {
  it('accepts safe path components', () => {
    for (const n of ['debian-12', 'alpine_3.20', 'A1', 'x'.repeat(63)]) assert.equal(checkImageName(n), n);
  });

  it('refuses traversal, separators, hidden names, spaces, control characters and over-long names', () => {
    for (const n of ['', '.', '..', '../etc', 'a/b', 'a\\b', '.hidden', '-x', 'a b', 'a\nb', 'x'.repeat(64), 'é']) {
      assert.throws(
        () => checkImageName(n),
        (e: unknown) => e instanceof BootherdError && e.code === 'VALIDATION',
        JSON.stringify(n),
      );
    }
  });

  it('default names come from the file name, made safe', () => {
    assert.equal(defaultImageName('/srv/iso/debian-12.8.0-amd64-netinst.iso'), 'debian-12.8.0-amd64-netinst');
    assert.equal(defaultImageName('My Image (v2).ISO'), 'My-Image-v2-');
    assert.equal(defaultImageName('../../..iso'), 'image');
    assert.equal(checkImageName(defaultImageName(`${'a'.repeat(100)}.iso`)).length, 63);
  });
});

describe('progress', () => {
  it('a line with bytes, rate and time left', () => {
    assert.equal(progressLine(50e6, 200e6, 2000, false), ' 25%  50.0/200.0 MB  25.0 MB/s  ETA 0:06');
    assert.equal(
      progressLine(100e6, 200e6, 1000, true),
      '[############............]  50%  100.0/200.0 MB  100.0 MB/s  ETA 0:01',
    );
    assert.equal(progressLine(0, 200e6, 0, false), '  0%  0.0/200.0 MB  0.0 MB/s  ETA -:--');
  });

  it('plain output: one line per 10 % step (and at the end), not per chunk', () => {
    const lines: string[] = [];
    let t = 0;
    const p = new Progress({ isTTY: false, write: (s) => lines.push(s) }, () => t);
    for (let done = 1e6; done <= 100e6; done += 1e6) {
      t += 10;
      p.update(done, 100e6);
    }
    assert.deepEqual(
      lines.map((l) => l.trim().split(/\s+/)[0]),
      ['1%', '10%', '20%', '30%', '40%', '50%', '60%', '70%', '80%', '90%', '100%'],
    );
  });

  it('on a terminal: one line redrawn with \\r, ended by a newline', () => {
    let text = '';
    let t = 0;
    const p = new Progress({ isTTY: true, write: (s) => (text += s) }, () => t);
    for (let done = 10e6; done <= 100e6; done += 10e6) {
      t += 200;
      p.update(done, 100e6);
    }
    p.finish();
    assert.equal(text.split('\n').length, 2);
    assert.equal(text.split('\r').length - 1, 10);
    assert.match(text, /\[#{24}\] 100%/);
  });
});
