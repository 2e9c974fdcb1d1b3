/**
 * What both gateway protocols share: dependencies, authentication by `key`/`clientKey`,
 * submitting, reading, reporting and the tenant's "balance".
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Admission, ReportVerdict, Transitions } from '@solvestream/contracts';
import { authenticate, type AuthFailure } from '../auth';
import type { SubmitService, SubmitOutcome } from '../submit';
import type { ClientTask, TaskReader } from '../task-reader';
import type { Tenant, TenantDirectory } from '../tenants';

export interface GatewayDeps {
  tenants: TenantDirectory;
  submitter: SubmitService;
  reader: TaskReader;
  transitions: Transitions;
  admission: Admission;
  clock: () => number;
  logger: FastifyBaseLogger;
  /** Most ids in one multi-id get. */
  maxIds: number;
  /** Reports are accepted this long after the solve, ms; 0 = always. */
  reportWindowMs: number;
}

/** What `getbalance` answers for a tenant without a task cap. */
export const UNLIMITED_BALANCE = 999_999;

export type GatewayAuth = { ok: true; tenant: Tenant } | { ok: false; reason: AuthFailure };

export const authKey = (d: GatewayDeps, key: string | undefined): Promise<GatewayAuth> => authenticate(d.tenants, key);

/** The tenant's quota as a balance: free open-task slots, or UNLIMITED_BALANCE without a cap. */
export async function balanceOf(d: GatewayDeps, tenant: Tenant): Promise<number> {
  if (tenant.maxOpen <= 0) return UNLIMITED_BALANCE;
  return Math.max(0, tenant.maxOpen - (await d.admission.openCount(tenant.id, d.clock())));
}

export type { SubmitOutcome, ClientTask, ReportVerdict };

/** All-digit ids only (the protocols' id format); anything else is the client's mistake. */
export const NUMERIC_ID_RE = /^\d{1,20}$/;
