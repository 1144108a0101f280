import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/*
 * A real OpenLDAP server for the directory sign-in tests: Debian's slapd (scripts/run-tests.mjs
 * installs `slapd` and `ldap-utils` when missing and running as root), started from a generated
 * slapd.conf as its own unprivileged process on two spare 127.0.0.1 ports (plain for StartTLS,
 * and LDAPS), with a throwaway CA and server certificate made by the openssl CLI. The system's
 * own slapd instance is never started or touched.
 */

export const SLAPD_PATH = process.env.SLAPD_PATH || '/usr/sbin/slapd';
const SLAPADD_PATH = process.env.SLAPADD_PATH || '/usr/sbin/slapadd';
const LDAPMODIFY_PATH = process.env.LDAPMODIFY_PATH || '/usr/bin/ldapmodify';
const SCHEMA_DIR = '/etc/ldap/schema';
const MODULE_DIR = '/usr/lib/ldap';

/** Why the directory tests cannot run here, or null when they can. */
export function slapdMissing(): string | null {
  for (const [path, pkg] of [
    [SLAPD_PATH, 'slapd'],
    [SLAPADD_PATH, 'slapd'],
    [join(SCHEMA_DIR, 'inetorgperson.schema'), 'slapd'],
    [join(MODULE_DIR, 'back_mdb.so'), 'slapd'],
    ['/usr/bin/openssl', 'openssl'],
    [LDAPMODIFY_PATH, 'ldap-utils'],
  ] as const) {
    if (!existsSync(path)) return `skipped: no ${path} (apt-get install -y --no-install-recommends ${pkg} ldap-utils)`;
  }
  return null;
}

export const SUFFIX = 'dc=example,dc=com';
export const PEOPLE = `ou=people,${SUFFIX}`;
export const GROUPS = `ou=groups,${SUFFIX}`;
export const SERVICE_DN = `cn=rampart,ou=services,${SUFFIX}`;
export const SERVICE_PASSWORD = 'service-account-password';
const ROOT_DN = `cn=admin,${SUFFIX}`;
const ROOT_PASSWORD = randomBytes(12).toString('hex');

export const userDn = (uid: string) => `uid=${uid},${PEOPLE}`;
export const groupDn = (cn: string) => `cn=${cn},${GROUPS}`;

export interface DirectoryUser {
  uid: string;
  password: string;
  /** `employeeType: disabled`: what the test's LDAP_USER_FILTER leaves out, as AD's userAccountControl filter does. */
  disabled?: boolean;
}

export interface DirectoryGroup {
  cn: string;
  /** Full DNs: users or other groups (nesting). */
  members: string[];
}

export interface SlapdOptions {
  users: DirectoryUser[];
  groups: DirectoryGroup[];
}

/** `{SSHA}` as slapd stores it, so no clear-text password sits in the database. */
function ssha(password: string): string {
  const salt = randomBytes(8);
  const digest = createHash('sha1').update(password).update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
}

function ldif(options: SlapdOptions): string {
  const blocks = [
    `dn: ${SUFFIX}\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example`,
    `dn: ${PEOPLE}\nobjectClass: organizationalUnit\nou: people`,
    `dn: ${GROUPS}\nobjectClass: organizationalUnit\nou: groups`,
    `dn: ou=services,${SUFFIX}\nobjectClass: organizationalUnit\nou: services`,
    `dn: ${SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: rampart\nuserPassword: ${ssha(SERVICE_PASSWORD)}`,
  ];
  for (const user of options.users) {
    blocks.push(
      [
        `dn: ${userDn(user.uid)}`,
        'objectClass: inetOrgPerson',
        `uid: ${user.uid}`,
        `cn: ${user.uid}`,
        `sn: ${user.uid}`,
        `userPassword: ${ssha(user.password)}`,
        ...(user.disabled ? ['employeeType: disabled'] : []),
      ].join('\n'),
    );
  }
  for (const group of options.groups) {
    blocks.push([`dn: ${groupDn(group.cn)}`, 'objectClass: groupOfNames', `cn: ${group.cn}`, ...group.members.map((m) => `member: ${m}`)].join('\n'));
  }
  return `${blocks.join('\n\n')}\n`;
}

function slapdConf(dir: string): string {
  return `include ${SCHEMA_DIR}/core.schema
include ${SCHEMA_DIR}/cosine.schema
include ${SCHEMA_DIR}/inetorgperson.schema
modulepath ${MODULE_DIR}
moduleload back_mdb
pidfile ${dir}/slapd.pid
argsfile ${dir}/slapd.args
TLSCACertificateFile ${dir}/ca.crt
TLSCertificateFile ${dir}/server.crt
TLSCertificateKeyFile ${dir}/server.key
database mdb
maxsize 10485760
suffix "${SUFFIX}"
rootdn "${ROOT_DN}"
rootpw ${ROOT_PASSWORD}
directory ${dir}/db
index objectClass,uid,member eq
access to attrs=userPassword by anonymous auth by self =xw by * none
access to * by dn.exact="${SERVICE_DN}" read by self read by * none
`;
}

function makeCertificates(dir: string): void {
  const openssl = (...args: string[]) => execFileSync('/usr/bin/openssl', args, { cwd: dir, stdio: 'pipe', timeout: 20_000 });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=Rampart test CA');
  openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'ext.cnf');
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitForPort(port: number, deadline: number, child: ChildProcess, log: () => string): Promise<void> {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`slapd exited with ${child.exitCode}: ${log().slice(-2000)}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`slapd did not listen on ${port} in time: ${log().slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One LDAP operation slapd's stats log recorded (`conn=1004 op=1 BIND dn="…" method=128`). */
export interface LoggedOperation {
  conn: number;
  op: string;
  text: string;
}

export interface Slapd {
  /** ldap:// (StartTLS) and ldaps:// URLs on 127.0.0.1. */
  ldapUrl: string;
  ldapsUrl: string;
  ldapPort: number;
  ldapsPort: number;
  /** The test CA's certificate (PEM file) for LDAP_CA_FILE. */
  caFile: string;
  /** Every operation logged so far; `since(mark)` for the ones after a mark. */
  operations(): LoggedOperation[];
  mark(): number;
  since(mark: number): LoggedOperation[];
  /** Connections slapd accepted and has not yet seen closed. */
  openConnections(): number;
  /** slapd's own output so far (for a failure message). */
  log(): string;
  /** Runs ldapmodify (as the directory's root) with an LDIF change. */
  modify(change: string): void;
  stop(): Promise<void>;
}

/** Starts slapd with the users and groups; stops by itself after `lifetimeMs` at the latest. */
export async function startSlapd(options: SlapdOptions, lifetimeMs = 10 * 60_000): Promise<Slapd> {
  const dir = mkdtempSync(join(tmpdir(), 'rampart-slapd-'));
  mkdirSync(join(dir, 'db'));
  chmodSync(dir, 0o755);
  makeCertificates(dir);
  const conf = join(dir, 'slapd.conf');
  writeFileSync(conf, slapdConf(dir));
  writeFileSync(join(dir, 'data.ldif'), ldif(options));
  execFileSync(SLAPADD_PATH, ['-q', '-f', conf, '-l', join(dir, 'data.ldif')], { stdio: 'pipe', timeout: 20_000 });
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (asRoot) {
    // Never as root: the files become nobody's, and slapd drops to nobody once it has its ports.
    for (const entry of [dir, join(dir, 'db'), ...readdirSync(dir).map((f) => join(dir, f)), ...readdirSync(join(dir, 'db')).map((f) => join(dir, 'db', f))]) {
      if (existsSync(entry) && (statSync(entry).isFile() || statSync(entry).isDirectory())) chownSync(entry, 65534, 65534);
    }
  }
  const ldapPort = await freePort();
  const ldapsPort = await freePort();
  const ldapUrl = `ldap://127.0.0.1:${ldapPort}`;
  const ldapsUrl = `ldaps://127.0.0.1:${ldapsPort}`;
  // -d 256: foreground with the stats log (one line per operation) on stderr.
  const args = ['-f', conf, '-h', `${ldapUrl}/ ${ldapsUrl}/`, '-d', '256', ...(asRoot ? ['-u', 'nobody', '-g', 'nogroup'] : [])];
  const child = spawn(SLAPD_PATH, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  child.on('error', () => undefined);
  const killer = setTimeout(() => child.kill('SIGKILL'), lifetimeMs);
  killer.unref();
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);

  const stop = async () => {
    clearTimeout(killer);
    process.removeListener('exit', onExit);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 15_000;
    await waitForPort(ldapPort, deadline, child, () => output);
    await waitForPort(ldapsPort, deadline, child, () => output);
  } catch (error) {
    await stop();
    throw error;
  }

  const operations = (): LoggedOperation[] => {
    const found: LoggedOperation[] = [];
    for (const match of output.matchAll(/conn=(\d+) op=(\d+) (BIND|SRCH|UNBIND|EXT|MOD|ADD|DEL|CMP)\b([^\n]*)/g)) {
      const text = match[4]!.trim();
      // Requests only: slapd logs a bind's outcome (`mech=`) and a search's attributes on lines of their own.
      if ((match[3] === 'BIND' && !text.includes('method=')) || (match[3] === 'SRCH' && !text.startsWith('base='))) continue;
      found.push({ conn: Number(match[1]), op: match[3]!, text });
    }
    return found;
  };
  return {
    ldapUrl,
    ldapsUrl,
    ldapPort,
    ldapsPort,
    caFile: join(dir, 'ca.crt'),
    operations,
    mark: () => operations().length,
    log: () => output,
    openConnections: () => (output.match(/ ACCEPT from /g)?.length ?? 0) - (output.match(/ fd=\d+ closed/g)?.length ?? 0),
    since: (mark) => operations().slice(mark),
    modify(change) {
      execFileSync(LDAPMODIFY_PATH, ['-x', '-H', ldapUrl, '-D', ROOT_DN, '-w', ROOT_PASSWORD], { input: change, stdio: ['pipe', 'pipe', 'pipe'], timeout: 10_000 });
    },
    stop,
  };
}
