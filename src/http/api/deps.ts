/** What the API routes need, and where they live; shared by every route module. */
import type { AttemptLimiter } from '../../core/attempts.ts';
import type { InventoryService } from '../../core/inventory.ts';
import type { PowerService } from '../../core/power.ts';
import type { TokenService } from '../../core/tokens.ts';
import type { EventBus } from '../../events/bus.ts';
import type { MachineMedia } from '../../media/machine-media.ts';
import type { ServerStatus } from '../ops.ts';

export const API = '/api/v1';

export interface ApiDeps {
  inventory: InventoryService;
  tokens: TokenService;
  events: EventBus;
  attempts: AttemptLimiter;
  status?: () => ServerStatus;
  /** A machine's boot stick; absent: the route answers that media are not set up. */
  media?: MachineMedia;
  /** Power control; absent: the power routes answer that it is not available here. */
  power?: PowerService;
}
