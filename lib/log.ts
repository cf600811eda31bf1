// Structured JSON logs (pino). Every line passes through redaction first.
import pino, { type Logger, type DestinationStream } from 'pino';
import { redactText, redactValue } from './redact.js';

export type { Logger };

export function createLogger(options: { level?: string; name?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      name: options.name ?? 'flightdeck',
      level: options.level ?? 'info',
      base: { service: options.name ?? 'flightdeck' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => redactValue(object),
      },
      hooks: {
        // Messages and interpolation arguments are not seen by formatters.log: redact them here.
        logMethod(args, method) {
          const redacted = args.map((arg) => (typeof arg === 'string' ? redactText(arg) : arg)) as Parameters<typeof method>;
          return method.apply(this, redacted);
        },
      },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
