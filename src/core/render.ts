/**
 * Decision → iPXE script, from the typed builder in ipxe/ (every value quoted or rejected); GRUB's and PXELINUX's
 * configs are rendered beside it (render-grub.ts, pxelinux.ts) with the variables and expansion here. Profile strings
 * (cmdline, URLs) may use `{{variables}}`, rendered per machine.
 */
import type { ScriptDecision } from '../boot/decide.ts';
import { BootherdError } from '../errors.ts';
import {
  chainScript,
  kernelScript,
  localScript,
  menuScript,
  renderTemplate,
  sanbootScript,
  templateNames,
} from '../ipxe/scripts.ts';
import type { ClientFacts, Machine } from '../model/types.ts';

export interface RenderContext {
  baseUrl: string;
  facts: ClientFacts;
  machine?: Machine;
  /** The machine's signed install callback; asked only by a template that reads `{{callback_url}}`. */
  callbackUrl?(): string | undefined;
  /** An asset reference (relative path or absolute URL) → the URL the client fetches, signed when private. */
  assetUrl(ref: string): string;
}

const BUILTIN_ITEMS = ['local', 'shell', 'config', 'reboot', 'exit'] as const;

/** A label's variable name (`rack` → `label_rack`), kept per label key: the same few keys serve every machine. */
const LABEL_VARS = new Map<string, string>();
function labelVar(key: string): string {
  let name = LABEL_VARS.get(key);
  if (name === undefined) {
    name = `label_${key.replace(/[^A-Za-z0-9_]/g, '_')}`;
    if (LABEL_VARS.size >= 1024) LABEL_VARS.clear();
    LABEL_VARS.set(key, name);
  }
  return name;
}

/** The context a variables object was made from, as a symbol-keyed property: no template or listing sees it. */
const CONTEXT = Symbol('render context');
type Vars = Record<string, string> & { [CONTEXT]?: RenderContext };

/** Every variable a profile string may name; later ones win (labels over the built-ins, `extra` over both). */
export function variables(ctx: RenderContext, extra: Record<string, string>): Record<string, string> {
  const { facts, machine } = ctx;
  const vars: Vars = {
    base_url: ctx.baseUrl,
    mac: facts.mac,
    mac_hyphen: facts.mac.replaceAll(':', '-'),
    machine_id: machine?.id ?? '',
    hostname: machine?.hostname ?? facts.hostname ?? '',
    uuid: machine?.uuid ?? facts.uuid ?? '',
    serial: machine?.serial ?? facts.serial ?? '',
    ip: facts.ip ?? '',
    platform: facts.platform ?? '',
    buildarch: facts.buildarch ?? '',
  };
  const labels = machine?.labels;
  if (labels) for (const key of Object.keys(labels)) vars[labelVar(key)] = labels[key]!;
  for (const key of Object.keys(extra)) {
    // Assigning `__proto__` would set the prototype instead of defining the variable (a spread defines it).
    if (key === '__proto__') Object.defineProperty(vars, key, { value: extra[key], enumerable: true, writable: true });
    else vars[key] = extra[key]!;
  }
  vars[CONTEXT] = ctx;
  return vars;
}

/**
 * The variables a template sees. Templates are strict (a misspelt variable is an error), but labels are per machine:
 * a `{{label_x}}` this machine lacks renders empty, so one profile can serve machines with different labels. The
 * callback URL is always defined, so one profile serves machines with and without a pending callback, and HMAC-signed
 * only when named (signing it for every script was ~4 % of a script request in bench/http).
 */
function templateVars(text: string, vars: Record<string, string>): Record<string, string> {
  const names = templateNames(text);
  let out = vars;
  for (const name of names) {
    if (Object.hasOwn(vars, name) || !(name.startsWith('label_') || name === 'callback_url')) continue;
    if (out === vars) out = { ...vars };
    out[name] = name === 'callback_url' ? ((vars as Vars)[CONTEXT]?.callbackUrl?.() ?? '') : '';
  }
  return out;
}

export function expand(text: string, vars: Record<string, string>): string {
  return text.includes('{{') ? renderTemplate(text, templateVars(text, vars)) : text;
}

export function renderScript(d: ScriptDecision, ctx: RenderContext): string {
  const platform = ctx.facts.platform;
  switch (d.kind) {
    case 'local':
      return localScript({ platform });
    case 'ignore':
      return localScript({ platform, message: `bootherd: ${d.reason}` });
    case 'error':
      throw new BootherdError('PROFILE_NOT_FOUND', d.reason);
    case 'menu': {
      const items = [
        ...d.items.map((p) => ({
          key: p.name,
          label: p.description ?? p.name,
          kind: 'profile' as const,
          url: `${ctx.baseUrl}/ipxe?mac=${encodeURIComponent(ctx.facts.mac)}&profile=${encodeURIComponent(p.name)}${platform ? `&platform=${encodeURIComponent(platform)}` : ''}`,
        })),
        ...BUILTIN_ITEMS.map((k) => ({ key: k, label: BUILTIN_LABELS[k], kind: k })),
      ];
      const keys = new Set(items.map((i) => i.key));
      const def = keys.has(d.settings.default) ? d.settings.default : 'local';
      return menuScript({
        title: `bootherd: ${ctx.machine?.id ?? ctx.facts.mac}`,
        items,
        timeout: d.settings.timeout,
        default: def,
        platform,
      });
    }
    case 'profile': {
      const vars = variables(ctx, d.variables);
      const boot = d.profile.boot;
      switch (boot.kind) {
        case 'kernel':
          return kernelScript({
            kernel: ctx.assetUrl(expand(boot.kernel, vars)),
            initrds: boot.initrds.map((i) => ctx.assetUrl(expand(i, vars))),
            cmdline: boot.cmdline === undefined ? '' : expand(boot.cmdline, vars),
            platform,
          });
        case 'sanboot':
          return sanbootScript({ url: ctx.assetUrl(expand(boot.url, vars)) });
        case 'chain':
          return chainScript({ url: ctx.assetUrl(expand(boot.url, vars)) });
        case 'template':
          return renderTemplate(boot.template, templateVars(boot.template, vars));
        case 'local':
        case 'menu':
          throw new Error(`unreachable: ${boot.kind} profiles are resolved by the policy`);
      }
    }
  }
}

const BUILTIN_LABELS: Record<(typeof BUILTIN_ITEMS)[number], string> = {
  local: 'Boot from local disk',
  shell: 'iPXE shell',
  config: 'iPXE configuration',
  reboot: 'Reboot',
  exit: 'Exit to firmware',
};
