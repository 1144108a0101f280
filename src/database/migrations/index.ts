import { InitialSchema1732300000000 } from './1732300000000-initial-schema.js';

export const MIGRATIONS = [InitialSchema1732300000000];
