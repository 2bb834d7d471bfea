// The hub's configuration surface (hub/config.ts): precedence flag > environment > file >
// default, every setting type, the checks across settings, the Temporal connection options
// it produces, and the real `flotilla-hub config` / `--help` as processes. Files are real
// (a temporary directory); docs/configuration.md is checked to name every setting.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ConfigError, describeConfig, loadHubConfig, SETTINGS, settingFlags, settingsTable, temporalConnectionOptions,
  type ConfigInputs, type HubConfig,
} from '../../hub/config.js';

const hubMain = fileURLToPath(new URL('../../hub/main.js', import.meta.url));
const docsFile = fileURLToPath(new URL('../../../docs/configuration.md', import.meta.url));

const root = mkdtempSync(join(tmpdir(), 'flotilla-hub-config-'));
after(() => { rmSync(root, { recursive: true, force: true }); });
let files = 0;

/** A file in the temporary directory; the content may be any bytes. */
function file(content: string | Buffer, name = `file-${++files}`, mode = 0o644): string {
  const path = join(root, name);
  writeFileSync(path, content, { mode });
  chmodSync(path, mode);
  return path;
}

/** A YAML config file with this text. */
function yaml(text: string): string {
  return file(text, `hub-${++files}.yaml`);
}

interface Inputs {
  readonly flags?: ConfigInputs['flags'];
  readonly env?: ConfigInputs['env'];
  /** YAML text of the config file. */
  readonly yaml?: string;
  /** The config file's path (instead of yaml). */
  readonly file?: string;
  /** Leave FLOTILLA_DATA_DIR out of the environment. */
  readonly noDataDir?: boolean;
}

function inputs(i: Inputs): ConfigInputs {
  return {
    flags: i.flags ?? {},
    env: { ...(i.noDataDir ? {} : { FLOTILLA_DATA_DIR: '/var/lib/flotilla' }), ...i.env },
    ...(i.yaml !== undefined ? { file: yaml(i.yaml) } : i.file !== undefined ? { file: i.file } : {}),
  };
}

function load(i: Inputs = {}): HubConfig {
  return loadHubConfig(inputs(i));
}

/** The message of the ConfigError loading these inputs throws. */
function refusal(i: Inputs): string {
  try {
    loadHubConfig(inputs(i));
  } catch (err) {
    assert.ok(err instanceof ConfigError, `a ConfigError, got ${String(err)}`);
    return err.message;
  }
  return assert.fail('the configuration was accepted');
}

function source(config: HubConfig, key: string): { value: unknown; source: string } | undefined {
  return config.sources.get(key);
}

describe('hub configuration: precedence', () => {
  it('flag beats environment beats file beats default, and sources says which won', () => {
    const text = 'grpc:\n  heartbeatSeconds: 20\n';
    const all = load({ flags: { heartbeat: '40' }, env: { FLOTILLA_HEARTBEAT_SECONDS: '30' }, yaml: text });
    assert.equal(all.grpc.heartbeatSeconds, 40);
    assert.deepEqual(source(all, 'grpc.heartbeatSeconds'), { value: 40, source: 'flag' });

    const envWins = load({ env: { FLOTILLA_HEARTBEAT_SECONDS: '30' }, yaml: text });
    assert.equal(envWins.grpc.heartbeatSeconds, 30);
    assert.deepEqual(source(envWins, 'grpc.heartbeatSeconds'), { value: 30, source: 'env' });

    const fileWins = load({ yaml: text });
    assert.equal(fileWins.grpc.heartbeatSeconds, 20);
    assert.deepEqual(source(fileWins, 'grpc.heartbeatSeconds'), { value: 20, source: 'file' });

    const byDefault = load();
    assert.equal(byDefault.grpc.heartbeatSeconds, 10);
    assert.deepEqual(source(byDefault, 'grpc.heartbeatSeconds'), { value: 10, source: 'default' });
  });

  it('each level counts for string settings too (temporal.namespace), and unset settings have no source', () => {
    const text = 'temporal:\n  namespace: from-file\n';
    assert.equal(load({ flags: { namespace: 'from-flag' }, env: { FLOTILLA_TEMPORAL_NAMESPACE: 'from-env' }, yaml: text }).temporal.namespace, 'from-flag');
    assert.equal(load({ env: { FLOTILLA_TEMPORAL_NAMESPACE: 'from-env' }, yaml: text }).temporal.namespace, 'from-env');
    assert.equal(load({ yaml: text }).temporal.namespace, 'from-file');
    assert.equal(load().temporal.namespace, 'default');
    assert.equal(source(load(), 'hubId'), undefined);
    assert.equal(load().hubId, undefined);
  });

  it('an empty value at one level is not given there: the next level decides', () => {
    // An empty environment variable, flag or file value (what a Helm chart renders for "unset").
    const text = 'temporal:\n  namespace: ""\n  uiUrl: ""\nlog:\n  level: ""\n';
    const c = load({ flags: { 'log-level': '' }, env: { LOG_LEVEL: '', FLOTILLA_TEMPORAL_NAMESPACE: '' }, yaml: text });
    assert.equal(c.temporal.namespace, 'default');
    assert.deepEqual(source(c, 'temporal.namespace'), { value: 'default', source: 'default' });
    assert.equal(c.log.level, 'info');
    assert.equal(c.temporal.uiUrl, undefined);
    const envUnderEmptyFlag = load({ flags: { 'log-level': '' }, env: { LOG_LEVEL: 'warn' } });
    assert.deepEqual(source(envUnderEmptyFlag, 'log.level'), { value: 'warn', source: 'env' });
  });

  it('the file may nest keys or spell them dotted; null values and empty sections are not set', () => {
    const c = load({ yaml: 'temporal.address: temporal.example.com:7233\ngrpc:\nhttp:\n  listen: null\n' });
    assert.equal(c.temporal.address, 'temporal.example.com:7233');
    assert.equal(c.http.listen, '127.0.0.1:7480');
    assert.equal(source(c, 'http.listen')?.source, 'default');
  });

  it('dataDir is required, and the error says where to set it', () => {
    assert.equal(refusal({ noDataDir: true }), 'dataDir is required: set it in the config file, the environment (FLOTILLA_DATA_DIR) or --data-dir');
    assert.equal(load({ noDataDir: true, yaml: 'dataDir: /srv/hub/\n' }).dataDir, '/srv/hub/');
    assert.equal(load({ noDataDir: true, yaml: 'dataDir: /srv/hub/\n' }).http.apiTokenFile, '/srv/hub/api-token', 'the token file defaults into dataDir');
    assert.equal(load({ noDataDir: true, flags: { 'data-dir': '/d' } }).dataDir, '/d');
  });
});

describe('hub configuration: setting types', () => {
  it('bool: true/false, yes/no, 1/0 as text; YAML booleans; anything else refused, naming the setting and the source', () => {
    for (const [text, want] of [['true', true], ['TRUE', true], ['yes', true], ['1', true], ['false', false], ['No', false], ['0', false]] as const) {
      assert.equal(source(load({ env: { FLOTILLA_TEMPORAL_TLS: text } }), 'temporal.tls.enabled')?.value, want, text);
    }
    assert.ok(load({ flags: { 'temporal-tls': true } }).temporal.tls, 'the flag turns TLS on');
    assert.ok(load({ yaml: 'temporal:\n  tls:\n    enabled: true\n' }).temporal.tls);
    assert.equal(load({ yaml: 'temporal:\n  tls:\n    enabled: false\n' }).temporal.tls, undefined);
    assert.equal(refusal({ env: { FLOTILLA_TEMPORAL_TLS: 'maybe' } }),
      'temporal.tls.enabled (environment FLOTILLA_TEMPORAL_TLS): want true or false, got "maybe"');
    const f = yaml('temporal:\n  tls:\n    enabled: 2\n');
    assert.equal(refusal({ file: f }), `temporal.tls.enabled (in ${f}): want true or false, got 2`);
  });

  it('int: whole numbers >= 1 from text or YAML; others refused', () => {
    assert.equal(load({ env: { FLOTILLA_HEARTBEAT_SECONDS: ' 15 ' } }).grpc.heartbeatSeconds, 15);
    assert.equal(load({ yaml: 'limits:\n  maxConcurrentActivities: "8"\n' }).limits.maxConcurrentActivities, 8);
    assert.equal(load({ flags: { 'max-concurrent-activities': '3' } }).limits.maxConcurrentActivities, 3);
    assert.equal(refusal({ env: { FLOTILLA_HEARTBEAT_SECONDS: 'abc' } }),
      'grpc.heartbeatSeconds (environment FLOTILLA_HEARTBEAT_SECONDS): want a whole number >= 1, got "abc"');
    assert.equal(refusal({ flags: { heartbeat: '-5' } }), 'grpc.heartbeatSeconds (flag --heartbeat): want a whole number >= 1, got "-5"');
    assert.equal(refusal({ flags: { heartbeat: '1.5' } }), 'grpc.heartbeatSeconds (flag --heartbeat): want a whole number >= 1, got "1.5"');
    const zero = yaml('limits:\n  maxConcurrentActivities: 0\n');
    assert.equal(refusal({ file: zero }), `limits.maxConcurrentActivities (in ${zero}): want a whole number >= 1, got 0`);
    assert.match(refusal({ yaml: 'grpc:\n  heartbeatSeconds: 2.5\n' }), /^grpc\.heartbeatSeconds \(in .*\): want a whole number >= 1, got 2\.5$/);
    assert.match(refusal({ yaml: 'grpc:\n  heartbeatSeconds: true\n' }), /^grpc\.heartbeatSeconds \(in .*\): want a whole number >= 1, got true$/);
  });

  it('list: comma separated text, repeated flags or a YAML list; anything but strings refused', () => {
    assert.deepEqual(load({ env: { FLOTILLA_GRPC_HOSTS: 'hub.example.com, 10.0.0.5,,hub' } }).grpc.hosts, ['hub.example.com', '10.0.0.5', 'hub']);
    assert.deepEqual(load({ flags: { host: ['a.example.com', 'b.example.com,c.example.com'] } }).grpc.hosts, ['a.example.com', 'b.example.com', 'c.example.com']);
    assert.deepEqual(load({ yaml: 'grpc:\n  hosts: [x.example.com, "y.example.com,z"]\n' }).grpc.hosts, ['x.example.com', 'y.example.com', 'z']);
    assert.deepEqual(load({ yaml: 'grpc:\n  hosts: one.example.com\n' }).grpc.hosts, ['one.example.com']);
    assert.deepEqual(load().grpc.hosts, []);
    assert.deepEqual(load({ flags: { host: [] }, env: { FLOTILLA_GRPC_HOSTS: 'e' } }).grpc.hosts, ['e'], 'no --host given: the environment decides');
    assert.match(refusal({ yaml: 'grpc:\n  hosts: [1, 2]\n' }), /^grpc\.hosts \(in .*\): want a list of strings, got \[1,2\]$/);
    assert.match(refusal({ yaml: 'grpc:\n  hosts: {a: b}\n' }), /^grpc\.hosts \(in .*\): want a list of strings, got \{"a":"b"\}$/);
  });

  it('address: host:port with a port 0-65535 (IPv6 in brackets); http.listen also takes off', () => {
    for (const good of ['0.0.0.0:7443', '[::]:7443', '[::1]:0', 'hub.example.com:65535', 'localhost:7443']) {
      assert.equal(load({ flags: { listen: good } }).grpc.listen, good);
    }
    assert.equal(load({ env: { FLOTILLA_TEMPORAL_ADDRESS: 'fleet.a1b2c.tmprl.cloud:7233' } }).temporal.address, 'fleet.a1b2c.tmprl.cloud:7233');
    assert.equal(load({ flags: { http: 'off' } }).http.listen, 'off');
    assert.equal(load({ yaml: 'http:\n  listen: "off"\n' }).http.listen, 'off');
    assert.equal(refusal({ flags: { listen: 'localhost' } }), 'grpc.listen (flag --listen): want host:port (port 0-65535), got "localhost"');
    assert.equal(refusal({ flags: { listen: '127.0.0.1:99999' } }), 'grpc.listen (flag --listen): want host:port (port 0-65535), got "127.0.0.1:99999"');
    assert.equal(refusal({ flags: { listen: 'off' } }), 'grpc.listen (flag --listen): want host:port (port 0-65535), got "off"');
    assert.equal(refusal({ env: { FLOTILLA_TEMPORAL_ADDRESS: 'https://temporal:7233' } }),
      'temporal.address (environment FLOTILLA_TEMPORAL_ADDRESS): want host:port (port 0-65535), got "https://temporal:7233"');
    assert.equal(refusal({ env: { FLOTILLA_HTTP_LISTEN: ':7480' } }), 'http.listen (environment FLOTILLA_HTTP_LISTEN): want host:port (port 0-65535) or off, got ":7480"');
  });

  it('file: an existing, readable regular file; a missing file or a directory refused', () => {
    const ca = file('any bytes');
    assert.equal(load({ env: { FLOTILLA_TEMPORAL_TLS_CA: ca } }).temporal.tls?.caFile, ca);
    const missing = join(root, 'no-such-file');
    assert.equal(refusal({ env: { FLOTILLA_TEMPORAL_TLS_CA: missing } }), `temporal.tls.caFile (environment FLOTILLA_TEMPORAL_TLS_CA): no file at ${missing}`);
    const dir = join(root, 'a-directory');
    mkdirSync(dir, { recursive: true });
    assert.equal(refusal({ flags: { 'temporal-tls-ca': dir } }), `temporal.tls.caFile (flag --temporal-tls-ca): ${dir} is not a file`);
    if (process.getuid?.() !== 0) { // root reads anything
      const unreadable = file('secret', 'unreadable', 0o000);
      assert.equal(refusal({ flags: { 'temporal-tls-ca': unreadable } }), `temporal.tls.caFile (flag --temporal-tls-ca): ${unreadable} is not readable by the hub`);
    }
  });

  it('tools: helm and kustomize must be executable files', () => {
    const helm = file('#!/bin/sh\n', 'helm', 0o755);
    const kustomize = file('#!/bin/sh\n', 'kustomize', 0o755);
    assert.deepEqual(load({ env: { FLOTILLA_HELM: helm }, flags: { kustomize } }).tools, { helm, kustomize });
    const plain = file('not a program', 'not-executable', 0o644);
    assert.equal(refusal({ env: { FLOTILLA_HELM: plain } }), `tools.helm (environment FLOTILLA_HELM): ${plain} is not executable`);
  });

  it('enum: store.type and log.level take one of their values', () => {
    assert.equal(load({ flags: { 'log-level': 'debug' } }).log.level, 'debug');
    assert.equal(load({ yaml: 'log:\n  level: warn\n' }).log.level, 'warn');
    assert.equal(refusal({ env: { FLOTILLA_STORE: 'gcs' } }), 'store.type (environment FLOTILLA_STORE): want one of filesystem, s3, got "gcs"');
    assert.equal(refusal({ env: { LOG_LEVEL: 'trace' } }), 'log.level (environment LOG_LEVEL): want one of debug, info, warn, error, got "trace"');
  });

  it('string: text or a number from YAML; other YAML values refused; checked formats', () => {
    assert.equal(load({ yaml: 'temporal:\n  namespace: 42\n' }).temporal.namespace, '42');
    assert.match(refusal({ yaml: 'temporal:\n  namespace: [a, b]\n' }), /^temporal\.namespace \(in .*\): want a string, got \["a","b"\]$/);
    assert.match(refusal({ yaml: 'hubId: true\n' }), /^hubId \(in .*\): want a string, got true$/);
    assert.equal(load({ env: { FLOTILLA_HUB_ID: 'hub-0' } }).hubId, 'hub-0');
    assert.equal(refusal({ env: { FLOTILLA_HUB_ID: 'hub 0' } }), 'hubId (environment FLOTILLA_HUB_ID): letters, digits, \'.\', \'_\' and \'-\', at most 63, got "hub 0"');
    assert.equal(refusal({ flags: { 'task-queue': 'my queue' } }), 'temporal.taskQueue (flag --task-queue): no spaces, got "my queue"');
    assert.equal(load({ flags: { 'temporal-ui': 'http://127.0.0.1:8233' } }).temporal.uiUrl, 'http://127.0.0.1:8233');
    assert.equal(refusal({ flags: { 'temporal-ui': 'temporal-ui:8080' } }), 'temporal.uiUrl (flag --temporal-ui): want an http(s) URL, got "temporal-ui:8080"');
  });
});

describe('hub configuration: the file', () => {
  it('an unknown key is refused, with the closest setting or section', () => {
    assert.match(refusal({ yaml: 'temporal:\n  adress: x:1\n' }), /: unknown setting temporal\.adress \(did you mean temporal\.address\?\)$/);
    assert.match(refusal({ yaml: 'grcp:\n  listen: 0.0.0.0:7443\n' }), /: unknown setting grcp \(did you mean grpc\?\)$/);
    assert.match(refusal({ yaml: 'temporal:\n  TLS:\n    enabled: true\n' }), /: unknown setting temporal\.TLS \(did you mean temporal\.tls\?\)$/);
    assert.match(refusal({ yaml: 'datadir: /d\n' }), /: unknown setting datadir \(did you mean dataDir\?\)$/);
    assert.match(refusal({ yaml: 'grpc:\n  heartbeatSecond: 5\n' }), /: unknown setting grpc\.heartbeatSecond \(did you mean grpc\.heartbeatSeconds\?\)$/);
    const f = yaml('kubernetes:\n  context: x\n');
    assert.equal(refusal({ file: f }), `config file ${f}: unknown setting kubernetes`);
  });

  it('a secret in the file is refused: it belongs in the environment', () => {
    const f = yaml('temporal:\n  apiKey: abc\n');
    assert.equal(refusal({ file: f }),
      `config file ${f}: temporal.apiKey is a secret: set it in the environment (FLOTILLA_TEMPORAL_API_KEY), not in the file`);
    assert.match(refusal({ yaml: 'store:\n  s3:\n    secretAccessKey: abc\n' }),
      /: store\.s3\.secretAccessKey is a secret: set it in the environment \(AWS_SECRET_ACCESS_KEY\), not in the file$/);
    assert.match(refusal({ yaml: 'store:\n  s3:\n    accessKeyId: AKIA\n' }), /store\.s3\.accessKeyId is a secret: set it in the environment \(AWS_ACCESS_KEY_ID\)/);
  });

  it('malformed YAML, a document that is not a mapping, and a missing file give clear errors', () => {
    const bad = yaml('temporal:\n  address: [unclosed\n');
    assert.match(refusal({ file: bad }), new RegExp(`^config file ${bad} is not valid YAML: `));
    const list = yaml('- dataDir: /d\n');
    assert.equal(refusal({ file: list }), `config file ${list}: the document must be a mapping`);
    assert.match(refusal({ yaml: 'just text\n' }), /: the document must be a mapping$/);
    assert.match(refusal({ yaml: 'temporal: 127.0.0.1:7233\n' }), /: temporal must be a mapping$/);
    assert.match(refusal({ yaml: 'temporal:\n  tls: true\n' }), /: temporal\.tls must be a mapping$/);
    assert.match(refusal({ yaml: 'a: 1\na: 2\n' }), /is not valid YAML: .*[Uu]nique/);
    const missing = join(root, 'absent.yaml');
    assert.match(refusal({ file: missing }), new RegExp(`^config file ${missing}: ENOENT.* \\(--config / FLOTILLA_CONFIG\\)$`));
  });

  it('an empty file or comments only is no setting at all', () => {
    assert.equal(load({ yaml: '' }).temporal.address, '127.0.0.1:7233');
    assert.equal(load({ yaml: '# nothing yet\n' }).store.type, 'filesystem');
  });
});

describe('hub configuration: the store', () => {
  const s3Env = { FLOTILLA_STORE: 's3', AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret-key-value' };

  it('filesystem is the default and needs nothing more', () => {
    assert.deepEqual(load().store, { type: 'filesystem' });
  });

  it('s3 needs an endpoint, a bucket and credentials, each named in turn', () => {
    const base = { FLOTILLA_STORE: 's3' };
    assert.equal(refusal({ env: base }),
      'store.s3.endpoint is required when store.type is s3: set it in the config file, the environment (FLOTILLA_S3_ENDPOINT) or --s3-endpoint');
    const withEndpoint = { ...base, FLOTILLA_S3_ENDPOINT: 'http://127.0.0.1:9000' };
    assert.equal(refusal({ env: withEndpoint }),
      'store.s3.bucket is required when store.type is s3: set it in the config file, the environment (FLOTILLA_S3_BUCKET) or --s3-bucket');
    const withBucket = { ...withEndpoint, FLOTILLA_S3_BUCKET: 'flotilla' };
    assert.equal(refusal({ env: withBucket }), 'store.s3.accessKeyId is required when store.type is s3: set it in the environment (AWS_ACCESS_KEY_ID)');
    assert.equal(refusal({ env: { ...withBucket, AWS_ACCESS_KEY_ID: 'AKIA' } }),
      'store.s3.secretAccessKey is required when store.type is s3: set it in the environment (AWS_SECRET_ACCESS_KEY)');
  });

  it('s3 from the file and the environment: endpoint without its trailing slash, default region, prefix, session token', () => {
    const c = load({
      yaml: 'store:\n  type: s3\n  s3:\n    endpoint: https://s3.eu-west-1.amazonaws.com/\n    bucket: fleet-state\n    prefix: fleet-a/\n',
      env: { AWS_ACCESS_KEY_ID: 'AKIA', AWS_SECRET_ACCESS_KEY: 'sk', AWS_SESSION_TOKEN: 'st' },
    });
    assert.deepEqual(c.store, {
      type: 's3',
      s3: { endpoint: 'https://s3.eu-west-1.amazonaws.com', bucket: 'fleet-state', region: 'us-east-1', prefix: 'fleet-a/', accessKeyId: 'AKIA', secretAccessKey: 'sk', sessionToken: 'st' },
    });
    const minio = load({ env: { ...s3Env, FLOTILLA_S3_ENDPOINT: 'http://minio:9000', FLOTILLA_S3_BUCKET: 'flotilla', FLOTILLA_S3_REGION: 'eu-central-1' } });
    assert.deepEqual(minio.store, {
      type: 's3', s3: { endpoint: 'http://minio:9000', bucket: 'flotilla', region: 'eu-central-1', prefix: '', accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'secret-key-value' },
    });
  });

  it('s3 values are checked: endpoint, bucket name, prefix', () => {
    const env = { ...s3Env, FLOTILLA_S3_BUCKET: 'flotilla' };
    assert.equal(refusal({ env: { ...env, FLOTILLA_S3_ENDPOINT: 'http://minio:9000/bucket' } }),
      'store.s3.endpoint (environment FLOTILLA_S3_ENDPOINT): want http(s)://host[:port], got "http://minio:9000/bucket"');
    assert.equal(refusal({ env: { ...env, FLOTILLA_S3_ENDPOINT: 'minio:9000' } }),
      'store.s3.endpoint (environment FLOTILLA_S3_ENDPOINT): want http(s)://host[:port], got "minio:9000"');
    assert.equal(refusal({ env: { ...env, FLOTILLA_S3_ENDPOINT: 'http://minio:9000', FLOTILLA_S3_BUCKET: 'Fleet_State' } }),
      'store.s3.bucket (environment FLOTILLA_S3_BUCKET): want a bucket name (3-63 of a-z 0-9 . -), got "Fleet_State"');
    assert.equal(refusal({ env: { ...env, FLOTILLA_S3_ENDPOINT: 'http://minio:9000' }, flags: { 's3-prefix': 'fleet-a' } }),
      'store.s3.prefix (flag --s3-prefix): must end with \'/\', got "fleet-a"');
  });

  it('s3 settings with store.type filesystem are refused; region and AWS_* in the environment are not', () => {
    assert.equal(refusal({ env: { FLOTILLA_S3_ENDPOINT: 'http://minio:9000' } }),
      'store.s3.endpoint (environment FLOTILLA_S3_ENDPOINT) is set but store.type is filesystem: set store.type to s3 (FLOTILLA_STORE=s3) or remove it');
    assert.match(refusal({ yaml: 'store:\n  s3:\n    bucket: flotilla\n' }), /^store\.s3\.bucket \(in .*\) is set but store\.type is filesystem/);
    assert.match(refusal({ flags: { 's3-prefix': 'a/' } }), /^store\.s3\.prefix \(flag --s3-prefix\) is set but store\.type is filesystem/);
    // What the Helm chart renders for a filesystem store.
    const chart = load({ yaml: 'store:\n  type: filesystem\n  s3:\n    endpoint: ""\n    bucket: ""\n    region: us-east-1\n    prefix: ""\n', env: { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y' } });
    assert.deepEqual(chart.store, { type: 'filesystem' });
  });
});

describe('hub configuration: TLS', () => {
  it('a certificate without its key is refused (and the other way round), for Temporal and for the gateway', () => {
    const cert = file('cert bytes');
    const key = file('key bytes');
    assert.equal(refusal({ env: { FLOTILLA_TEMPORAL_TLS_CERT: cert } }),
      'temporal.tls.certFile (environment FLOTILLA_TEMPORAL_TLS_CERT) is set but temporal.tls.keyFile is not: give both');
    assert.equal(refusal({ flags: { 'temporal-tls-key': key } }), 'temporal.tls.keyFile (flag --temporal-tls-key) is set but temporal.tls.certFile is not: give both');
    assert.equal(refusal({ flags: { 'tls-cert': cert } }), 'grpc.tlsCertFile (flag --tls-cert) is set but grpc.tlsKeyFile is not: give both');
    const f = yaml(`grpc:\n  tlsKeyFile: ${key}\n`);
    assert.equal(refusal({ file: f }), `grpc.tlsKeyFile (in ${f}) is set but grpc.tlsCertFile is not: give both`);
    assert.deepEqual(load({ env: { FLOTILLA_GRPC_TLS_CERT: cert, FLOTILLA_GRPC_TLS_KEY: key } }).grpc.tls, { certFile: cert, keyFile: key });
    assert.equal(load().grpc.tls, undefined, 'no certificate: the self-signed one');
  });

  it('temporal.tls.enabled=false is refused with anything that needs TLS', () => {
    const cert = file('cert');
    const key = file('key');
    assert.equal(refusal({ env: { FLOTILLA_TEMPORAL_TLS: 'false', FLOTILLA_TEMPORAL_API_KEY: 'k' } }),
      'temporal.tls.enabled (environment FLOTILLA_TEMPORAL_TLS) is false, but an API key (FLOTILLA_TEMPORAL_API_KEY) needs TLS: remove one of them');
    assert.match(refusal({ yaml: `temporal:\n  tls:\n    enabled: false\n    certFile: ${cert}\n    keyFile: ${key}\n` }),
      /^temporal\.tls\.enabled \(in .*\) is false, but a client certificate \(temporal\.tls\.certFile\/keyFile\) needs TLS: remove one of them$/);
    assert.match(refusal({ yaml: `temporal:\n  tls:\n    enabled: false\n    caFile: ${cert}\n` }), /is false, but a CA file \(temporal\.tls\.caFile\) needs TLS/);
    assert.match(refusal({ yaml: 'temporal:\n  tls:\n    enabled: false\n    serverName: temporal.internal\n' }), /is false, but a server name \(temporal\.tls\.serverName\) needs TLS/);
  });

  it('an API key, a client certificate, a CA or a server name imply TLS', () => {
    const ca = file('ca');
    const cert = file('cert');
    const key = file('key');
    const apiKey = load({ env: { FLOTILLA_TEMPORAL_API_KEY: 'cloud-key' } }).temporal;
    assert.deepEqual(apiKey.tls, {});
    assert.equal(apiKey.apiKey, 'cloud-key');
    assert.deepEqual(load({ env: { FLOTILLA_TEMPORAL_TLS_CERT: cert, FLOTILLA_TEMPORAL_TLS_KEY: key } }).temporal.tls, { certFile: cert, keyFile: key });
    assert.deepEqual(load({ flags: { 'temporal-tls-ca': ca } }).temporal.tls, { caFile: ca });
    assert.deepEqual(load({ flags: { 'temporal-tls-server-name': 'temporal.internal' } }).temporal.tls, { serverName: 'temporal.internal' });
    assert.equal(load().temporal.tls, undefined, 'plain gRPC by default');
    assert.equal(load().temporal.apiKey, undefined);
  });

  it('temporalConnectionOptions: mTLS with CA and server name, API key, plain', () => {
    const caBytes = Buffer.from([0, 1, 2, 0xfe, 0xff]);
    const certBytes = Buffer.from('-----BEGIN CERTIFICATE-----\nnot really\n');
    const keyBytes = Buffer.from([9, 8, 7]);
    const ca = file(caBytes);
    const cert = file(certBytes);
    const key = file(keyBytes);
    const mtls = load({
      yaml: `temporal:\n  address: temporal.example.com:7233\n  namespace: fleet\n  tls:\n    caFile: ${ca}\n    certFile: ${cert}\n    keyFile: ${key}\n    serverName: frontend.temporal.internal\n`,
    });
    assert.deepEqual(temporalConnectionOptions(mtls.temporal), {
      address: 'temporal.example.com:7233',
      tls: { serverNameOverride: 'frontend.temporal.internal', serverRootCACertificate: caBytes, clientCertPair: { crt: certBytes, key: keyBytes } },
    });
    const cloud = load({ env: { FLOTILLA_TEMPORAL_ADDRESS: 'fleet.a1b2c.tmprl.cloud:7233', FLOTILLA_TEMPORAL_NAMESPACE: 'fleet.a1b2c', FLOTILLA_TEMPORAL_API_KEY: 'eyJ-key' } });
    assert.equal(cloud.temporal.namespace, 'fleet.a1b2c');
    assert.deepEqual(temporalConnectionOptions(cloud.temporal), { address: 'fleet.a1b2c.tmprl.cloud:7233', tls: {}, apiKey: 'eyJ-key' });
    const cloudMtls = load({ env: { FLOTILLA_TEMPORAL_ADDRESS: 'fleet.a1b2c.tmprl.cloud:7233', FLOTILLA_TEMPORAL_TLS_CERT: cert, FLOTILLA_TEMPORAL_TLS_KEY: key } });
    assert.deepEqual(temporalConnectionOptions(cloudMtls.temporal), { address: 'fleet.a1b2c.tmprl.cloud:7233', tls: { clientCertPair: { crt: certBytes, key: keyBytes } } });
    assert.deepEqual(temporalConnectionOptions(load().temporal), { address: '127.0.0.1:7233' });
  });
});

describe('hub configuration: describing it', () => {
  it('describeConfig prints every setting with its value and source, secrets as (set)', () => {
    const c = load({
      flags: { 'log-level': 'debug' },
      env: {
        FLOTILLA_STORE: 's3', FLOTILLA_S3_ENDPOINT: 'http://minio:9000', FLOTILLA_S3_BUCKET: 'flotilla',
        AWS_ACCESS_KEY_ID: 'AKIA-VISIBLE-NOT', AWS_SECRET_ACCESS_KEY: 'very-secret-key', FLOTILLA_TEMPORAL_API_KEY: 'temporal-api-key-value',
      },
      yaml: 'temporal:\n  namespace: fleet\n',
    });
    const text = describeConfig(c);
    for (const secret of ['AKIA-VISIBLE-NOT', 'very-secret-key', 'temporal-api-key-value']) assert.ok(!text.includes(secret), `${secret} is not printed`);
    const lines = text.split('\n');
    assert.equal(lines.length, SETTINGS.length);
    const line = (key: string): string[] => (lines.find((l) => l.startsWith(`${key} `)) ?? '').trim().split(/\s+/);
    for (const s of SETTINGS) assert.ok(lines.some((l) => l.startsWith(`${s.key} `)), s.key);
    assert.deepEqual(line('temporal.apiKey'), ['temporal.apiKey', '(set)', 'env']);
    assert.deepEqual(line('store.s3.secretAccessKey'), ['store.s3.secretAccessKey', '(set)', 'env']);
    assert.deepEqual(line('store.s3.sessionToken'), ['store.s3.sessionToken', '-', 'unset']);
    assert.deepEqual(line('temporal.namespace'), ['temporal.namespace', 'fleet', 'file']);
    assert.deepEqual(line('log.level'), ['log.level', 'debug', 'flag']);
    assert.deepEqual(line('temporal.address'), ['temporal.address', '127.0.0.1:7233', 'default']);
  });

  it('settingFlags and settingsTable cover every setting; flags and environment variables are unique', () => {
    const flags = settingFlags();
    const table = settingsTable();
    for (const s of SETTINGS) {
      assert.ok(table.includes(s.key), s.key);
      if (s.env !== undefined) assert.ok(table.includes(s.env), s.env);
      if (s.flag !== undefined) {
        assert.deepEqual(flags[s.flag], s.type === 'bool' ? { type: 'boolean' } : s.type === 'list' ? { type: 'string', multiple: true } : { type: 'string' }, s.flag);
      }
      if (s.secret) assert.equal(s.flag, undefined, `${s.key}: a secret has no flag (it would show in ps)`);
    }
    const envs = SETTINGS.flatMap((s) => (s.env === undefined ? [] : [s.env]));
    const flagNames = SETTINGS.flatMap((s) => (s.flag === undefined ? [] : [s.flag]));
    assert.equal(new Set(envs).size, envs.length);
    assert.equal(new Set(flagNames).size, flagNames.length);
    assert.equal(new Set(SETTINGS.map((s) => s.key)).size, SETTINGS.length);
  });

  it('docs/configuration.md names every setting, its environment variable and its flag', () => {
    const docs = readFileSync(docsFile, 'utf8');
    for (const s of SETTINGS) {
      assert.ok(docs.includes(`\`${s.key}\``), `${s.key} in docs/configuration.md`);
      if (s.env !== undefined) assert.ok(docs.includes(`\`${s.env}\``), `${s.env} in docs/configuration.md`);
      if (s.flag !== undefined) assert.ok(docs.includes(`\`--${s.flag}\``), `--${s.flag} in docs/configuration.md`);
    }
  });

  it('the complete config file of docs/configuration.md has every non-secret key and is accepted', () => {
    const docs = readFileSync(docsFile, 'utf8');
    const example = /## The config file[\s\S]*?```yaml\n([\s\S]*?)```/.exec(docs)?.[1];
    assert.ok(example !== undefined, 'a yaml block in "The config file"');
    for (const s of SETTINGS.filter((x) => !x.secret)) {
      const leaf = s.key.split('.').at(-1) ?? '';
      assert.match(example, new RegExp(`^\\s*#?\\s*${leaf}:`, 'm'), `${s.key} in the example`);
    }
    // The files it names, as real executable files here (tools must be executable).
    let n = 0;
    const text = example.replace(/\/(etc\/flotilla|usr\/local\/bin)\/[\w./-]+/g, () => file('#!/bin/sh\n', `docs-example-${++n}`, 0o755));
    const c = load({ noDataDir: true, yaml: text, env: { AWS_ACCESS_KEY_ID: 'AKIA', AWS_SECRET_ACCESS_KEY: 'sk' } });
    assert.equal(c.store.type, 's3');
    assert.ok(c.temporal.tls?.certFile !== undefined && c.grpc.tls !== undefined);
    for (const s of SETTINGS.filter((x) => !x.secret && x.key !== 'hubId')) assert.equal(source(c, s.key)?.source, 'file', s.key);
  });
});

describe('flotilla-hub as a process', () => {
  /** This process's environment without any Flotilla, AWS or log setting. */
  function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!/^(FLOTILLA_|AWS_|LOG_LEVEL$)/.test(k)) env[k] = v;
    return { ...env, ...extra };
  }
  function hub(args: readonly string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, [hubMain, ...args], { env: cleanEnv(env), encoding: 'utf8', timeout: 30_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it('config --config <file> prints the effective values with their sources and exits 0', () => {
    const f = yaml('dataDir: /var/lib/flotilla\ntemporal:\n  namespace: fleet\n  taskQueue: fleet-hub\ngrpc:\n  hosts: [hub.example.com]\n');
    const r = hub(['config', '--config', f, '--log-level', 'warn'], { FLOTILLA_HEARTBEAT_SECONDS: '7', FLOTILLA_TEMPORAL_API_KEY: 'do-not-print-me' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^dataDir\s+\/var\/lib\/flotilla\s+file$/m);
    assert.match(r.stdout, /^temporal\.namespace\s+fleet\s+file$/m);
    assert.match(r.stdout, /^temporal\.taskQueue\s+fleet-hub\s+file$/m);
    assert.match(r.stdout, /^grpc\.hosts\s+hub\.example\.com\s+file$/m);
    assert.match(r.stdout, /^grpc\.heartbeatSeconds\s+7\s+env$/m);
    assert.match(r.stdout, /^log\.level\s+warn\s+flag$/m);
    assert.match(r.stdout, /^temporal\.address\s+127\.0\.0\.1:7233\s+default$/m);
    assert.match(r.stdout, /^temporal\.apiKey\s+\(set\)\s+env$/m);
    assert.ok(!r.stdout.includes('do-not-print-me'));
    const viaEnv = hub(['config'], { FLOTILLA_CONFIG: f });
    assert.equal(viaEnv.status, 0, viaEnv.stderr);
    assert.match(viaEnv.stdout, /^temporal\.namespace\s+fleet\s+file$/m, 'FLOTILLA_CONFIG names the file too');
  });

  it('a bad setting exits 2 with flotilla-hub: configuration: …', () => {
    const r = hub(['config', '--data-dir', '/tmp/hub'], { FLOTILLA_HEARTBEAT_SECONDS: 'abc' });
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^flotilla-hub: configuration: grpc\.heartbeatSeconds \(environment FLOTILLA_HEARTBEAT_SECONDS\): want a whole number >= 1, got "abc"\n/);
    const f = yaml('dataDir: /tmp/hub\ntemporal:\n  apiKey: oops\n');
    const secret = hub(['serve', '--config', f]);
    assert.equal(secret.status, 2, 'serve checks before it starts anything');
    assert.match(secret.stderr, /^flotilla-hub: configuration: config file .*: temporal\.apiKey is a secret/);
  });

  it('--help lists every setting key and environment variable', () => {
    const r = hub(['--help']);
    assert.equal(r.status, 0, r.stderr);
    for (const s of SETTINGS) {
      assert.ok(r.stdout.includes(s.key), `${s.key} in --help`);
      if (s.env !== undefined) assert.ok(r.stdout.includes(s.env), `${s.env} in --help`);
      if (s.flag !== undefined) assert.ok(r.stdout.includes(`--${s.flag}`), `--${s.flag} in --help`);
    }
  });
});
