export * from './error-code.js';
export * from './app.exception.js';
export * from './database.exceptions.js';
export * from './envelope.js';
