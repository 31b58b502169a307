/** `bootherd servers`: the servers sharing the store, as the registry shows them. */
import type { ServerView } from '../core/servers.ts';

export function formatServers(list: ServerView[]): string[][] {
  return [
    ['ID', 'NAME', 'VERSION', 'STATUS', 'DHCP', 'LAST HEARTBEAT', 'STARTED', 'URLS'],
    ...list.map((s) => [
      s.id,
      s.name,
      s.version,
      s.status,
      // Whether it answers a share of the DHCP clients (dhcp.load_balance), beside the other live ones.
      s.dhcpShare ? 'share' : '-',
      `${s.heartbeatAt} (${s.age} s ago)`,
      s.startedAt,
      s.urls.join(','),
    ]),
  ];
}
