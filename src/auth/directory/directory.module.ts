import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Logger } from 'pino';
import type { RampartConfig } from '../../config/rampart-config.js';
import { ROOT_LOGGER } from '../../observability/observability.tokens.js';
import { AdmissionController } from '../../resilience/admission/admission-controller.js';
import { ShutdownRegistry } from '../../resilience/shutdown-registry.service.js';
import { DIRECTORY, DirectorySignIn } from './directory-sign-in.js';
import { LdapDirectory } from './ldap-directory.js';

/** Sign-ins holding a directory connection at once per worker; more wait briefly, then OVERLOADED. */
const DIRECTORY_CONCURRENCY = 16;
const DIRECTORY_QUEUE = 64;

/**
 * The directory sign-in (DIRECTORY: null without `ldap` in AUTH_PROVIDERS). Global so
 * /health/deep can report it without the health module depending on the auth module.
 */
@Global()
@Module({
  providers: [
    {
      provide: DIRECTORY,
      inject: [ConfigService, AdmissionController, ShutdownRegistry, ROOT_LOGGER],
      useFactory: (config: ConfigService<RampartConfig, true>, admission: AdmissionController, registry: ShutdownRegistry, logger: Logger) => {
        const directory = config.get('auth', { infer: true }).directory;
        if (directory === null) return null;
        const bulkhead = admission.bulkhead('directory', {
          concurrency: DIRECTORY_CONCURRENCY,
          queueSize: DIRECTORY_QUEUE,
          queueTimeoutMs: directory.connectTimeoutMs,
        });
        const signIn = new DirectorySignIn(new LdapDirectory(directory), directory, bulkhead, logger.child({ component: 'directory' }));
        registry.register({ name: 'directory', phase: 'jobs', close: () => signIn.close() });
        return signIn;
      },
    },
  ],
  exports: [DIRECTORY],
})
export class DirectoryModule {}
