import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, mkdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A certificate and its key as files (PEM), with what tests compare. */
export interface IssuedCertificate {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: string;
  readonly key: string;
  /** Upper-case hex, as node's X509Certificate and getPeerCertificate() give it. */
  readonly serialNumber: string;
  /** "AB:CD:…", as X509Certificate.fingerprint256. */
  readonly fingerprint256: string;
}

export interface CertificateAuthority {
  readonly name: string;
  /** The CA certificate: the bundle a client or server trusts. */
  readonly certFile: string;
  readonly cert: string;
}

export interface IssueOptions {
  /** Subject common name. */
  cn: string;
  /** subjectAltName entries, e.g. ["IP:127.0.0.1", "DNS:localhost", "URI:spiffe://ml/sa/trainer"]. */
  sans?: readonly string[];
  /** serverAuth (default for servers) or clientAuth extended key usage. */
  usage: 'server' | 'client';
  /** Which CA signs it: the main one (default) or the other one no one trusts. */
  ca?: 'main' | 'other';
  /** Valid for a day that ended a year ago. */
  expired?: boolean;
  /** File name stem in the folder; default the CN with odd characters replaced. */
  name?: string;
}

/** Test PKI in a temporary folder: two CAs and the certificates tests ask for. */
export interface TestCertificates {
  readonly dir: string;
  /** The CA servers and clients of a test trust. */
  readonly ca: CertificateAuthority;
  /** A second CA, trusted by no one: its certificates must be refused. */
  readonly otherCa: CertificateAuthority;
  /** A server certificate from `ca` for 127.0.0.1, ::1 and localhost (CN localhost). */
  readonly server: IssuedCertificate;
  issue(options: IssueOptions): Promise<IssuedCertificate>;
  /** A client certificate from `ca` (or `otherCa`) with this CN. */
  client(cn: string, options?: Omit<IssueOptions, 'cn' | 'usage'>): Promise<IssuedCertificate>;
  /** Deletes the folder. */
  remove(): Promise<void>;
}

const LOOPBACK_SANS = ['IP:127.0.0.1', 'IP:::1', 'DNS:localhost'] as const;

/**
 * Generates a CA, a second CA and a loopback server certificate with the machine's
 * openssl (EC P-256 keys: fast to make, and every gRPC stack takes them) into a new
 * temporary folder (or `dir`). `openssl ca` signs, since only it takes a start date in
 * the past for an expired certificate (OpenSSL 3.0's x509 has no -not_before).
 */
export async function createTestCertificates(options: { dir?: string } = {}): Promise<TestCertificates> {
  const dir = options.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'larder-certs-')));
  await mkdir(dir, { recursive: true });
  const main = await createAuthority(dir, 'ca');
  const other = await createAuthority(dir, 'other-ca');
  const used = new Set<string>();
  const issue = async (opts: IssueOptions): Promise<IssuedCertificate> => {
    let stem = opts.name ?? opts.cn.replace(/[^A-Za-z0-9._-]/g, '_');
    for (let i = 2; used.has(stem); i++) stem = `${opts.name ?? opts.cn.replace(/[^A-Za-z0-9._-]/g, '_')}-${i}`;
    used.add(stem);
    return issueCertificate(opts.ca === 'other' ? other : main, dir, stem, opts);
  };
  const server = await issue({ cn: 'localhost', sans: LOOPBACK_SANS, usage: 'server', name: 'server' });
  return {
    dir,
    ca: { name: main.name, certFile: main.certFile, cert: main.cert },
    otherCa: { name: other.name, certFile: other.certFile, cert: other.cert },
    server,
    issue,
    client: (cn, more = {}) => issue({ ...more, cn, usage: 'client' }),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

interface Authority {
  name: string;
  dir: string;
  certFile: string;
  keyFile: string;
  configFile: string;
  cert: string;
}

async function openssl(args: readonly string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim() || (error as Error).message}`, { cause: error });
  }
}

async function newKey(file: string, cwd: string): Promise<void> {
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file], cwd);
}

async function createAuthority(root: string, name: string): Promise<Authority> {
  const dir = path.join(root, name);
  await mkdir(path.join(dir, 'issued'), { recursive: true });
  await writeFile(path.join(dir, 'index.txt'), '');
  // Random serials, so a rotated certificate never shares one with the one it replaces.
  await writeFile(path.join(dir, 'serial'), `${randomSerial()}\n`);
  const configFile = path.join(dir, 'openssl.cnf');
  await writeFile(
    configFile,
    [
      '[ ca ]',
      'default_ca = this_ca',
      '[ this_ca ]',
      `dir = ${dir}`,
      'database = $dir/index.txt',
      'serial = $dir/serial',
      'new_certs_dir = $dir/issued',
      'certificate = $dir/ca.crt',
      'private_key = $dir/ca.key',
      'default_md = sha256',
      'policy = any_name',
      'unique_subject = no',
      'copy_extensions = none',
      'email_in_dn = no',
      '[ any_name ]',
      'commonName = supplied',
      '[ req ]',
      'distinguished_name = dn',
      'prompt = no',
      '[ dn ]',
      `CN = Larder test ${name}`,
      '[ ca_ext ]',
      'basicConstraints = critical, CA:true',
      'keyUsage = critical, keyCertSign, cRLSign',
      'subjectKeyIdentifier = hash',
      '',
    ].join('\n'),
  );
  const keyFile = path.join(dir, 'ca.key');
  const certFile = path.join(dir, 'ca.crt');
  await newKey(keyFile, dir);
  await openssl(['req', '-x509', '-new', '-key', keyFile, '-config', configFile, '-extensions', 'ca_ext', '-days', '3650', '-out', certFile], dir);
  return { name, dir, certFile, keyFile, configFile, cert: await readFile(certFile, 'utf8') };
}

function randomSerial(): string {
  // 16 hex digits with the top bit clear: a positive serial.
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  bytes[0] = (bytes[0]! & 0x7f) | 0x10;
  return Buffer.from(bytes).toString('hex').toUpperCase();
}

/** openssl ca's time format, YYYYMMDDHHMMSSZ in UTC. */
function opensslTime(date: Date): string {
  return `${date.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

async function issueCertificate(ca: Authority, root: string, stem: string, options: IssueOptions): Promise<IssuedCertificate> {
  const keyFile = path.join(root, `${stem}.key`);
  const csrFile = path.join(root, `${stem}.csr`);
  const certFile = path.join(root, `${stem}.crt`);
  const extFile = path.join(root, `${stem}.ext`);
  await newKey(keyFile, root);
  await openssl(['req', '-new', '-key', keyFile, '-subj', `/CN=${options.cn.replace(/[/\\]/g, '\\$&')}`, '-out', csrFile], root);
  const sans = options.sans ?? [];
  await writeFile(
    extFile,
    [
      'basicConstraints = critical, CA:false',
      'keyUsage = critical, digitalSignature',
      `extendedKeyUsage = ${options.usage === 'server' ? 'serverAuth' : 'clientAuth'}`,
      ...(sans.length > 0 ? [`subjectAltName = ${sans.join(', ')}`] : []),
      '',
    ].join('\n'),
  );
  await writeFile(path.join(ca.dir, 'serial'), `${randomSerial()}\n`);
  const now = Date.now();
  const day = 24 * 3600 * 1000;
  const [start, end] = options.expired ? [new Date(now - 366 * day), new Date(now - 365 * day)] : [new Date(now - 3600 * 1000), new Date(now + 30 * day)];
  await openssl(
    [
      'ca',
      '-batch',
      '-config',
      ca.configFile,
      '-in',
      csrFile,
      '-out',
      certFile,
      '-notext',
      '-extfile',
      extFile,
      '-startdate',
      opensslTime(start),
      '-enddate',
      opensslTime(end),
    ],
    root,
  );
  const cert = await readFile(certFile, 'utf8');
  const x509 = new X509Certificate(cert);
  return { certFile, keyFile, cert, key: await readFile(keyFile, 'utf8'), serialNumber: x509.serialNumber, fingerprint256: x509.fingerprint256 };
}

/**
 * A folder laid out as the kubelet mounts a Secret or projected volume: each file is a
 * symlink `name -> ..data/name`, `..data` a symlink to a timestamped folder holding the
 * contents. update() writes a new timestamped folder and renames a new `..data` symlink
 * over the old one, as the kubelet does when the secret (or a service-account token)
 * changes: the files' own inodes never change, so only reading them again shows it.
 */
export class SecretVolume {
  private generation = 0;

  private constructor(readonly dir: string) {}

  static async create(dir: string, files: Readonly<Record<string, string>>): Promise<SecretVolume> {
    await mkdir(dir, { recursive: true });
    const volume = new SecretVolume(dir);
    await volume.update(files);
    for (const name of Object.keys(files)) await symlink(path.join('..data', name), path.join(dir, name));
    return volume;
  }

  /** The path a pod reads, e.g. `<dir>/tls.crt`. */
  path(name: string): string {
    return path.join(this.dir, name);
  }

  /** Swaps in new contents at once (every file together). */
  async update(files: Readonly<Record<string, string>>): Promise<void> {
    const stamp = `..${new Date().toISOString().replace(/[-:T.Z]/g, '_')}${++this.generation}`;
    const next = path.join(this.dir, stamp);
    await mkdir(next);
    for (const [name, text] of Object.entries(files)) await writeFile(path.join(next, name), text);
    const tmp = path.join(this.dir, '..data_tmp');
    await rm(tmp, { force: true });
    await symlink(stamp, tmp);
    let old: string | undefined;
    try {
      old = await readlink(path.join(this.dir, '..data'));
    } catch {
      old = undefined;
    }
    await rename(tmp, path.join(this.dir, '..data'));
    if (old !== undefined) await rm(path.join(this.dir, old), { recursive: true, force: true });
  }
}
