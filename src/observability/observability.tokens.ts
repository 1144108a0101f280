/** The root pino logger, created before Nest so start-up and requests share one redaction. */
export const ROOT_LOGGER = Symbol('ROOT_LOGGER');
