/**
 * Machines and the records around them through the REST API: paging and filters, validation errors that name the
 * field, conflicts, next actions, the preview (which must not consume a one-shot), writes the boot path sees at
 * once, discovered MACs, whole-document apply, leases, and no 500 for any bad input.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { type TestCore, testCore } from '../../lib/core.ts';
import { seededRandom } from '../../lib/random.ts';

const API = '/api/v1';

const inventory = `
profiles:
  - name: debian
    kernel: debian/linux
    initrds: [debian/initrd.gz]
  - name: rescue
    sanboot: iso/rescue.iso
  - name: disk
    local: true
groups:
  - name: web
    selectors: { role: web }
    profile: debian
machines:
  - id: web1
    macs: ["52:54:00:12:34:56"]
    hostname: web1.example
    labels: { role: web, rack: r1 }
    group: web
  - id: db1
    macs: ["52:54:00:12:34:57"]
    labels: { role: db }
    profile: rescue
`;

const ipxe = (mac: string) => `/ipxe?mac=${mac.replace(/:/g, '-')}&platform=efi&buildarch=x86_64`;
const isKernel = (script: string) => /^kernel /m.test(script);
const isSanboot = (script: string) => /^sanboot /m.test(script);
const isLocal = (script: string) => /^exit/m.test(script) && !isKernel(script) && !isSanboot(script);
const isMenu = (script: string) => /^choose /m.test(script);

interface Page {
  items: { id: string }[];
  next?: string;
  total: number;
}

describe('machines API', () => {
  let t: TestCore;
  let admin: string;
  before(async () => {
    t = await testCore(inventory);
    admin = (await t.tokens.create('admin', 'admin')).token;
  });
  after(() => t.close());

  const api = (method: InjectOptions['method'], url: string, payload?: unknown): Promise<LightMyRequestResponse> =>
    t.app.inject({
      method,
      url: `${API}${url}`,
      headers: { authorization: `Bearer ${admin}` },
      ...(payload === undefined ? {} : { payload: payload as InjectOptions['payload'] }),
    });
  const ids = (r: LightMyRequestResponse) => (r.json() as Page).items.map((m) => m.id);
  const expectError = (r: LightMyRequestResponse, status: number, error: string, field?: string) => {
    assert.equal(r.statusCode, status, r.body);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    const body = r.json() as { error: string; message: string; field?: string };
    assert.equal(body.error, error, r.body);
    assert.equal(typeof body.message, 'string');
    assert.ok(!body.message.includes('\n'), 'one line');
    if (field !== undefined) assert.equal(body.field, field, r.body);
  };

  it('PUT with If-Match or a version replaces only the version read (412 / 409 when stale); GET gives the ETag', async () => {
    const put = (body: Record<string, unknown>, ifMatch?: string) =>
      t.app.inject({
        method: 'PUT',
        url: `${API}/machines/locked`,
        headers: { authorization: `Bearer ${admin}`, ...(ifMatch === undefined ? {} : { 'if-match': ifMatch }) },
        payload: body,
      });
    const m = { id: 'locked', macs: ['52:54:00:00:88:01'], labels: {} };
    assert.equal((await put(m)).headers.etag, '"1"');
    assert.equal((await put({ ...m, labels: { a: '1' } }, '"1"')).headers.etag, '"2"');
    assert.equal((await put({ ...m, labels: { a: '2' } }, 'W/"2"')).statusCode, 200, 'a weak tag names the version');
    assert.equal((await put({ ...m, labels: { a: '3' } }, '*')).statusCode, 200, '* is any version');
    expectError(await put({ ...m, labels: { b: '1' } }, '"2"'), 412, 'PRECONDITION_FAILED', 'version');
    expectError(await put({ ...m, labels: { b: '1' } }, '"4", "5"'), 412, 'PRECONDITION_FAILED');
    expectError(await put({ ...m, labels: { b: '1' }, version: 3 }), 409, 'VERSION_CONFLICT', 'version');
    assert.equal((await api('PUT', '/machines/locked/next', { action: 'install' })).statusCode, 200);
    const g = await api('GET', '/machines/locked');
    assert.equal(g.headers.etag, '"5"', 'a next action is a write of the machine');
    assert.deepEqual((g.json() as { labels: unknown }).labels, { a: '3' });
    assert.equal((await put({ ...m, labels: { c: '1' }, version: 5 })).statusCode, 200);
  });

  it('a JSON body is taken as written: no number-to-string or value-to-list coercion (query strings still are)', async () => {
    expectError(await api('POST', '/machines', { id: 123, macs: ['52:54:00:00:77:01'] }), 400, 'VALIDATION', 'id');
    expectError(await api('POST', '/machines', { id: 'coerce', macs: '52:54:00:00:77:01' }), 400, 'VALIDATION', 'macs');
    assert.equal((await api('GET', '/machines/coerce')).statusCode, 404, 'nothing was created');
    assert.equal(ids(await api('GET', '/machines?limit=1')).length, 1, 'limit=1 in a query string is a number');
  });

  describe('create, read, list', () => {
    it('creates a machine, normalising its MAC and UUID, and reads it back', async () => {
      const r = await api('POST', '/machines', {
        id: 'node-a',
        macs: ['52-54-00-AA-00-01'],
        uuid: '{4C4C4544-0042-3510-8051-B7C04F4D3332}',
        labels: { role: 'worker' },
      });
      assert.equal(r.statusCode, 201, r.body);
      assert.deepEqual(r.json(), {
        id: 'node-a',
        macs: ['52:54:00:aa:00:01'],
        uuid: '4c4c4544-0042-3510-8051-b7c04f4d3332',
        labels: { role: 'worker' },
        version: 1,
      });
      const g = await api('GET', '/machines/node-a');
      assert.equal(g.statusCode, 200);
      assert.deepEqual(g.json(), r.json());
      assert.equal(g.headers.etag, '"1"');
      expectError(await api('GET', '/machines/nobody'), 404, 'MACHINE_NOT_FOUND');
    });

    it('pages with limit and the next cursor: every machine exactly once, in id order', async () => {
      for (let i = 0; i < 23; i++) {
        const r = await api('POST', '/machines', {
          id: `pg-${String(i).padStart(2, '0')}`,
          macs: [`52:54:00:bb:00:${i.toString(16).padStart(2, '0')}`],
          labels: { batch: i % 2 ? 'odd' : 'even' },
        });
        assert.equal(r.statusCode, 201, r.body);
      }
      const all = (await t.store.listMachines()).map((m) => m.id).sort();
      for (const limit of [1, 4, 5, 7, all.length, all.length + 1, 500]) {
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const r = await api(
            'GET',
            `/machines?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
          );
          assert.equal(r.statusCode, 200, r.body);
          const page = r.json() as Page;
          assert.ok(page.items.length <= limit);
          assert.equal(page.total, all.length);
          seen.push(...page.items.map((m) => m.id));
          cursor = page.next;
          assert.ok(++pages <= all.length + 2, 'paging ends');
        } while (cursor);
        assert.deepEqual(seen, all, `limit ${limit}`);
        assert.equal(pages, Math.ceil(all.length / limit), `limit ${limit}: no \`next\` that leads to an empty page`);
      }
      // Filtered pages, too.
      const odd: string[] = [];
      let cursor: string | undefined;
      do {
        const r = await api('GET', `/machines?limit=3&label=batch%3Dodd${cursor ? `&cursor=${cursor}` : ''}`);
        const page = r.json() as Page;
        odd.push(...page.items.map((m) => m.id));
        cursor = page.next;
      } while (cursor);
      assert.deepEqual(
        odd,
        all.filter((id) => /^pg-\d+$/.test(id) && Number(id.slice(3)) % 2 === 1),
      );
      expectError(await api('GET', '/machines?limit=0'), 400, 'VALIDATION', 'limit');
      expectError(await api('GET', '/machines?limit=501'), 400, 'VALIDATION', 'limit');
      expectError(await api('GET', '/machines?limit=abc'), 400, 'VALIDATION', 'limit');
      expectError(await api('GET', '/machines?bogus=1'), 400, 'VALIDATION', 'bogus');
    });

    it('filters by label, group, profile, seen and q', async () => {
      const boot = await t.app.inject(ipxe('52:54:00:12:34:56'));
      assert.equal(boot.statusCode, 200);
      await t.service.flush();
      assert.deepEqual(ids(await api('GET', '/machines?label=role%3Dweb')), ['web1']);
      assert.deepEqual(ids(await api('GET', '/machines?label=role%3Ddb')), ['db1']);
      assert.deepEqual(ids(await api('GET', '/machines?label=rack')), ['web1'], 'a bare key: has the label');
      assert.deepEqual(ids(await api('GET', '/machines?label=role%3D')), [], 'an empty value is a value');
      assert.deepEqual(ids(await api('GET', '/machines?label=constructor')), [], 'no inherited keys');
      assert.deepEqual(ids(await api('GET', '/machines?label=toString')), []);
      assert.deepEqual(ids(await api('GET', '/machines?group=web')), ['web1']);
      assert.deepEqual(ids(await api('GET', '/machines?profile=rescue')), ['db1']);
      assert.deepEqual(ids(await api('GET', '/machines?seen=1h')), ['web1']);
      const never = ids(await api('GET', '/machines?seen=never&limit=500'));
      assert.ok(never.includes('db1') && !never.includes('web1'), never.join());
      assert.deepEqual(ids(await api('GET', '/machines?q=WEB1.EX')), ['web1'], 'hostname, case-insensitive');
      assert.deepEqual(ids(await api('GET', '/machines?q=34:57')), ['db1'], 'MAC');
      assert.deepEqual(ids(await api('GET', '/machines?q=pg-1')).length, 10);
      assert.deepEqual(ids(await api('GET', '/machines?q=nothing-like-this')), []);
      assert.deepEqual(ids(await api('GET', '/machines?label=role%3Dweb&group=web&seen=24h&q=web')), ['web1']);
      assert.deepEqual(ids(await api('GET', '/machines?label=role%3Dweb&profile=rescue')), []);
      expectError(await api('GET', '/machines?seen=yesterday'), 400, 'VALIDATION', 'seen');
      // The list carries the newest boot event and the last-seen facts.
      const web1 = (await api('GET', '/machines?q=web1.example')).json().items[0];
      assert.equal(web1.lastEvent?.stage, 'http');
      assert.equal(web1.lastSeen?.platform, 'efi');
    });
  });

  describe('validation', () => {
    const base = { id: 'val-1', macs: ['52:54:00:cc:00:01'] };
    const cases: [string, Record<string, unknown>, string][] = [
      ['a bad MAC', { macs: ['not-a-mac'] }, 'macs/0'],
      ['a bad second MAC', { macs: ['52:54:00:cc:00:01', '52:54:00:cc:00'] }, 'macs/1'],
      ['a MAC listed twice', { macs: ['52:54:00:cc:00:01', '52-54-00-CC-00-01'] }, 'macs/1'],
      ['an all-zero UUID', { uuid: '00000000-0000-0000-0000-000000000000' }, 'uuid'],
      ['an all-F UUID', { uuid: 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF' }, 'uuid'],
      ['a UUID that is not one', { uuid: 'abc' }, 'uuid'],
      ['an unknown field', { colour: 'blue' }, 'colour'],
      ['an unknown nested field', { menu: { timeout: 3, colour: 'blue' } }, 'menu/colour'],
      ['a name with a space', { id: 'a b' }, 'id'],
      ['a name starting with a dash', { id: '-a' }, 'id'],
      ['an empty name', { id: '' }, 'id'],
      ['a name of 64 characters', { id: 'a'.repeat(64) }, 'id'],
      ['a profile that does not exist', { profile: 'ghost' }, 'profile'],
      ['a group that does not exist', { group: 'ghost' }, 'group'],
      [
        'a next action with an unknown profile',
        { nextAction: { action: 'install', profile: 'ghost' } },
        'nextAction/profile',
      ],
      ['a next action that is not one', { nextAction: { action: 'reboot' } }, 'nextAction/action'],
      ['a bad IP', { ip: '300.1.1.1' }, 'ip'],
      ['a menu timeout out of range', { menu: { timeout: 4000 } }, 'menu/timeout'],
      ['a label key with a space', { labels: { 'a b': 'x' } }, 'labels/a b'],
      ['a control character in a label', { labels: { role: 'a\nb' } }, 'labels/role'],
      ['a line break in the hostname', { hostname: 'a\nb' }, 'hostname'],
      ['a placeholder serial', { serial: 'To Be Filled By O.E.M.' }, 'serial'],
      ['no way to recognise it', { macs: [] }, 'macs'],
      ['no macs field', { macs: undefined }, 'macs'],
    ];
    for (const [what, change, field] of cases) {
      it(`${what} → 400 VALIDATION, field ${field}`, async () => {
        const body = { ...base, ...change };
        expectError(await api('POST', '/machines', body), 400, 'VALIDATION', field);
        expectError(
          await api('PUT', `/machines/${encodeURIComponent(String(body.id) || 'x')}`, body),
          400,
          'VALIDATION',
        );
        expectError(await api('GET', '/machines/val-1'), 404, 'MACHINE_NOT_FOUND');
      });
    }

    it('a body that is not JSON, or not an object, is a 400', async () => {
      const raw = (payload: string) =>
        t.app.inject({
          method: 'POST',
          url: `${API}/machines`,
          headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
          payload,
        });
      for (const p of ['{', '[]', '"x"', '42', 'null', '{"__proto__":{"id":"x"},"id":"p","macs":[]}']) {
        const r = await raw(p);
        assert.equal(r.statusCode, 400, `${p}: ${r.body}`);
        assert.ok(r.json().error, p);
      }
    });

    it('a duplicate create is a 409; a MAC of another machine is a 400 on macs/0', async () => {
      expectError(await api('POST', '/machines', { id: 'web1', macs: ['52:54:00:cc:00:09'] }), 409, 'CONFLICT');
      expectError(
        await api('POST', '/machines', { id: 'thief', macs: ['52-54-00-12-34-56'] }),
        400,
        'VALIDATION',
        'macs/0',
      );
      expectError(
        await api('PUT', '/machines/db1', { id: 'db1', macs: ['52:54:00:12:34:57', '52:54:00:12:34:56'] }),
        400,
        'VALIDATION',
        'macs/1',
      );
      assert.deepEqual((await t.store.getMachine('web1'))?.macs, ['52:54:00:12:34:56'], 'unchanged');
    });

    it('PUT: the body id must be the path id; PUT creates (201) then replaces (200), keeping last-seen', async () => {
      expectError(
        await api('PUT', '/machines/put-1', { id: 'put-2', macs: ['52:54:00:cc:01:01'] }),
        400,
        'VALIDATION',
        'id',
      );
      expectError(await api('GET', '/machines/put-1'), 404, 'MACHINE_NOT_FOUND');
      expectError(await api('GET', '/machines/put-2'), 404, 'MACHINE_NOT_FOUND');
      const created = await api('PUT', '/machines/put-1', { id: 'put-1', macs: ['52:54:00:cc:01:01'] });
      assert.equal(created.statusCode, 201, created.body);
      await t.app.inject(ipxe('52:54:00:cc:01:01'));
      await t.service.flush();
      const replaced = await api('PUT', '/machines/put-1', {
        id: 'put-1',
        macs: ['52:54:00:cc:01:01'],
        labels: { x: 'y' },
        lastSeen: { at: '2000-01-01T00:00:00.000Z', platform: 'forged' },
      });
      assert.equal(replaced.statusCode, 200, replaced.body);
      assert.deepEqual(replaced.json().labels, { x: 'y' });
      assert.equal(replaced.json().lastSeen?.platform, 'efi', "last-seen is the server's");
    });
  });

  describe('next action and preview', () => {
    before(async () => {
      const r = await api('POST', '/machines', { id: 'inst', macs: ['52:54:00:dd:00:01'], profile: 'disk' });
      assert.equal(r.statusCode, 201, r.body);
    });

    it('sets and clears the next action; an unknown profile is a 404, an unknown machine too', async () => {
      const set = await api('PUT', '/machines/inst/next', { action: 'profile', profile: 'rescue' });
      assert.equal(set.statusCode, 200, set.body);
      assert.deepEqual(set.json().nextAction, { action: 'profile', profile: 'rescue' });
      assert.ok(isSanboot((await t.app.inject(ipxe('52:54:00:dd:00:01'))).body));
      const cleared = await api('DELETE', '/machines/inst/next');
      assert.equal(cleared.statusCode, 200, cleared.body);
      assert.equal(cleared.json().nextAction, undefined);
      assert.ok(isLocal((await t.app.inject(ipxe('52:54:00:dd:00:01'))).body), 'back to its profile (disk)');
      expectError(
        await api('PUT', '/machines/inst/next', { action: 'install', profile: 'ghost' }),
        404,
        'PROFILE_NOT_FOUND',
      );
      expectError(
        await api('PUT', '/machines/inst/next', { action: 'profile', profile: 'ghost' }),
        404,
        'PROFILE_NOT_FOUND',
      );
      expectError(await api('PUT', '/machines/ghost/next', { action: 'local' }), 404, 'MACHINE_NOT_FOUND');
      expectError(await api('DELETE', '/machines/ghost/next'), 404, 'MACHINE_NOT_FOUND');
      expectError(await api('PUT', '/machines/inst/next', { action: 'profile' }), 400, 'VALIDATION');
      expectError(await api('PUT', '/machines/inst/next', { action: 'local', profile: 'disk' }), 400, 'VALIDATION');
      assert.equal((await t.store.getMachine('inst'))?.nextAction, undefined, 'refusals changed nothing');
    });

    it('preview shows the installer without consuming the one-shot; the real boot then gets it once', async () => {
      const set = await api('PUT', '/machines/inst/next', { action: 'install', profile: 'debian' });
      assert.equal(set.statusCode, 200, set.body);
      for (let i = 0; i < 3; i++) {
        const p = await api('GET', '/machines/inst/preview');
        assert.equal(p.statusCode, 200, p.body);
        const body = p.json() as { format: string; script: string; decision: { kind: string } };
        assert.equal(body.format, 'ipxe');
        assert.ok(isKernel(body.script), body.script);
        assert.ok(body.script.includes('/assets/debian/linux'));
        assert.equal(body.decision.kind, 'profile');
      }
      const pxe = await api('GET', '/machines/inst/preview?format=pxelinux');
      assert.equal(pxe.statusCode, 200, pxe.body);
      assert.equal(pxe.json().format, 'pxelinux');
      assert.match(pxe.json().script, /debian\/linux/);
      expectError(await api('GET', '/machines/inst/preview?format=grub'), 400, 'VALIDATION', 'format');
      expectError(await api('GET', '/machines/ghost/preview'), 404, 'MACHINE_NOT_FOUND');
      assert.deepEqual((await t.store.getMachine('inst'))?.nextAction, { action: 'install', profile: 'debian' });
      await t.service.flush();
      const before = (await api('GET', '/machines/inst/events')).json().items.length;

      const first = await t.app.inject(ipxe('52:54:00:dd:00:01'));
      assert.ok(isKernel(first.body), first.body);
      const second = await t.app.inject(ipxe('52:54:00:dd:00:01'));
      assert.ok(isLocal(second.body), second.body);
      assert.deepEqual((await api('GET', '/machines/inst')).json().nextAction, { action: 'local' });
      const after = await api('GET', '/machines/inst/preview');
      assert.ok(isLocal(after.json().script), 'the preview follows');
      await t.service.flush();
      const events = (await api('GET', '/machines/inst/events')).json().items as { decision: { kind: string } }[];
      assert.equal(events.length, before + 2, 'previews record no events; boots do');
      assert.deepEqual(
        events.slice(0, 2).map((e) => e.decision.kind),
        ['local', 'profile'],
        'newest first',
      );
    });
  });

  describe('deleting', () => {
    it('a profile in use (machine, group, next action) is a 409; an unused one goes', async () => {
      expectError(await api('DELETE', '/profiles/rescue'), 409, 'CONFLICT', undefined);
      expectError(await api('DELETE', '/profiles/debian'), 409, 'CONFLICT');
      assert.equal((await api('POST', '/profiles', { name: 'tmp', boot: { kind: 'local' } })).statusCode, 201);
      assert.equal((await api('PUT', '/machines/inst/next', { action: 'profile', profile: 'tmp' })).statusCode, 200);
      expectError(await api('DELETE', '/profiles/tmp'), 409, 'CONFLICT');
      assert.equal((await api('DELETE', '/machines/inst/next')).statusCode, 200);
      assert.equal((await api('DELETE', '/profiles/tmp')).statusCode, 204);
      expectError(await api('DELETE', '/profiles/tmp'), 404, 'PROFILE_NOT_FOUND');
      expectError(await api('GET', '/profiles/tmp'), 404, 'PROFILE_NOT_FOUND');
      expectError(await api('DELETE', '/groups/web'), 409, 'CONFLICT');
      assert.equal(
        (await api('POST', '/profiles', { name: 'pick', boot: { kind: 'menu', items: ['disk', 'pick'] } })).statusCode,
        201,
      );
      const inMenu = await api('DELETE', '/profiles/disk');
      expectError(inMenu, 409, 'CONFLICT');
      assert.match(inMenu.json().message, /the menu of profile "pick"/);
      assert.equal((await api('DELETE', '/profiles/pick')).statusCode, 204, 'a menu listing itself is no user');
      expectError(await api('DELETE', '/groups/ghost'), 404, 'GROUP_NOT_FOUND');
    });

    it('a machine: 204, then 404', async () => {
      assert.equal((await api('POST', '/machines', { id: 'gone', macs: ['52:54:00:dd:09:09'] })).statusCode, 201);
      assert.equal((await api('DELETE', '/machines/gone')).statusCode, 204);
      expectError(await api('DELETE', '/machines/gone'), 404, 'MACHINE_NOT_FOUND');
      expectError(await api('GET', '/machines/gone'), 404, 'MACHINE_NOT_FOUND');
    });
  });

  describe('the boot path follows API writes at once', () => {
    it('create, change profile, delete: each is what the next /ipxe serves', async () => {
      const mac = '52:54:00:ee:00:01';
      assert.ok(isMenu((await t.app.inject(ipxe(mac))).body), 'unknown: the menu');
      assert.equal((await api('POST', '/machines', { id: 'live', macs: [mac], profile: 'rescue' })).statusCode, 201);
      const a = await t.app.inject(ipxe(mac));
      assert.ok(isSanboot(a.body), a.body);
      assert.ok(a.body.includes('/assets/iso/rescue.iso'));
      assert.equal(
        (await api('PUT', '/machines/live', { id: 'live', macs: [mac], profile: 'debian' })).statusCode,
        200,
      );
      assert.ok(isKernel((await t.app.inject(ipxe(mac))).body));
      // A profile edit is seen too.
      const edited = await api('PUT', '/profiles/debian', {
        name: 'debian',
        boot: { kind: 'kernel', kernel: 'debian13/linux', initrds: ['debian13/initrd.gz'] },
      });
      assert.equal(edited.statusCode, 200, edited.body);
      assert.ok((await t.app.inject(ipxe(mac))).body.includes('/assets/debian13/linux'));
      // Joining a group by label: the group's profile applies.
      assert.equal(
        (await api('PUT', '/machines/live', { id: 'live', macs: [mac], labels: { role: 'web' } })).statusCode,
        200,
      );
      assert.ok(isKernel((await t.app.inject(ipxe(mac))).body));
      assert.equal((await api('DELETE', '/machines/live')).statusCode, 204);
      assert.ok(isMenu((await t.app.inject(ipxe(mac))).body), 'unknown again');
    });

    it('GET /discovered lists a MAC that booted but is in no record, until a record claims it', async () => {
      const mac = '52:54:00:ef:00:07';
      await t.app.inject(`${ipxe(mac)}&serial=SN-777`);
      await t.service.flush();
      const r = await api('GET', '/discovered');
      assert.equal(r.statusCode, 200);
      const items = r.json().items as {
        mac: string;
        firstSeen: string;
        lastSeen: string;
        facts: { serial?: string };
      }[];
      const d = items.find((x) => x.mac === mac);
      assert.ok(d, JSON.stringify(items));
      assert.equal(d.facts.serial, 'SN-777');
      assert.ok(Date.parse(d.firstSeen) <= Date.parse(d.lastSeen));
      assert.ok(!items.some((x) => x.mac === '52:54:00:12:34:56'), 'known machines are not listed');
      assert.equal((await api('POST', '/machines', { id: 'claimed', macs: [mac] })).statusCode, 201);
      const after = (await api('GET', '/discovered')).json().items as { mac: string }[];
      assert.ok(!after.some((x) => x.mac === mac));
      expectError(await api('GET', '/discovered?limit=0'), 400, 'VALIDATION', 'limit');
    });
  });

  describe('whole documents', () => {
    const doc = {
      profiles: [{ name: 'doc-p', boot: { kind: 'chain', url: 'http://example.com/x.ipxe' } }],
      groups: [{ name: 'doc-g', selectors: { role: 'doc' }, profile: 'doc-p' }],
      machines: [
        { id: 'doc-1', macs: ['52:54:00:f0:00:01'], labels: { role: 'doc' } },
        { id: 'doc-2', macs: ['52-54-00-F0-00-02'], profile: 'doc-p', nextAction: { action: 'install' } },
      ],
    };

    it('applies a document; the same document again is all unchanged, and re-arms no consumed one-shot', async () => {
      const first = await api('POST', '/inventory', doc);
      assert.equal(first.statusCode, 200, first.body);
      assert.deepEqual(first.json(), {
        created: ['profile/doc-p', 'group/doc-g', 'machine/doc-1', 'machine/doc-2'],
        updated: [],
        unchanged: [],
        deleted: [],
      });
      const unchanged = async (body: unknown) => {
        const r = await api('POST', '/inventory', body);
        assert.equal(r.statusCode, 200, r.body);
        const res = r.json() as Record<string, string[]>;
        assert.deepEqual([res.created, res.updated, res.deleted], [[], [], []], r.body);
        return res.unchanged ?? [];
      };
      assert.deepEqual((await unchanged(doc)).sort(), [
        'group/doc-g',
        'machine/doc-1',
        'machine/doc-2',
        'profile/doc-p',
      ]);
      // The export applies back onto the store as a no-op.
      const exported = await api('GET', '/inventory');
      assert.equal(exported.statusCode, 200);
      assert.equal(
        (await unchanged(exported.json())).length,
        Object.values(exported.json() as Record<string, unknown[]>).reduce((n, xs) => n + xs.length, 0),
      );
      // The boot path sees it; the one-shot is consumed, and applying the same document does not arm it again.
      const boot1 = (await t.app.inject(ipxe('52:54:00:f0:00:02'))).body;
      assert.ok(/^chain /m.test(boot1), `install without a profile: its own profile\n${boot1}`);
      assert.ok(isLocal((await t.app.inject(ipxe('52:54:00:f0:00:02'))).body), 'then the local disk');
      await unchanged(doc);
      assert.deepEqual((await t.store.getMachine('doc-2'))?.nextAction, { action: 'local' });
    });

    it('refuses a bad document as a whole, naming the field from the document root', async () => {
      const bad = (change: Record<string, unknown>, query = '') =>
        api('POST', `/inventory${query}`, { ...doc, ...change });
      const before = await t.store.export();
      expectError(await bad({ extra: [] }), 400, 'VALIDATION', 'extra');
      expectError(await bad({ machines: undefined }), 400, 'VALIDATION', 'machines');
      expectError(await api('POST', '/inventory?prune=perhaps', doc), 400, 'VALIDATION', 'prune');
      const cases: [string, Record<string, unknown>, string | undefined][] = [
        ['a bad MAC', { machines: [doc.machines[0], { id: 'x', macs: ['nope'] }] }, 'machines/1/macs/0'],
        [
          'a profile with an empty kernel',
          { profiles: [{ name: 'k', boot: { kind: 'kernel', kernel: ' ', initrds: [] } }] },
          'profiles/0/boot/kernel',
        ],
        [
          'a machine with a profile nobody defined',
          { machines: [{ id: 'x', macs: [], serial: 'S1', profile: 'ghost' }] },
          'machines/0/profile',
        ],
        [
          'a machine with a group nobody defined',
          { machines: [{ id: 'x', macs: [], serial: 'S1', group: 'ghost' }] },
          'machines/0/group',
        ],
        [
          'a next action with a profile nobody defined',
          { machines: [{ id: 'x', macs: [], serial: 'S1', nextAction: { action: 'install', profile: 'ghost' } }] },
          'machines/0/nextAction/profile',
        ],
        [
          'a group with a profile nobody defined',
          { groups: [{ name: 'g2', selectors: {}, profile: 'ghost' }] },
          'groups/0/profile',
        ],
        [
          'a menu of a profile nobody defined',
          { profiles: [{ name: 'm', boot: { kind: 'menu', items: ['m', 'ghost'] } }] },
          'profiles/0/boot/items/1',
        ],
        ['one profile twice', { profiles: [doc.profiles[0], doc.profiles[0]] }, 'profiles/1/name'],
        [
          'two machines with one MAC',
          {
            machines: [
              { id: 'x1', macs: ['52:54:00:f1:00:01'] },
              { id: 'x2', macs: ['52-54-00-F1-00-01'] },
            ],
          },
          'machines/1/macs/0',
        ],
        [
          'one machine twice',
          {
            machines: [
              { id: 'x4', macs: ['52:54:00:f1:00:04'] },
              { id: 'x4', macs: ['52:54:00:f1:00:05'] },
            ],
          },
          'machines/1/id',
        ],
        [
          'a MAC of a machine outside the document',
          { machines: [{ id: 'x3', macs: ['52:54:00:12:34:56'] }] },
          undefined,
        ],
      ];
      for (const [what, change, field] of cases) {
        const r = await bad(change);
        assert.equal(r.statusCode, 400, `${what}: ${r.statusCode} ${r.body}`);
        if (field) assert.equal(r.json().field, field, `${what}: ${r.body}`);
      }
      // Without prune a reference may point into the store; with prune it must be in the document.
      const partial = {
        profiles: [],
        groups: [],
        machines: [{ id: 'x5', macs: ['52:54:00:f1:00:06'], profile: 'rescue', group: 'web' }],
      };
      expectError(await api('POST', '/inventory?prune=true', partial), 400, 'VALIDATION', 'machines/0/profile');
      assert.deepEqual(await t.store.export(), before, 'nothing applied');
      const ok = await api('POST', '/inventory', partial);
      assert.equal(ok.statusCode, 200, ok.body);
      assert.deepEqual(ok.json().created, ['machine/x5']);
    });
  });

  describe('leases', () => {
    before(async () => {
      const exp = Date.now() + 3_600_000;
      await t.store.commitLeases([
        { ip: '192.0.2.10', mac: '52:54:00:12:34:56', hostname: 'web1', state: 'bound', expiresAt: exp },
        { ip: '192.0.2.11', mac: '52:54:00:77:00:01', state: 'offered', expiresAt: exp },
        { ip: '198.51.100.5', mac: '52:54:00:77:00:02', state: 'bound', expiresAt: exp },
      ]);
    });

    it('lists, filters by subnet and MAC, and names the owning machine', async () => {
      const all = await api('GET', '/leases');
      assert.equal(all.statusCode, 200, all.body);
      const items = all.json().items as { ip: string; mac: string; machineId?: string; expiresAt: string }[];
      assert.deepEqual(items.map((l) => l.ip).sort(), ['192.0.2.10', '192.0.2.11', '198.51.100.5']);
      assert.equal(items.find((l) => l.ip === '192.0.2.10')?.machineId, 'web1');
      assert.equal(items.find((l) => l.ip === '192.0.2.11')?.machineId, undefined);
      assert.ok(items.every((l) => !Number.isNaN(Date.parse(l.expiresAt))));
      const sub = (q: string) =>
        api('GET', `/leases?${q}`).then((r) => (r.json().items as { ip: string }[]).map((l) => l.ip).sort());
      assert.deepEqual(await sub('subnet=192.0.2.0%2F24'), ['192.0.2.10', '192.0.2.11']);
      assert.deepEqual(await sub('subnet=198.51.100.0%2F24'), ['198.51.100.5']);
      assert.deepEqual(await sub('subnet=0.0.0.0%2F0'), ['192.0.2.10', '192.0.2.11', '198.51.100.5']);
      assert.deepEqual(await sub('subnet=192.0.2.11%2F32'), ['192.0.2.11']);
      assert.deepEqual(await sub('mac=52-54-00-77-00-02'), ['198.51.100.5']);
      assert.deepEqual(await sub('mac=52:54:00:77:00:02&subnet=192.0.2.0%2F24'), []);
      expectError(await api('GET', '/leases?subnet=192.0.2.0'), 400, 'VALIDATION', 'subnet');
      expectError(await api('GET', '/leases?subnet=192.0.2.0%2F33'), 400, 'VALIDATION', 'subnet');
      expectError(await api('GET', '/leases?mac=zz'), 400, 'VALIDATION', 'mac');
    });

    it('releases a lease; an unknown one is a 404, a non-address a 400', async () => {
      assert.equal((await api('DELETE', '/leases/192.0.2.11')).statusCode, 204);
      const l = (await api('GET', '/leases?mac=52:54:00:77:00:01')).json().items[0];
      assert.equal(l.state, 'released');
      assert.ok(Date.parse(l.expiresAt) <= Date.now());
      expectError(await api('DELETE', '/leases/192.0.2.99'), 404, 'LEASE_NOT_FOUND');
      expectError(await api('DELETE', '/leases/not-an-ip'), 400, 'VALIDATION');
    });
  });
});

describe('never a 500 for bad input', () => {
  const SEED = Number(process.env.FUZZ_SEED ?? 20240611);
  const ROUNDS = 200;
  let t: TestCore;
  let admin: string;
  before(async () => {
    t = await testCore(inventory);
    admin = (await t.tokens.create('admin', 'admin')).token;
  });
  after(() => t.close());

  const valid: Record<string, { method: 'POST' | 'PUT' | 'DELETE' | 'GET'; url: string; body?: unknown }> = {
    createMachine: {
      method: 'POST',
      url: '/machines',
      body: {
        id: 'fz',
        macs: ['52:54:00:00:fe:01'],
        uuid: '4c4c4544-0042-3510-8051-b7c04f4d3332',
        serial: 'SN1',
        hostname: 'fz',
        ip: '192.0.2.44',
        labels: { role: 'web' },
        profile: 'debian',
        group: 'web',
        menu: { timeout: 5, default: 'debian' },
        variables: { a: 'b' },
        nextAction: { action: 'install', profile: 'debian' },
      },
    },
    putMachine: { method: 'PUT', url: '/machines/fz2', body: { id: 'fz2', macs: ['52:54:00:00:fe:02'] } },
    deleteMachine: { method: 'DELETE', url: '/machines/fz3' },
    putNext: { method: 'PUT', url: '/machines/web1/next', body: { action: 'profile', profile: 'rescue' } },
    deleteNext: { method: 'DELETE', url: '/machines/web1/next' },
    createProfile: {
      method: 'POST',
      url: '/profiles',
      body: {
        name: 'fp',
        description: 'd',
        boot: { kind: 'kernel', kernel: 'k', initrds: ['i'], cmdline: 'c' },
        variables: { a: 'b' },
        consume: 'on-callback',
        private: ['x/y'],
      },
    },
    putProfile: {
      method: 'PUT',
      url: '/profiles/fp2',
      body: { name: 'fp2', boot: { kind: 'menu', items: ['debian'] } },
    },
    deleteProfile: { method: 'DELETE', url: '/profiles/fp3' },
    createGroup: {
      method: 'POST',
      url: '/groups',
      body: { name: 'fg', selectors: { mac: '52:54:00:00:fe:09', role: 'x' }, profile: 'debian', menu: { timeout: 1 } },
    },
    putGroup: { method: 'PUT', url: '/groups/fg2', body: { name: 'fg2', selectors: {} } },
    deleteGroup: { method: 'DELETE', url: '/groups/fg3' },
    releaseLease: { method: 'DELETE', url: '/leases/192.0.2.200' },
    apply: {
      method: 'POST',
      url: '/inventory',
      body: {
        profiles: [{ name: 'ap', boot: { kind: 'template', template: '#!ipxe\nexit' } }],
        groups: [{ name: 'ag', selectors: { role: 'ap' }, profile: 'ap' }],
        machines: [{ id: 'am', macs: ['52:54:00:00:fe:0a'], profile: 'ap', group: 'ag' }],
      },
    },
    createToken: { method: 'POST', url: '/tokens', body: { name: 'fuzz', scope: 'read' } },
    deleteToken: { method: 'DELETE', url: '/tokens/0123456789abcdef' },
    // Reads take query strings.
    list: { method: 'GET', url: '/machines?limit=5&label=role%3Dweb&seen=1h&q=w' },
    events: { method: 'GET', url: '/events?limit=5&before=10&mac=52:54:00:12:34:56&stage=http' },
    machineEvents: { method: 'GET', url: '/machines/web1/events?limit=5&before=3' },
    preview: { method: 'GET', url: '/machines/web1/preview?format=pxelinux' },
    leases: { method: 'GET', url: '/leases?subnet=192.0.2.0%2F24&mac=52:54:00:12:34:56' },
    discovered: { method: 'GET', url: '/discovered?limit=3' },
  };

  it(`${ROUNDS} mutated bodies, paths and query strings per route, seed ${SEED}: every status < 500`, async () => {
    const rand = seededRandom(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const strings = [
      '',
      ' ',
      'a',
      '-',
      '..',
      '../../etc/passwd',
      '%00',
      '\u0000',
      'a\nb',
      '\r\n',
      '${x}',
      '{{x}}',
      '"',
      "'",
      '\\',
      '\u202e',
      '😀',
      'é',
      'x'.repeat(64),
      'x'.repeat(300),
      'y'.repeat(70_000),
      '52:54:00:12:34:56',
      '00000000-0000-0000-0000-000000000000',
      '0.0.0.0',
      '255.255.255.255/0',
      'constructor',
      '__proto__',
      'toString',
      'hasOwnProperty',
      'never',
      '1h',
      '99999d',
      'debian',
      'web',
      'install',
      'local',
      'true',
      '-1',
      '1e309',
      'NaN',
    ];
    const scalar = (): unknown =>
      pick<() => unknown>([
        () => pick(strings),
        () => pick([0, -1, 1.5, 2 ** 53, -(2 ** 31), 1e308, 3600, 3601]),
        () => pick([true, false, null]),
        () => [],
        () => ({}),
      ])();
    const randomValue = (depth = 0): unknown => {
      if (depth > 3 || rand() < 0.5) return scalar();
      if (rand() < 0.5) return Array.from({ length: Math.floor(rand() * 4) }, () => randomValue(depth + 1));
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(rand() * 4); i > 0; i--) o[pick(strings)] = randomValue(depth + 1);
      return o;
    };
    /** Change one spot of a JSON value: replace, remove, add a key, wrap, or recurse. */
    const mutate = (v: unknown, depth = 0): unknown => {
      const r = rand();
      if (depth > 5 || r < 0.15) return randomValue();
      if (Array.isArray(v)) {
        if (!v.length || r < 0.3) return [...v, randomValue()];
        const i = Math.floor(rand() * v.length);
        return v.map((x, j) => (j === i ? mutate(x, depth + 1) : x));
      }
      if (v && typeof v === 'object') {
        const o = { ...(v as Record<string, unknown>) };
        const keys = Object.keys(o);
        if (r < 0.25 && keys.length) delete o[pick(keys)];
        else if (r < 0.35) o[pick(strings)] = randomValue();
        else if (keys.length) {
          const k = pick(keys);
          o[k] = mutate(o[k], depth + 1);
        }
        return o;
      }
      return r < 0.6 ? randomValue() : [v];
    };
    const segment = () => encodeURIComponent(pick(strings).slice(0, 200));
    const query = () =>
      Array.from(
        { length: 1 + Math.floor(rand() * 3) },
        () =>
          `${pick(['limit', 'cursor', 'label', 'group', 'profile', 'seen', 'q', 'before', 'mac', 'stage', 'subnet', 'format', 'prune', 'x', 'limit[]', '__proto__'])}=${segment()}`,
      ).join('&');

    const failures: string[] = [];
    const statuses = new Map<number, number>();
    for (const [name, v] of Object.entries(valid)) {
      for (let i = 0; i < ROUNDS; i++) {
        let url = v.url;
        let payload: unknown = v.body;
        let raw: string | undefined;
        const r = rand();
        if (v.method === 'GET' || r < 0.15) {
          // A mutated query string (or path segment).
          const [path, q] = url.split('?') as [string, string | undefined];
          url =
            rand() < 0.7
              ? `${path}?${rand() < 0.5 && q ? `${q}&` : ''}${query()}`
              : path.replace(/\/[^/]+$/, `/${segment() || 'x'}`);
        } else if (r < 0.25) {
          raw = pick([
            '{',
            '[',
            '"x"',
            '1',
            'null',
            '[]',
            '{"a":',
            '\u0000',
            '{"__proto__":{}}',
            '{"constructor":{"prototype":{}}}',
          ]);
        } else if (payload !== undefined) payload = mutate(payload);
        else payload = randomValue();
        const res = await t.app.inject({
          method: v.method,
          url: `${API}${url}`,
          headers: {
            authorization: `Bearer ${admin}`,
            ...(raw !== undefined ? { 'content-type': 'application/json' } : {}),
          },
          ...(raw !== undefined
            ? { payload: raw }
            : payload !== undefined && v.method !== 'GET' && v.method !== 'DELETE'
              ? { payload: payload as InjectOptions['payload'] }
              : {}),
        });
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        if (res.statusCode >= 500)
          failures.push(
            `${name} #${i}: ${v.method} ${url} ${raw ?? JSON.stringify(payload)?.slice(0, 300)} → ${res.statusCode} ${res.body}`,
          );
        else if (res.statusCode >= 400) {
          const body = res.json() as { error?: string; message?: string };
          if (typeof body.error !== 'string' || typeof body.message !== 'string')
            failures.push(`${name} #${i}: ${res.statusCode} without {error, message}: ${res.body}`);
        }
      }
    }
    assert.deepEqual(failures.slice(0, 10), [], `${failures.length} failures`);
    if (process.env.FUZZ_VERBOSE) console.log(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)));
    assert.ok((statuses.get(400) ?? 0) > ROUNDS, 'mostly refused');
    assert.ok(
      [200, 201, 204].some((s) => statuses.has(s)),
      'some mutations are still valid',
    );
    // Still serving, and the admin token still works.
    assert.equal(
      (await t.app.inject({ url: `${API}/whoami`, headers: { authorization: `Bearer ${admin}` } })).statusCode,
      200,
    );
  });
});
