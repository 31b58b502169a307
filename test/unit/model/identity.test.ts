import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeHostname, normalizeMac, normalizeSerial, normalizeUuid } from '../../../src/model/identity.ts';

describe('identity', () => {
  it('normalises MACs in every common spelling', () => {
    for (const v of ['52:54:00:AB:CD:EF', '52-54-00-ab-cd-ef', '525400abcdef', ' 52:54:00:ab:cd:ef ']) {
      assert.equal(normalizeMac(v), '52:54:00:ab:cd:ef');
    }
    for (const v of ['52:54:00:ab:cd', '52:54:00:ab:cd:eg', '', 'x'.repeat(12)])
      assert.equal(normalizeMac(v), undefined);
  });
  it('keeps real UUIDs and drops placeholders', () => {
    assert.equal(normalizeUuid('12345678-9ABC-DEF0-1122-334455667788'), '12345678-9abc-def0-1122-334455667788');
    assert.equal(normalizeUuid('{12345678-9abc-def0-1122-334455667788}'), '12345678-9abc-def0-1122-334455667788');
    for (const p of [
      '00000000-0000-0000-0000-000000000000',
      'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',
      '03000200-0400-0500-0006-000700080009',
      'nope',
    ]) {
      assert.equal(normalizeUuid(p), undefined, p);
    }
  });
  it('drops OEM placeholder serials and keeps real ones', () => {
    for (const p of [
      'To Be Set By OEM',
      'Default string',
      'none',
      'System Serial Number',
      '0000000',
      'FFFFFFFF',
      '  ',
    ]) {
      assert.equal(normalizeSerial(p), undefined, p);
    }
    assert.equal(normalizeSerial('CZ1234567X'), 'CZ1234567X');
  });
  it('drops empty and placeholder hostnames', () => {
    assert.equal(normalizeHostname('Web1'), 'web1');
    assert.equal(normalizeHostname('localhost'), undefined);
    assert.equal(normalizeHostname(''), undefined);
  });
});
