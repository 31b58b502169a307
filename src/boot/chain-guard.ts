/**
 * The chainload loop guard's memory: which machines finished loading one of bootherd's iPXE binaries lately. A
 * machine that then asks again as an iPXE still lacking the required features is running that very binary — a weak
 * build (Debian's 2019 undionly.kpxe has no https) — and chaining it once more would repeat forever.
 */
export class ChainMemory {
  private readonly loaded = new Map<string, number>();

  /** `windowMs`: how long a load counts (a boot's DHCP follows its binary's load within seconds); `max`: entries. */
  constructor(
    private readonly windowMs = 300_000,
    private readonly max = 4096,
  ) {}

  loadedBinary(mac: string, at: number): void {
    this.loaded.delete(mac);
    this.loaded.set(mac, at);
    // Insertion order is age: a flood of transfers from new addresses forgets the oldest first.
    while (this.loaded.size > this.max) this.loaded.delete(this.loaded.keys().next().value as string);
  }

  loadedRecently(mac: string, at: number): boolean {
    const t = this.loaded.get(mac);
    if (t === undefined) return false;
    if (at - t <= this.windowMs) return true;
    this.loaded.delete(mac);
    return false;
  }
}
