/**
 * Redfish (DMTF DSP0266) over HTTPS with Basic authentication: `ComputerSystem.Reset` for power, and the
 * ComputerSystem's `Boot` object for a one-time network boot. Every request has a deadline (an AbortSignal); the
 * BMC's certificate is verified unless the machine's record says `insecure: true`.
 */
import { request } from 'node:https';
import { BootherdError } from '../errors.ts';
import type { RedfishPower } from '../model/types.ts';
import { BMC_TIMEOUT_MS, type PowerDriver, type PowerState } from './types.ts';

export interface RedfishOptions {
  password: string;
  timeoutMs?: number;
}

interface Reply {
  status: number;
  json: Record<string, unknown>;
}

const TLS_ERRORS = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|HOSTNAME/;

export function redfishDriver(spec: RedfishPower, o: RedfishOptions): PowerDriver {
  const timeoutMs = o.timeoutMs ?? BMC_TIMEOUT_MS;
  const auth = `Basic ${Buffer.from(`${spec.user}:${o.password}`).toString('base64')}`;
  const call = (method: string, path: string, body?: unknown): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const url = new URL(path, `${spec.url}/`);
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = request(
        url,
        {
          method,
          headers: {
            authorization: auth,
            accept: 'application/json',
            'odata-version': '4.0',
            ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
          },
          rejectUnauthorized: spec.insecure !== true,
          signal: AbortSignal.timeout(timeoutMs),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size <= 1 << 20) chunks.push(c);
          });
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            let json: Record<string, unknown> = {};
            try {
              const text = Buffer.concat(chunks).toString('utf8');
              if (text) json = JSON.parse(text) as Record<string, unknown>;
            } catch {
              // A body that is not JSON is judged by the status alone.
            }
            resolve({ status, json });
          });
          res.on('error', reject);
        },
      );
      req.once('error', (err: NodeJS.ErrnoException) => reject(transportError(spec.url, err)));
      req.end(payload);
    });
  const checked = async (method: string, path: string, body?: unknown): Promise<Reply> => {
    const r = await call(method, path, body);
    if (r.status === 401 || r.status === 403)
      throw new BootherdError('POWER_AUTH', `Redfish ${spec.url}: the BMC refused the user name or password`);
    if (r.status >= 400)
      throw new BootherdError('POWER_FAILED', `Redfish ${method} ${path}: HTTP ${r.status}${extendedInfo(r.json)}`);
    return r;
  };
  let systemPath: string | undefined;
  const system = async (): Promise<string> => {
    if (systemPath) return systemPath;
    if (spec.system) systemPath = `/redfish/v1/Systems/${encodeURIComponent(spec.system)}`;
    else {
      const members = (await checked('GET', '/redfish/v1/Systems')).json.Members;
      const ids = Array.isArray(members) ? members.map((m) => (m as { '@odata.id'?: string })['@odata.id']) : [];
      if (ids.length !== 1 || typeof ids[0] !== 'string')
        throw new BootherdError(
          'POWER_FAILED',
          `Redfish ${spec.url}: ${ids.length} systems under /redfish/v1/Systems; name one in power.redfish.system`,
        );
      systemPath = ids[0];
    }
    return systemPath;
  };
  const state = async (): Promise<{ power: PowerState; resets: string[] }> => {
    const sys = (await checked('GET', await system())).json;
    const action = (sys.Actions as Record<string, Record<string, unknown>> | undefined)?.['#ComputerSystem.Reset'];
    const allowed = action?.['ResetType@Redfish.AllowableValues'];
    // PowerState is On, Off, PoweringOn or PoweringOff (DSP8010 Resource.PowerState): a machine powering on is on.
    const power = sys.PowerState === 'Off' || sys.PowerState === 'PoweringOff' ? 'off' : 'on';
    return { power, resets: Array.isArray(allowed) ? allowed.map(String) : [] };
  };
  const reset = async (type: string) => {
    await checked('POST', `${await system()}/Actions/ComputerSystem.Reset`, { ResetType: type });
  };
  return {
    method: 'redfish',
    on: () => reset('On'),
    off: () => reset('ForceOff'),
    cycle: async () => {
      const s = await state();
      if (s.power === 'off') return reset('On');
      // ForceRestart is what most BMCs offer; PowerCycle where only that is listed. No list: ForceRestart.
      const cycleOnly = s.resets.length > 0 && !s.resets.includes('ForceRestart') && s.resets.includes('PowerCycle');
      return reset(cycleOnly ? 'PowerCycle' : 'ForceRestart');
    },
    status: async () => (await state()).power,
    prepareNetboot: async () => {
      const sys = (await checked('GET', await system())).json;
      const boot = sys.Boot as Record<string, unknown> | undefined;
      const targets = boot?.['BootSourceOverrideTarget@Redfish.AllowableValues'];
      if (!boot || (Array.isArray(targets) && !targets.includes('Pxe'))) return false;
      await checked('PATCH', await system(), {
        Boot: { BootSourceOverrideTarget: 'Pxe', BootSourceOverrideEnabled: 'Once' },
      });
      return true;
    },
  };
}

function transportError(url: string, err: NodeJS.ErrnoException): BootherdError {
  const code = err.code ?? '';
  if (err.name === 'AbortError' || err.name === 'TimeoutError' || code === 'ABORT_ERR')
    return new BootherdError('POWER_TIMEOUT', `Redfish ${url}: no answer in time`);
  if (TLS_ERRORS.test(code))
    return new BootherdError(
      'POWER_CERT',
      `Redfish ${url}: the BMC's certificate is not trusted (${code}); set power.redfish.insecure: true to accept it`,
    );
  return new BootherdError('POWER_UNREACHABLE', `Redfish ${url}: ${code || err.message}`);
}

/** The first message of a Redfish error body (`error.@Message.ExtendedInfo`), if any. */
function extendedInfo(json: Record<string, unknown>): string {
  const e = json.error as { message?: unknown; '@Message.ExtendedInfo'?: { Message?: unknown }[] } | undefined;
  const m = e?.['@Message.ExtendedInfo']?.[0]?.Message ?? e?.message;
  return typeof m === 'string' ? `: ${m.slice(0, 200)}` : '';
}
