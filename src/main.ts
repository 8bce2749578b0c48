import { loadConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { startService } from './service.ts';

const config = loadConfig();
const logger = createLogger(config.LOG_LEVEL);

const service = await startService(config, logger).catch((error: unknown) => {
  logger.fatal({ err: error }, 'eventflow failed to start');
  process.exit(1);
});

let stopping = false;
const shutdown = (signal: NodeJS.Signals) => {
  if (stopping) {
    logger.warn({ signal }, 'second signal: exiting at once');
    process.exit(1);
  }
  stopping = true;
  logger.info({ signal }, 'shutting down');
  // The bound on in-flight work is SHUTDOWN_TIMEOUT_MS; this guard only catches a hang
  // in closing connections after it.
  setTimeout(() => {
    logger.error('shutdown did not finish in time');
    process.exit(1);
  }, config.SHUTDOWN_TIMEOUT_MS + 5_000).unref();
  service.stop().then(
    () => {
      logger.info('stopped');
      process.exit(0);
    },
    (error: unknown) => {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    },
  );
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
