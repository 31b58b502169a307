import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../src/config/config.ts';
import { BootherdError } from '../../../src/errors.ts';

function file(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'bh-config-'));
  const f = join(dir, 'bootherd.yaml');
  writeFileSync(f, text);
  return f;
}

describe('config', () => {
  it('the example config loads, with paths resolved from its folder', () => {
    const c = loadConfig('examples/bootherd.yaml', {});
    assert.equal(c.http.port, 8080);
    assert.match(c.store, /^sqlite:\/.*\/data\/bootherd\.db$/);
    assert.match(c.http.assets, /\/examples\/assets$/);
    assert.deepEqual(c.boot.unknown, { action: 'menu' });
  });
  it('defaults apply with no file at all', () => {
    const c = loadConfig(undefined, {});
    assert.equal(c.dhcp.mode, 'off');
    assert.deepEqual(c.boot.requiredFeatures, ['http']);
    assert.equal(c.boot.bootFiles.bios, 'undionly.kpxe');
  });
  it('a bad value names the file, line, column and field', () => {
    const f = file('http:\n  listen: 0.0.0.0\n  port: eighty\n');
    assert.throws(
      () => loadConfig(f, {}),
      (err: Error) => {
        assert.equal(err.message, `${f}:3:9: http.port: expected a whole number, got "eighty"`);
        return true;
      },
    );
  });
  it('an unknown field is an error, not silently ignored (typos)', () => {
    const f = file('http:\n  prot: 8080\n');
    assert.throws(() => loadConfig(f, {}), /:2:3: http: unknown field "prot"/);
  });
  it('a YAML syntax error names its line', () => {
    const f = file('http:\n  port: [1,\n');
    assert.throws(() => loadConfig(f, {}), new RegExp(`^YamlError: ${f.replace(/[.]/g, '\\.')}:\\d+:\\d+: `));
  });
  it('range, enum and URL checks', () => {
    assert.throws(() => loadConfig(file('http: { port: 70000 }\n'), {}), /http\.port: must be between 1 and 65535/);
    assert.throws(() => loadConfig(file('dhcp: { mode: maybe }\n'), {}), /dhcp\.mode: must be one of off, full, proxy/);
    assert.throws(
      () => loadConfig(file('http: { advertise: "http://x/y" }\n'), {}),
      /http\.advertise: must be a base URL/,
    );
    assert.throws(
      () => loadConfig(file('boot: { unknown: dance }\n'), {}),
      /boot\.unknown: must be menu, local, ignore/,
    );
  });
  it('environment overrides the file and flags override the environment', () => {
    const f = file('http:\n  port: 8080\n');
    assert.equal(loadConfig(f, { BOOTHERD_HTTP_PORT: '8081' }).http.port, 8081);
    assert.equal(loadConfig(f, { BOOTHERD_HTTP_PORT: '8081' }, ['http.port=8082']).http.port, 8082);
    assert.deepEqual(loadConfig(f, { BOOTHERD_TFTP_ROOTS: '/a,/b' }).tftp.roots, ['/a', '/b']);
    assert.deepEqual(loadConfig(f, {}, ['boot.unknown=profile:rescue']).boot.unknown, {
      action: 'profile',
      profile: 'rescue',
    });
  });
  it('a bad override names its source', () => {
    assert.throws(
      () => loadConfig(undefined, { BOOTHERD_HTTP_PORT: 'x' }),
      /^BootherdError: env BOOTHERD_HTTP_PORT: http\.port: expected a whole number/,
    );
    assert.throws(
      () => loadConfig(undefined, {}, ['http.nope=1']),
      (e: unknown) => e instanceof BootherdError && /--set http\.nope=1/.test(e.message),
    );
  });
  it('a missing file is a clear error', () => {
    assert.throws(
      () => loadConfig('/nonexistent/bootherd.yaml', {}),
      /cannot read config file \/nonexistent\/bootherd\.yaml/,
    );
  });
});
