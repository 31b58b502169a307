/**
 * The error catalog: every error an operator or API client can see has a stable code, a message and an HTTP status.
 * Codes never change meaning once released; add new ones instead.
 */
export const ERRORS = {
  CONFIG_INVALID: { status: 500, message: 'configuration is invalid' },
  INVENTORY_INVALID: { status: 400, message: 'inventory document is invalid' },
  BAD_REQUEST: { status: 400, message: 'bad request' },
  BAD_MAC: { status: 400, message: 'not a MAC address' },
  NOT_FOUND: { status: 404, message: 'not found' },
  RANGE_NOT_SATISFIABLE: { status: 416, message: 'range not satisfiable' },
  MACHINE_NOT_FOUND: { status: 404, message: 'no such machine' },
  PROFILE_NOT_FOUND: { status: 404, message: 'no such profile' },
  SIGNATURE_INVALID: { status: 403, message: 'signature invalid or expired' },
  SCRIPT_VALUE: { status: 422, message: 'a value cannot be put into an iPXE script safely' },
  PORT_IN_USE: { status: 500, message: 'port already in use' },
  PORT_DENIED: { status: 500, message: 'no permission to bind port' },
  STORE: { status: 500, message: 'store error' },
  STORE_SCHEMA_NEWER: { status: 500, message: 'the database schema is newer than this bootherd; upgrade bootherd' },
  STORE_UNAVAILABLE: { status: 503, message: 'the database cannot be reached' },
  VALIDATION: { status: 400, message: 'invalid value' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  FORBIDDEN: { status: 403, message: 'forbidden' },
  TOO_MANY_ATTEMPTS: { status: 429, message: 'too many failed authentication attempts' },
  TOKEN_NOT_FOUND: { status: 404, message: 'no such token' },
  TLS: { status: 500, message: 'TLS certificate or key unusable' },
  GROUP_NOT_FOUND: { status: 404, message: 'no such group' },
  LEASE_NOT_FOUND: { status: 404, message: 'no such lease' },
  CONFLICT: { status: 409, message: 'already exists' },
  // Optimistic locking: the record changed since the client read it (If-Match: 412, a `version` field: 409).
  PRECONDITION_FAILED: { status: 412, message: 'the record changed since it was read (If-Match)' },
  VERSION_CONFLICT: { status: 409, message: 'the record changed since it was read (version)' },
  TLS_REQUIRED: { status: 403, message: 'the API is served over HTTPS only' },
  MEDIA: { status: 500, message: 'boot media could not be built' },
  TOOL_MISSING: { status: 500, message: 'a required program or file is not installed' },
  IPXE_BUILD: { status: 500, message: 'iPXE could not be built' },
  ISO_INVALID: { status: 400, message: 'not a readable ISO 9660 image' },
  IMAGE_NOT_FOUND: { status: 404, message: 'no such image' },
  IMAGE_IMPORT: { status: 500, message: 'the image could not be imported' },
  // Power control: each a different thing for the operator to fix, each its own CLI exit code (cli/power.ts).
  POWER_NOT_CONFIGURED: { status: 409, message: 'the machine has no power block' },
  POWER_UNSUPPORTED: { status: 422, message: "the machine's power method cannot do this" },
  POWER_SECRET: { status: 500, message: 'the BMC password reference cannot be read' },
  POWER_UNREACHABLE: { status: 502, message: 'the BMC cannot be reached' },
  POWER_AUTH: { status: 502, message: 'the BMC refused the user name or password' },
  POWER_CERT: { status: 502, message: "the BMC's TLS certificate is not trusted" },
  POWER_TIMEOUT: { status: 504, message: 'the BMC did not answer in time' },
  POWER_FAILED: { status: 502, message: 'the BMC refused the action' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export class BootherdError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail?: Record<string, unknown>;

  constructor(code: ErrorCode, message?: string, detail?: Record<string, unknown>) {
    super(message ?? ERRORS[code].message);
    this.name = 'BootherdError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.detail = detail;
  }
}

/** Turn a listen() failure into the operator's next step. */
export function listenError(err: unknown, what: string, host: string, port: number): BootherdError | unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EACCES') {
    return new BootherdError(
      'PORT_DENIED',
      `${what}: no permission to bind ${host}:${port}. Ports below 1024 need root or CAP_NET_BIND_SERVICE ` +
        `(run as root, \`setcap cap_net_bind_service=+ep $(command -v node)\`, or choose a port >= 1024 in the config).`,
    );
  }
  if (code === 'EADDRINUSE') {
    return new BootherdError(
      'PORT_IN_USE',
      `${what}: ${host}:${port} is already in use by another program (find it with \`ss -lntup 'sport = :${port}'\`), ` +
        'stop it or choose another port in the config.',
    );
  }
  if (code === 'EADDRNOTAVAIL') {
    return new BootherdError('PORT_IN_USE', `${what}: ${host} is not an address of this host; fix the listen address.`);
  }
  return err;
}
