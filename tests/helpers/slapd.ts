import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Attribute, Change, Client } from 'ldapts';
import { generateSecret } from '../../lib/secret-strength.ts';
import type { LdapSettings } from '../../gateway/users/ldap-settings.ts';
import { requireBinary } from './binaries.ts';
import { freePort } from './ports.ts';
import { startService, type ServiceProcess } from './processes.ts';
import { repoRoot } from './repo.ts';
import { makeCertificate, type TestCertificate } from './tls.ts';
import { makeTempDir } from './tmp.ts';

const run = promisify(execFile);

export const LDAP_SUFFIX = 'dc=example,dc=test';
export const LDAP_ROOT_DN = `cn=admin,${LDAP_SUFFIX}`;
export const LDAP_ROOT_PASSWORD = 'admin-password';
/** Reads everything and may set passwords (Password Modify for a reset), as Authelia's service account must. */
export const LDAP_SERVICE_DN = `cn=gatehouse,ou=services,${LDAP_SUFFIX}`;
export const LDAP_SERVICE_PASSWORD = 'service-password';
/** The fixture's users and their passwords (tests/fixtures/ldap/users.ldif); carol is disabled (employeeType). */
export const LDAP_PASSWORDS = { alice: 'alice-password', bob: 'bob-password', carol: 'carol-password', dave: 'dave-password', 'pat(*)': 'pat-password' } as const;

export interface Slapd {
  /** `ldap://127.0.0.1:<port>` (StartTLS offered). */
  readonly url: string;
  /** `ldaps://127.0.0.1:<port>`. */
  readonly ldapsUrl: string;
  /** `ldapi://<the Unix socket's path, percent-encoded>`. */
  readonly ldapiUrl: string;
  readonly port: number;
  readonly ldapsPort: number;
  /** The server's self-signed certificate (for 127.0.0.1 and localhost), also the CA to trust. */
  readonly certPem: string;
  /** Stops slapd, keeping its database and ports: the directory is down until `start()`. */
  stop(): Promise<void>;
  /** Starts a stopped slapd again on the same ports with the same data. */
  start(): Promise<void>;
  restart(): Promise<void>;
  /** Stops slapd and removes its directory. */
  cleanup(): Promise<void>;
  output(): string;
}

/** RFC 2849 text of the throwaway cn=config: mdb, memberof + refint overlays, TLS, and who may do what. */
function configLdif(dir: string, certificate: TestCertificate): string {
  const service = `dn.exact="${LDAP_SERVICE_DN}"`;
  return `dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: ${join(dir, 'slapd.pid')}
olcTLSCertificateFile: ${certificate.certPath}
olcTLSCertificateKeyFile: ${certificate.keyPath}
olcTLSCACertificateFile: ${certificate.certPath}

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb
olcModuleLoad: memberof
olcModuleLoad: refint

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif

include: file:///etc/ldap/schema/cosine.ldif

include: file:///etc/ldap/schema/inetorgperson.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: 500

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcDbDirectory: ${join(dir, 'data')}
olcDbMaxSize: 33554432
olcDbNoSync: TRUE
olcSuffix: ${LDAP_SUFFIX}
olcRootDN: ${LDAP_ROOT_DN}
olcRootPW: ${LDAP_ROOT_PASSWORD}
olcAccess: {0}to attrs=userPassword by ${service} =wx by self =wx by anonymous auth by * none
olcAccess: {1}to * by ${service} read by self read by * none

dn: olcOverlay={0}memberof,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {0}memberof
olcMemberOfRefInt: TRUE
olcMemberOfGroupOC: groupOfNames
olcMemberOfMemberAD: member
olcMemberOfMemberOfAD: memberOf

dn: olcOverlay={1}refint,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcRefintConfig
olcOverlay: {1}refint
olcRefintAttribute: member
`;
}

/** Runs `work` bound as the directory's administrator: what an operator would change behind Gatehouse's back. */
export async function asLdapRoot<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ url, timeout: 2_000 });
  try {
    await client.bind(LDAP_ROOT_DN, LDAP_ROOT_PASSWORD);
    return await work(client);
  } finally {
    await client.unbind().catch(() => undefined);
  }
}

/**
 * Gives the service account a freshly generated password and returns it, for a gateway's configuration
 * (gatewayLdapConfig): the fixture's LDAP_SERVICE_PASSWORD looks like a placeholder, which the
 * configuration refuses.
 */
export async function giveServiceAccountSecret(slapd: Pick<Slapd, 'url'>): Promise<string> {
  const servicePassword = generateSecret();
  await asLdapRoot(slapd.url, (client) => client.modify(LDAP_SERVICE_DN, new Change({ operation: 'replace', modification: new Attribute({ type: 'userPassword', values: [servicePassword] }) })));
  return servicePassword;
}

/** The provider's settings for this slapd in the custom (OpenLDAP) style: sign in by uid or mail; an account with employeeType=disabled is not one. */
export function ldapSettingsFor(url: string, overrides: Partial<LdapSettings> = {}): LdapSettings {
  return {
    implementation: 'custom',
    url,
    timeoutMs: 2_000,
    startTls: false,
    baseDn: LDAP_SUFFIX,
    usersBaseDn: `ou=people,${LDAP_SUFFIX}`,
    usersFilter: '(&(|({username_attribute}={input})({mail_attribute}={input}))(objectClass=inetOrgPerson)(!(employeeType=disabled)))',
    groupsBaseDn: `ou=groups,${LDAP_SUFFIX}`,
    groupsFilter: '(&(member={dn})(objectClass=groupOfNames))',
    groupSearchMode: 'filter',
    attributes: {
      username: 'uid',
      displayName: 'displayName',
      mail: 'mail',
      memberOf: 'memberOf',
      groupName: 'cn',
      profile: { given_name: 'givenName', family_name: 'sn', locale: 'preferredLanguage' },
      extra: {},
    },
    permitReferrals: false,
    permitUnauthenticatedBind: false,
    permitFeatureDetectionFailure: false,
    user: LDAP_SERVICE_DN,
    password: LDAP_SERVICE_PASSWORD,
    pooling: { enable: false, count: 3, retries: 2, timeoutMs: 1_000 },
    ...overrides,
  };
}

/**
 * `authentication_backend.ldap` for a gateway against this slapd as the fixture lays it out: users in
 * ou=people (inetOrgPerson, those with employeeType=disabled refused), groupOfNames in ou=groups, the
 * service account with `servicePassword` (give it a real secret first: a placeholder-looking password is
 * refused by the configuration).
 */
export function gatewayLdapConfig(slapd: Pick<Slapd, 'url'>, servicePassword: string): Record<string, unknown> {
  return {
    implementation: 'custom',
    address: slapd.url,
    base_dn: LDAP_SUFFIX,
    additional_users_dn: 'ou=people',
    users_filter: '(&(|({username_attribute}={input})({mail_attribute}={input}))(objectClass=inetOrgPerson)(!(employeeType=disabled)))',
    additional_groups_dn: 'ou=groups',
    groups_filter: '(&(member={dn})(objectClass=groupOfNames))',
    user: LDAP_SERVICE_DN,
    password: servicePassword,
  };
}

/**
 * A throwaway slapd (Debian's) on 127.0.0.1: plain LDAP with StartTLS on one free port, LDAPS on another,
 * loaded with tests/fixtures/ldap/users.ldif. Runs as the current user (root needs no -u/-g: the files
 * are its own). Ready when an anonymous search of the root DSE answers.
 */
export async function startSlapd(options: { ldif?: string } = {}): Promise<Slapd> {
  const slapd = requireBinary('slapd', 'slapd');
  const slapadd = requireBinary('slapadd', 'slapd');
  const temp = await makeTempDir('gatehouse-slapd-');
  const groupsFile = join(temp.dir, 'groups.ldif');
  let certificate: TestCertificate | undefined;
  try {
    certificate = await makeCertificate(['127.0.0.1', 'localhost']);
    const configDir = join(temp.dir, 'slapd.d');
    await mkdir(configDir);
    await mkdir(join(temp.dir, 'data'));
    const configFile = join(temp.dir, 'config.ldif');
    await writeFile(configFile, configLdif(temp.dir, certificate));
    await run(slapadd, ['-n0', '-F', configDir, '-l', configFile]);
    // slapadd runs no overlay: the groups are added once slapd runs, so memberof fills memberOf
    const { entries, groups } = splitGroups(await readFile(options.ldif ?? join(repoRoot, 'tests/fixtures/ldap/users.ldif'), 'utf8'));
    await writeFile(join(temp.dir, 'entries.ldif'), entries);
    await writeFile(groupsFile, groups);
    // -q: no consistency checks (fast)
    await run(slapadd, ['-q', '-F', configDir, '-b', LDAP_SUFFIX, '-l', join(temp.dir, 'entries.ldif')]);
  } catch (error) {
    await certificate?.cleanup();
    await temp.cleanup();
    throw error;
  }
  const cert = certificate;
  const port = await freePort();
  const ldapsPort = await freePort();
  const ldapiUrl = `ldapi://${encodeURIComponent(join(temp.dir, 'ldapi'))}`;
  const args = ['-d', '0', '-F', join(temp.dir, 'slapd.d'), '-h', `ldap://127.0.0.1:${port}/ ldaps://127.0.0.1:${ldapsPort}/ ${ldapiUrl}/`];
  let service: ServiceProcess | undefined;

  const start = async (): Promise<void> => {
    if (service !== undefined && !service.hasExited()) return;
    const started = startService('slapd', slapd, args, { cwd: temp.dir });
    service = started;
    await waitForRootDse(started, port, 10_000);
  };
  const stop = async (): Promise<void> => {
    await service?.stop();
  };
  try {
    await start();
    await run(requireBinary('ldapadd', 'ldap-utils'), ['-x', '-H', `ldap://127.0.0.1:${port}`, '-D', LDAP_ROOT_DN, '-w', LDAP_ROOT_PASSWORD, '-f', groupsFile]);
  } catch (error) {
    await stop();
    await cert.cleanup();
    await temp.cleanup();
    throw error;
  }
  return {
    url: `ldap://127.0.0.1:${port}`,
    ldapsUrl: `ldaps://127.0.0.1:${ldapsPort}`,
    ldapiUrl,
    port,
    ldapsPort,
    certPem: cert.certPem,
    stop,
    start,
    async restart() {
      await stop();
      await start();
    },
    async cleanup() {
      await stop();
      await cert.cleanup();
      await temp.cleanup();
    },
    output: () => service?.output() ?? '',
  };
}

/** The LDIF's groupOfNames entries apart from the rest (entries are separated by blank lines). */
function splitGroups(ldif: string): { entries: string; groups: string } {
  const blocks = ldif.split(/\n\s*\n/).map((block) => block.trim()).filter((block) => /^dn:/m.test(block));
  const isGroup = (block: string) => /^objectClass:\s*groupOfNames\s*$/im.test(block);
  const join = (list: string[]) => list.map((block) => `${block}\n`).join('\n');
  return { entries: join(blocks.filter((block) => !isGroup(block))), groups: join(blocks.filter(isGroup)) };
}

/** Bounded: an anonymous base search of the root DSE, retried until slapd answers or exits. */
async function waitForRootDse(service: ServiceProcess, port: number, timeoutMs: number): Promise<void> {
  const ldapsearch = requireBinary('ldapsearch', 'ldap-utils');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    service.assertRunning();
    try {
      await run(ldapsearch, ['-x', '-H', `ldap://127.0.0.1:${port}`, '-o', 'nettimeout=1', '-s', 'base', '-b', '', '(objectClass=*)', 'namingContexts'], { timeout: 2_000 });
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`slapd did not answer within ${timeoutMs} ms:\n${service.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
