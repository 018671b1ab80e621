import type { FastifyPluginAsync } from 'fastify';
import type { Services } from '../../shared/services.ts';
import { adminPlugin } from './admin/index.ts';

/** HTTP plugins mounted beside /metrics and /healthz (the admin API and UI go here). */
export const httpPlugins: FastifyPluginAsync<{ services: Services }>[] = [adminPlugin];
