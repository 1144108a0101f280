// `npm run dev:ldap [-- --minutes N]`: a throwaway OpenLDAP on 127.0.0.1 with demo users and
// groups, for trying directory sign-in without a real directory (README "Signing in with a
// directory"). The same server the directory tests use (test/auth/support/slapd.ts, loaded with
// Node 24's type stripping): Debian's slapd, its own unprivileged process on spare ports, a
// throwaway CA, nothing of the system's slapd touched. Prints the settings to load into the
// shell that starts Rampart; stops on Ctrl-C or after --minutes (default 60) by itself.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { GROUPS, groupDn, PEOPLE, SERVICE_DN, SERVICE_PASSWORD, slapdMissing, startSlapd, userDn } = await import(
  join(root, 'test/auth/support/slapd.ts')
);

const minutesArg = process.argv.indexOf('--minutes');
const minutes = minutesArg === -1 ? 60 : Number(process.argv[minutesArg + 1]);
if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 24 * 60) {
  console.error('usage: npm run dev:ldap [-- --minutes N]   (1..1440)');
  process.exit(64);
}
const missing = slapdMissing();
if (missing !== null) {
  console.error(`dev:ldap: ${missing}`);
  process.exit(1);
}

const USERS = { alice: 'alice-password-1', bob: 'bob-password-1', carol: 'carol-password-1', dave: 'dave-password-1' };
const slapd = await startSlapd(
  {
    users: Object.entries(USERS).map(([uid, password]) => ({ uid, password })),
    groups: [
      { cn: 'platform-team', members: [userDn('alice')] },
      { cn: 'mes-admins', members: [groupDn('platform-team')] },
      { cn: 'mes-operators', members: [userDn('bob')] },
      { cn: 'mes-viewers', members: [userDn('carol')] },
    ],
  },
  minutes * 60_000,
);

const env = {
  AUTH_PROVIDERS: 'ldap,local',
  LDAP_URL: slapd.ldapsUrl,
  LDAP_CA_FILE: slapd.caFile,
  LDAP_BIND_DN: SERVICE_DN,
  LDAP_BIND_PASSWORD: SERVICE_PASSWORD,
  LDAP_USER_BASE: PEOPLE,
  LDAP_USER_FILTER: '(uid={username})',
  LDAP_GROUP_BASE: GROUPS,
  LDAP_GROUP_SEARCH: 'member',
  LDAP_ROLE_RULES: `admin=${groupDn('mes-admins')};operator=${groupDn('mes-operators')};viewer=${groupDn('mes-viewers')}`,
};
const envFile = join(slapd.caFile, '..', 'ldap.env');
writeFileSync(envFile, Object.entries(env).map(([key, value]) => `${key}='${value}'`).join('\n') + '\n');

console.log(`slapd listening on ${slapd.ldapsUrl} (and ${slapd.ldapUrl} for StartTLS) for ${minutes} min; Ctrl-C stops it.`);
console.log(`In the shell that starts Rampart:\n\n  set -a; . ${envFile}; set +a; npm start\n`);
console.log('Users (password = <name>-password-1): alice admin (nested: platform-team in mes-admins),');
console.log('bob operator, carol viewer, dave in no group (refused: no-role in the log).');

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await slapd.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
// startSlapd also stops the server after `minutes` by itself; this process leaves with it.
setTimeout(stop, minutes * 60_000);
