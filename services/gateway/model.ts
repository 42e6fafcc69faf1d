/** Bodies and answers of the routes the gateway answers itself. */
import { t } from 'elysia';

export const CalculatorBody = t.Object({ a: t.Optional(t.Number()), b: t.Optional(t.Number()) });
export const CalculatorAnswer = t.Object({ result: t.Number() });

const ServiceHealthSchema = t.Union([
  t.Object({ status: t.Union([t.Literal('healthy'), t.Literal('unhealthy')]), response_time: t.Number() }),
  t.Object({ status: t.Literal('unhealthy'), error: t.String() }),
]);

/** The aggregated health (HealthBody in health/service.ts). */
export const HealthSchema = t.Object({
  status: t.Union([t.Literal('healthy'), t.Literal('degraded'), t.Literal('unhealthy')]),
  timestamp: t.String(),
  version: t.String(),
  services: t.Record(t.String(), ServiceHealthSchema),
  database: t.Object({
    status: t.String(),
    database: t.Union([t.Literal('sqlite'), t.Literal('postgresql')]),
    responsive: t.Boolean(),
    error: t.Optional(t.String()),
  }),
  nats: t.Object({ status: t.String(), connected: t.Boolean(), mode: t.String() }),
  rate_limit_store: t.Optional(t.Object({ status: t.String(), kind: t.String() })),
});
