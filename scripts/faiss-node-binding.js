// Compiles faiss-node against a given faiss static library, the one way ddb-faiss builds it:
// `npm ci` here (scripts/postinstall.js) and the Lambda image (infra/lambda-image/Dockerfile).
// It replaces faiss-node's binding.gyp: node-addon-api 8 with C++ exceptions (faiss errors
// become JS exceptions instead of aborting the process; faiss-node's own node-addon-api 6
// aborts on some of them), -O3 and OpenMP, the AVX2 flags when the library is the AVX2 build.
// And changes to faiss-node's source (SOURCE_PATCH): `add` and `train` also take a
// Float32Array, read in place, where faiss-node copies a number[] value by value through N-API
// (about 0.35 µs a value: 2 minutes to add a million vectors of 356 dimensions); and
// `searchEach(indexes, query, ks)` searches several indexes for one query at once, one OpenMP
// thread an index, where faiss searches one query on one thread (an index's segments are
// searched side by side on every core); `readEach(paths)`, index files read side by side the
// same way (a 10M index is a gigabyte of codes to read), each file's CRC-32 computed as faiss
// reads it (zlib's, the one Node exports: checking a file's checksum then costs no second read);
// and `setNprobe` on an IVF index (faiss-node sets none).
//
//   node scripts/faiss-node-binding.js /path/to/libfaiss_avx2.a   # from the folder holding node_modules
import { existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Builds node_modules/faiss-node (resolved from `root`) against `faissLib`, unless the same
 * build is already there. Returns whether it compiled; throws with the compiler's output when
 * the build fails.
 * @param {{ root: string, faissLib: string, log?: (message: string) => void }} options
 */
export function buildFaissNode({ root, faissLib, log = () => {} }) {
  const require = createRequire(path.join(root, 'package.json'));
  const faissDir = path.dirname(require.resolve('faiss-node/package.json'));
  const addonApiDir = path.dirname(require.resolve('node-addon-api/package.json'));
  const addonApiVersion = JSON.parse(readFileSync(path.join(addonApiDir, 'package.json'), 'utf8')).version;
  const avx2 = path.basename(faissLib).includes('avx2');
  const simdFlags = avx2 ? ['-mavx2', '-mfma', '-mf16c', '-mpopcnt'] : [];

  const addon = path.join(faissDir, 'build/Release/faiss-node.node');
  const stampFile = path.join(faissDir, 'build/ddb-faiss-build.json');
  const stamp = JSON.stringify({
    node: process.versions.modules,
    addonApiVersion,
    faissLib,
    patch: SOURCE_PATCH.version,
  });
  if (existsSync(addon) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return false;

  // faiss 1.7.3 spells the label type faiss::Index::idx_t; faiss-node's source uses
  // faiss::idx_t (1.7.4+). A header forced in with -include adds the alias.
  const compatHeader = path.join(faissDir, 'faiss-idx-compat.h');
  writeFileSync(
    compatHeader,
    [
      '#pragma once',
      '#include <faiss/Index.h>',
      '#include <faiss/MetricType.h>',
      'namespace faiss { using idx_t = faiss::Index::idx_t; }',
      '',
    ].join('\n'),
  );
  // The library's own headers, which scripts/build-faiss.sh keeps beside it (include/faiss/),
  // else the system's (Debian's libfaiss-dev: the same 1.7.3 source).
  const libHeaders = path.join(path.dirname(faissLib), 'include');
  const includeDirs = [addonApiDir, ...(existsSync(path.join(libHeaders, 'faiss/Index.h')) ? [libHeaders] : [])];
  const bindingGyp = {
    targets: [
      {
        target_name: 'faiss-node',
        sources: ['src/faiss-ddb.cc'],
        include_dirs: includeDirs,
        defines: ['NAPI_VERSION=8', 'NODE_ADDON_API_CPP_EXCEPTIONS', 'NODE_ADDON_API_CPP_EXCEPTIONS_ALL'],
        'cflags!': ['-fno-exceptions'],
        'cflags_cc!': ['-fno-exceptions', '-fno-rtti', '-std=gnu++17'],
        cflags_cc: ['-std=c++17', '-fexceptions', '-frtti', '-O3', '-fopenmp', ...simdFlags, '-include', compatHeader],
        libraries: [faissLib, '-lopenblas', '-llapack', '-lblas', '-fopenmp'],
      },
    ],
  };
  writeFileSync(path.join(faissDir, 'binding.gyp'), JSON.stringify(bindingGyp, null, 2));
  writeFileSync(
    path.join(faissDir, 'src/faiss-ddb.cc'),
    withSourcePatch(readFileSync(path.join(faissDir, 'src/faiss.cc'), 'utf8')),
  );

  const nodeGyp = npmNodeGyp();
  const command = nodeGyp ? [process.execPath, nodeGyp] : ['npx', '--no-install', 'node-gyp'];
  // The headers of the Node that runs this (Node's own tarball ships them in include/node,
  // Debian's nodejs in /usr/include/node); without --nodedir node-gyp would download them.
  // faiss-node is a Node-API addon, so the build also loads on later Node majors.
  const nodedir = [path.resolve(path.dirname(process.execPath), '..'), '/usr']
    .filter((dir) => existsSync(path.join(dir, 'include/node/node_api.h')))
    .slice(0, 1)
    .map((dir) => `--nodedir=${dir}`);
  log(`building faiss-node against ${faissLib} (node-addon-api ${addonApiVersion})`);
  const build = spawnSync(command[0], [...command.slice(1), 'rebuild', ...nodedir, '--jobs=max'], {
    cwd: faissDir,
    encoding: 'utf8',
  });
  // Only a failed build shows the compiler's output: faiss-node's source has warnings.
  if (build.status !== 0) throw new Error(`building faiss-node failed:\n${build.stdout}${build.stderr}`);
  writeFileSync(stampFile, stamp);
  return true;
}

/** The changes to faiss-node's source: Float32Array `add` and `train`, `searchEach`, `readEach`, `setNprobe`. */
const SOURCE_PATCH = {
  version: 6,
  /** A Float32Array argument handed to faiss in place, for `add` (faiss's add) or `train`. */
  float32Branch: (call) => `    if (info.Length() == 1 && info[0].IsTypedArray() &&
        info[0].As<Napi::TypedArray>().TypedArrayType() == napi_float32_array)
    {
      Napi::Float32Array typed = info[0].As<Napi::Float32Array>();
      size_t length = typed.ElementLength();
      if (length % index_->d != 0)
        throw Napi::Error::New(env, "Invalid the given array length.");
      index_->${call}(length / index_->d, typed.Data());
      return env.Undefined();
    }
`,
  /**
   * What every index class gets: its faiss index, `setNprobe` (registered on `Index`, the class
   * IVF indexes are read as), whether a JS value is one of its instances, and adopting an index
   * read outside it.
   */
  indexAccess: `public:
  faiss::Index *ddbIndex() const { return index_.get(); }

  Napi::Value setNprobe(const Napi::CallbackInfo &info)
  {
    Napi::Env env = info.Env();
    faiss::IndexIVF *ivf = dynamic_cast<faiss::IndexIVF *>(index_.get());
    if (!ivf) throw Napi::TypeError::New(env, "setNprobe: not an IVF index.");
    if (info.Length() != 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "setNprobe(nprobe: number)");
    const int64_t nprobe = info[0].As<Napi::Number>().Int64Value();
    if (nprobe < 1 || static_cast<size_t>(nprobe) > ivf->nlist)
      throw Napi::Error::New(env, "setNprobe: " + std::to_string(nprobe) + " is not within 1.." +
                                      std::to_string(ivf->nlist) + ".");
    ivf->nprobe = static_cast<size_t>(nprobe);
    return env.Undefined();
  }
  static bool ddbHolds(const Napi::Object &object) { return object.InstanceOf(constructor->Value()); }

  /** A new JS instance holding a faiss index read elsewhere (it owns it from then on). */
  static Napi::Object ddbAdopt(faiss::Index *index)
  {
    Napi::Object instance = T::constructor->New({});
    Napi::ObjectWrap<T>::Unwrap(instance)->index_ = std::unique_ptr<faiss::Index>(index);
    return instance;
  }

`,
  /**
   * searchEach(indexes, query, ks): each index searched for the one query; readEach(paths): each
   * file read, with its CRC-32 and size; the indexes or files side by side.
   */
  eachFunctions: `
/** A file faiss reads through, its CRC-32 (zlib's) and size counted over every byte read. */
struct DdbChecksummedReader : faiss::IOReader
{
  FILE *file;
  uLong crc = crc32(0L, Z_NULL, 0);
  size_t bytes = 0;

  explicit DdbChecksummedReader(const std::string &path) : file(fopen(path.c_str(), "rb"))
  {
    name = path;
    if (!file) throw std::runtime_error("cannot open " + path + ": " + strerror(errno));
  }
  ~DdbChecksummedReader() override { fclose(file); }
  DdbChecksummedReader(const DdbChecksummedReader &) = delete;
  DdbChecksummedReader &operator=(const DdbChecksummedReader &) = delete;

  size_t operator()(void *ptr, size_t size, size_t nitems) override
  {
    const size_t read = fread(ptr, size, nitems, file);
    count(static_cast<const Bytef *>(ptr), read * size);
    return read;
  }

  /** Reads what faiss left unread, so that the checksum and size cover the whole file. */
  void finish()
  {
    std::vector<Bytef> rest(1 << 16);
    for (size_t read; (read = fread(rest.data(), 1, rest.size(), file)) > 0;) count(rest.data(), read);
  }

private:
  void count(const Bytef *data, size_t length)
  {
    // zlib takes at most 4 GB a call.
    for (size_t done = 0; done < length;)
    {
      const uInt part = static_cast<uInt>(std::min<size_t>(length - done, 1u << 30));
      crc = crc32(crc, data + done, part);
      done += part;
    }
    bytes += length;
  }
};

static faiss::Index *ddbIndexOf(const Napi::Env &env, const Napi::Value &value)
{
  if (value.IsObject())
  {
    Napi::Object object = value.As<Napi::Object>();
    if (Index::ddbHolds(object)) return Napi::ObjectWrap<Index>::Unwrap(object)->ddbIndex();
    if (IndexFlatIP::ddbHolds(object)) return Napi::ObjectWrap<IndexFlatIP>::Unwrap(object)->ddbIndex();
    if (IndexFlatL2::ddbHolds(object)) return Napi::ObjectWrap<IndexFlatL2>::Unwrap(object)->ddbIndex();
  }
  throw Napi::TypeError::New(env, "searchEach: every index must be a faiss-node Index, IndexFlatIP or IndexFlatL2.");
}

static Napi::Value readEach(const Napi::CallbackInfo &info)
{
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "readEach(paths: string[])");
  Napi::Array paths = info[0].As<Napi::Array>();
  const size_t n = paths.Length();
  std::vector<std::string> names(n);
  for (size_t i = 0; i < n; i++)
  {
    Napi::Value name = paths.Get(i);
    if (!name.IsString()) throw Napi::TypeError::New(env, "readEach: each path must be a string.");
    names[i] = name.As<Napi::String>().Utf8Value();
  }
  std::vector<faiss::Index *> read(n, nullptr);
  std::vector<std::string> errors(n);
  std::vector<uLong> crcs(n);
  std::vector<size_t> sizes(n);
#pragma omp parallel for schedule(dynamic, 1)
  for (size_t i = 0; i < n; i++)
  {
    try
    {
      DdbChecksummedReader reader(names[i]);
      read[i] = faiss::read_index(&reader);
      reader.finish();
      crcs[i] = reader.crc;
      sizes[i] = reader.bytes;
    }
    catch (const std::exception &ex)
    {
      errors[i] = ex.what();
    }
  }
  Napi::Array results = Napi::Array::New(env, n);
  for (size_t i = 0; i < n; i++)
  {
    if (!errors[i].empty())
    {
      for (faiss::Index *index : read) delete index;
      throw Napi::Error::New(env, names[i] + ": " + errors[i]);
    }
  }
  for (size_t i = 0; i < n; i++)
  {
    Napi::Object result = Napi::Object::New(env);
    result.Set("index", Index::ddbAdopt(read[i]));
    read[i] = nullptr;
    result.Set("crc32", Napi::Number::New(env, static_cast<double>(crcs[i])));
    result.Set("bytes", Napi::Number::New(env, static_cast<double>(sizes[i])));
    results.Set(i, result);
  }
  return results;
}

static Napi::Value searchEach(const Napi::CallbackInfo &info)
{
  Napi::Env env = info.Env();
  if (info.Length() != 3 || !info[0].IsArray() || !info[1].IsTypedArray() || !info[2].IsArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(env, "searchEach(indexes: Index[], query: Float32Array, ks: number[])");
  Napi::Array indexes = info[0].As<Napi::Array>();
  Napi::Float32Array query = info[1].As<Napi::Float32Array>();
  Napi::Array ks = info[2].As<Napi::Array>();
  const size_t n = indexes.Length();
  if (ks.Length() != n) throw Napi::Error::New(env, "searchEach: one k per index.");
  std::vector<faiss::Index *> targets(n);
  std::vector<idx_t> kOf(n);
  for (size_t i = 0; i < n; i++)
  {
    targets[i] = ddbIndexOf(env, indexes.Get(i));
    if (query.ElementLength() != static_cast<size_t>(targets[i]->d))
      throw Napi::Error::New(env, "searchEach: the query has " + std::to_string(query.ElementLength()) +
                                      " dimensions, index " + std::to_string(i) + " " +
                                      std::to_string(targets[i]->d) + ".");
    Napi::Value k = ks.Get(i);
    if (!k.IsNumber()) throw Napi::TypeError::New(env, "searchEach: each k must be a number.");
    kOf[i] = k.As<Napi::Number>().Int64Value();
    if (kOf[i] < 1 || kOf[i] > targets[i]->ntotal)
      throw Napi::Error::New(env, "searchEach: k " + std::to_string(kOf[i]) + " of index " + std::to_string(i) +
                                      " is not within 1.." + std::to_string(targets[i]->ntotal) + ".");
  }
  std::vector<std::vector<float>> distances(n);
  std::vector<std::vector<idx_t>> labels(n);
  std::vector<std::string> errors(n);
  const float *x = query.Data();
#pragma omp parallel for schedule(dynamic, 1)
  for (size_t i = 0; i < n; i++)
  {
    try
    {
      distances[i].resize(kOf[i]);
      labels[i].resize(kOf[i]);
      targets[i]->search(1, x, kOf[i], distances[i].data(), labels[i].data());
    }
    catch (const std::exception &ex)
    {
      errors[i] = ex.what();
    }
  }
  Napi::Array results = Napi::Array::New(env, n);
  for (size_t i = 0; i < n; i++)
  {
    if (!errors[i].empty()) throw Napi::Error::New(env, errors[i]);
    Napi::Float32Array d = Napi::Float32Array::New(env, kOf[i]);
    Napi::Float64Array l = Napi::Float64Array::New(env, kOf[i]);
    for (idx_t j = 0; j < kOf[i]; j++)
    {
      d[j] = distances[i][j];
      l[j] = static_cast<double>(labels[i][j]);
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("distances", d);
    result.Set("labels", l);
    results.Set(i, result);
  }
  return results;
}

`,
};

/**
 * faiss-node's source with {@link SOURCE_PATCH}. Throws when the source is not the one the
 * patch was written for.
 * @param {string} source
 */
export function withSourcePatch(source) {
  let patched = source;
  const replaceOnce = (head, replacement, what) => {
    if (patched.split(head).length !== 2) throw new Error(`faiss-node's source has no single ${what} to patch`);
    patched = patched.replace(head, replacement);
  };
  for (const call of ['add', 'train']) {
    const head = `  Napi::Value ${call}(const Napi::CallbackInfo &info)\n  {\n    Napi::Env env = info.Env();\n\n`;
    replaceOnce(head, `${head}${SOURCE_PATCH.float32Branch(call)}`, `${call}()`);
  }
  const members = 'protected:\n  std::unique_ptr<faiss::Index> index_;';
  replaceOnce(members, `${SOURCE_PATCH.indexAccess}${members}`, 'index_ member');
  const search = '      InstanceMethod("search", &Index::search),\n';
  replaceOnce(search, `${search}      InstanceMethod("setNprobe", &Index::setNprobe),\n`, 'Index search method');
  const include = '#include <faiss/IndexFlat.h>\n';
  replaceOnce(
    include,
    `${include}#include <faiss/IndexIVF.h>\n#include <faiss/impl/io.h>\n#include <zlib.h>\n#include <cerrno>\n` +
      `#include <cstdio>\n#include <cstring>\n`,
    'IndexFlat include',
  );
  const init = 'Napi::Object Init(Napi::Env env, Napi::Object exports)\n{\n';
  replaceOnce(
    init,
    `${SOURCE_PATCH.eachFunctions}${init}  exports.Set("searchEach", Napi::Function::New(env, searchEach));\n` +
      `  exports.Set("readEach", Napi::Function::New(env, readEach));\n`,
    'Init()',
  );
  return patched;
}

/**
 * npm's own node-gyp: npm names it to the scripts it runs; otherwise it is in the npm beside
 * this Node (Node's tarball, the Lambda base image) or in the npm on PATH (Debian's).
 */
function npmNodeGyp() {
  const inNpm = (npmDir) => path.join(npmDir, 'node_modules/node-gyp/bin/node-gyp.js');
  const candidates = [
    process.env.npm_config_node_gyp,
    inNpm(path.join(path.dirname(process.execPath), '../lib/node_modules/npm')),
  ];
  const npmOnPath = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim();
  if (npmOnPath) candidates.push(inNpm(path.resolve(path.dirname(realpathSync(npmOnPath)), '..')));
  return candidates.find((candidate) => candidate && existsSync(candidate));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const faissLib = process.argv[2];
  if (!faissLib) {
    console.error('usage: node scripts/faiss-node-binding.js <libfaiss.a>');
    process.exit(2);
  }
  const started = Date.now();
  buildFaissNode({ root: process.cwd(), faissLib, log: (message) => console.log(`ddb-faiss: ${message}`) });
  console.log(`ddb-faiss: faiss-node ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
