import { InitialSchema1732300000000 } from './1732300000000-initial-schema.js';
import { IdempotencyKeys1764460000000 } from './1764460000000-idempotency-keys.js';
import { UserManagement1764500000000 } from './1764500000000-user-management.js';
import { UsernameLookup1764520000000 } from './1764520000000-username-lookup.js';
import { LotsStationStatusKeysetIndex1764600000000 } from './1764600000000-lots-station-status-keyset-index.js';
import { UsernameUniqueLower1764700000000 } from './1764700000000-username-unique-lower.js';

export const MIGRATIONS = [
  InitialSchema1732300000000,
  IdempotencyKeys1764460000000,
  UserManagement1764500000000,
  UsernameLookup1764520000000,
  LotsStationStatusKeysetIndex1764600000000,
  UsernameUniqueLower1764700000000,
];
