/**
 * The image catalog: imported ISOs live in `<assets>/images/<name>/` with a manifest (`image.json`), and each has
 * the profile of the same name. Names end up in paths, URLs and scripts, so they are checked strictly.
 */
import { readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { InventoryService } from '../core/inventory.ts';
import { BootherdError } from '../errors.ts';
import { NAME_PATTERN } from '../model/schemas.ts';
import type { BootEntry } from './eltorito.ts';
import type { ImageKind } from './recognize.ts';

export const MANIFEST = 'image.json';

export interface Manifest {
  name: string;
  kind: ImageKind;
  description: string;
  source: { file: string; size: number; sha256: string; volumeId: string };
  /** Which names the ISO's tree was read with. */
  names: 'rock-ridge' | 'joliet' | 'iso9660';
  boot: BootEntry[];
  /** The profile created for it (same name as the image). */
  profile: string;
  /** Paths relative to the image's folder. */
  files: { path: string; size: number; sha256: string }[];
  importedAt: string;
}

const NAME_RE = new RegExp(NAME_PATTERN);

/** An image name is one safe path component: it becomes a folder, a profile name and part of URLs. */
export function checkImageName(name: string): string {
  if (!NAME_RE.test(name))
    throw new BootherdError(
      'VALIDATION',
      `image name ${JSON.stringify(name)}: use 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit`,
      { field: 'name' },
    );
  return name;
}

/** `debian-12.8.0-amd64-netinst.iso` → `debian-12.8.0-amd64-netinst`; anything unsafe becomes `-`. */
export function defaultImageName(isoFile: string): string {
  const base = (isoFile.split('/').pop() ?? '').replace(/\.iso$/i, '');
  const safe = base
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 63);
  return safe || 'image';
}

export function imagesDir(assetsDir: string): string {
  return join(assetsDir, 'images');
}

export interface ImageStatus {
  manifest: Manifest;
  profileExists: boolean;
}

export async function readManifest(assetsDir: string, name: string): Promise<Manifest | undefined> {
  let text: string;
  try {
    text = await readFile(join(imagesDir(assetsDir), checkImageName(name), MANIFEST), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as Manifest;
  } catch (err) {
    throw new BootherdError('IMAGE_NOT_FOUND', `image "${name}": ${MANIFEST} is not JSON: ${(err as Error).message}`);
  }
}

export async function listImages(assetsDir: string, inventory: InventoryService): Promise<ImageStatus[]> {
  let names: string[];
  try {
    names = (await readdir(imagesDir(assetsDir), { withFileTypes: true }))
      .filter((d) => d.isDirectory() && NAME_RE.test(d.name))
      .map((d) => d.name)
      .sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const profiles = new Set((await inventory.listProfiles()).map((p) => p.name));
  const out: ImageStatus[] = [];
  for (const name of names) {
    const manifest = await readManifest(assetsDir, name);
    if (manifest) out.push({ manifest, profileExists: profiles.has(manifest.profile) });
  }
  return out;
}

/**
 * Delete an image: its profile (through the inventory service, which refuses while machines, groups or menus use
 * it), then its files. With `force`, those references are dropped first. The folder is renamed to a dot-name (never
 * served) before it is deleted, so a crash mid-way leaves no half image under its served name.
 */
export async function removeImage(
  assetsDir: string,
  inventory: InventoryService,
  name: string,
  force: boolean,
): Promise<{ detached: string[] }> {
  const manifest = await readManifest(assetsDir, name);
  if (!manifest) throw new BootherdError('IMAGE_NOT_FOUND', `no image "${name}" in ${imagesDir(assetsDir)}`);
  const detached = force ? await detach(inventory, manifest.profile) : [];
  try {
    await inventory.deleteProfile(manifest.profile);
  } catch (err) {
    if (err instanceof BootherdError && err.code === 'CONFLICT')
      throw new BootherdError('CONFLICT', `${err.message}; change those first, or remove with --force to detach them`);
    if (!(err instanceof BootherdError && err.code === 'PROFILE_NOT_FOUND')) throw err;
  }
  const dir = join(imagesDir(assetsDir), name);
  const doomed = join(imagesDir(assetsDir), `.${name}.removing`);
  await rm(doomed, { recursive: true, force: true });
  await rename(dir, doomed);
  await rm(doomed, { recursive: true, force: true });
  return { detached };
}

/** Drop every reference to a profile: machines' profile and next action, groups' profile, menus' items. */
async function detach(inventory: InventoryService, profile: string): Promise<string[]> {
  const done: string[] = [];
  for (const p of await inventory.listProfiles()) {
    if (p.name === profile || p.boot.kind !== 'menu' || !p.boot.items?.includes(profile)) continue;
    await inventory.putProfile(
      { ...p, boot: { ...p.boot, items: p.boot.items.filter((i) => i !== profile) } },
      'replace',
    );
    done.push(`profile ${p.name} (menu item)`);
  }
  for (const g of await inventory.listGroups()) {
    if (g.profile !== profile) continue;
    const { profile: _, ...rest } = g;
    await inventory.putGroup(rest, 'replace');
    done.push(`group ${g.name}`);
  }
  for (let cursor: string | undefined, more = true; more; ) {
    const page = await inventory.listMachines({ profile, limit: 500, ...(cursor ? { cursor } : {}) });
    for (const m of page.items) {
      const { profile: _, lastEvent: __, lastSeen: ___, ...rest } = m;
      await inventory.putMachine(rest, 'replace');
      done.push(`machine ${m.id}`);
    }
    cursor = page.next;
    more = cursor !== undefined;
  }
  for (let cursor: string | undefined, more = true; more; ) {
    const page = await inventory.listMachines({ limit: 500, ...(cursor ? { cursor } : {}) });
    for (const m of page.items) {
      const next = m.nextAction;
      if (next && 'profile' in next && next.profile === profile) {
        await inventory.setNextAction(m.id, null);
        done.push(`machine ${m.id} (next action)`);
      }
    }
    cursor = page.next;
    more = cursor !== undefined;
  }
  return done;
}
